"""What README.md's sections from "Speed" to "Development" promise, checked as a new user would meet it."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.correction_runs import run_cli

import preannotate
import preannotate.errors

ROOT = Path(__file__).resolve().parent.parent


def test_the_package_exports_every_error_the_errors_module_defines() -> None:
    """README, Python: `preannotate` exports "every error (all derive from PreannotateError)".

    Each one is what some command or call raises (DiskFullError's parent OutputWriteError, a bucket's
    StorageUnreachableError...), so a caller can catch it by the name the package gives it.
    """
    defined = vars(preannotate.errors).items()
    errors = {
        n
        for n, v in defined
        if inspect.isclass(v) and issubclass(v, Exception) and v.__module__ == "preannotate.errors"
    }
    assert errors and all(issubclass(getattr(preannotate.errors, n), preannotate.PreannotateError) for n in errors)
    assert errors <= set(preannotate.__all__), sorted(errors - set(preannotate.__all__))
    # `from preannotate import *` gives them all, and still imports no model library
    code = ("import sys; from preannotate import *; import preannotate.errors as e; "
            "assert all(globals()[n] is getattr(e, n) for n in sys.argv[1:]), 'not the same classes'; "
            "assert 'torch' not in sys.modules")  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code, *sorted(errors)], capture_output=True, text=True, env=env,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("odd", ["a folder", "a dangling link"])
def test_a_pulled_json_that_is_not_a_file_stops_the_pull_before_it_touches_the_corrections(
    corrected_run: Path, odd: str
) -> None:
    """README, Closing the loop: "An unreadable `pulled.json` stops the pull with exit code 2".

    A folder or a dangling link of that name cannot be read either. Taken for "nothing pulled yet", the
    pull moved every correction in corrected/ to corrected-kept/ as unvouched and then failed to write its
    index (exit 1, corrected/ emptied), or (a dangling link) rewrote the index with the item gone from the
    project as a problem instead of its kept correction, so that `export` left it out.
    """
    index = corrected_run / "pulled.json"
    assert "missing" in index.read_text(encoding="utf-8")  # hello.wav: gone from the project, kept
    before = {p.name: p.read_bytes() for p in (corrected_run / "corrected").glob("*.json")}
    index.unlink()
    if odd == "a folder":
        index.mkdir()
    else:
        index.symlink_to(corrected_run / "no-such-index.json")
    done = run_cli("pull", "-o", str(corrected_run), "--set", "superannotate.backoff_seconds=0")
    assert done.returncode == 2, done.stderr
    named = f"{index} is a folder, not a file this tool wrote" if odd == "a folder" else f"cannot read {index}"
    assert named in done.stderr
    assert {p.name: p.read_bytes() for p in (corrected_run / "corrected").glob("*.json")} == before
    assert not (corrected_run / "corrected-kept").exists()
    assert index.is_dir() if odd == "a folder" else index.is_symlink()
