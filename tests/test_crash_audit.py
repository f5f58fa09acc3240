"""An export killed or interrupted at its swap leaves the old export or the new one, never neither.

`correction/swap.py` trades the two folders' names in one call where the file system can (Linux's renameat2
RENAME_EXCHANGE); elsewhere it renames the old export aside, then the new one in. Before, it always took two
renames: a SIGKILL between them left no destination, a Ctrl-C there deleted the new export without putting the
old one back, and the next export's first step deleted the old one left aside, before making its own. The kill
comes from inside the exporting child process at the exact instant (a real SIGKILL), so the timing is fixed; a
file system without the exchange is simulated by making `exchange` say it cannot, as such a file system does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.pulled_runs import ANNOTATION, fox_run, snapshot

import preannotate.correction.swap as swap_module
from preannotate.correction.dataset import export_dataset
from preannotate.correction.destination import new_staging
from preannotate.options import DatasetExportOptions

TESTS = Path(__file__).parent


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return fox_run(tmp_path)


def export_killed(run_dir: Path, dest: Path, when: str, exchange: bool) -> int:
    """Re-exports to `dest` (8 kHz) in a child process SIGKILLed at `when`: 'exchanged' or 'renamed aside'."""
    code = f"""
        import os, pathlib, signal
        from pathlib import Path
        import preannotate.correction.swap as swap
        from support.pulled_runs import ANNOTATION
        from preannotate.correction.dataset import export_dataset
        from preannotate.options import DatasetExportOptions

        def die():
            os.kill(os.getpid(), signal.SIGKILL)  # what `kill -9` at that instant does

        real_exchange, real_rename = swap.exchange, pathlib.Path.rename
        def exchange(a, b):
            if not {exchange!r}:
                return False  # a file system without RENAME_EXCHANGE
            done = real_exchange(a, b)
            if {when!r} == "exchanged":
                die()
            return done
        def rename(self, target):
            result = real_rename(self, target)
            if {when!r} == "renamed aside" and ".old-" in Path(target).name:
                die()
            return result
        swap.exchange, pathlib.Path.rename = exchange, rename
        export_dataset(Path({str(run_dir)!r}), DatasetExportOptions(dir={str(dest)!r}, sample_rate=8000), ANNOTATION)
    """
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=TESTS, capture_output=True, env=env)
    return proc.returncode


def export_at(run_dir: Path, dest: Path, **options) -> dict[str, bytes]:
    export_dataset(run_dir, DatasetExportOptions(dir=str(dest), **options), ANNOTATION)
    return snapshot(dest)


def test_a_kill_right_after_the_exchange_leaves_the_new_export_whole(run_dir: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dataset"
    export_at(run_dir, dest)
    new = export_at(run_dir, tmp_path / "clean8k", sample_rate=8000)
    assert export_killed(run_dir, dest, "exchanged", exchange=True) == -9
    got = snapshot(dest)
    # The same files, whole; the marker and export.json also say when and by which process they were made.
    assert got.keys() == new.keys() and all(got[k] == new[k] for k in new if not k.endswith(".json"))
    assert export_at(run_dir, dest) and not list(tmp_path.glob(".dataset.*"))  # the next export cleans up


def test_a_kill_between_two_renames_leaves_the_old_export_for_the_next_one_to_put_back(
    run_dir: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "dataset"
    first = export_at(run_dir, dest)
    assert export_killed(run_dir, dest, "renamed aside", exchange=False) == -9
    assert not dest.exists() and len(list(tmp_path.glob(".dataset.old-*"))) == 1
    new_staging(dest)  # the next export's first step, before any of its own work (which may yet fail)
    assert snapshot(dest) == first and not list(tmp_path.glob(".dataset.old-*"))


def test_ctrl_c_between_two_renames_puts_the_old_export_back(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "dataset"
    first = export_at(run_dir, dest)
    real_rename = Path.rename

    def rename(self: Path, target: Path) -> Path:
        result = real_rename(self, target)
        if ".old-" in Path(target).name:
            raise KeyboardInterrupt  # Ctrl-C at that instant
        return result

    monkeypatch.setattr(swap_module, "exchange", lambda a, b: False)  # a file system without the exchange
    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        export_dataset(run_dir, DatasetExportOptions(dir=str(dest), sample_rate=8000), ANNOTATION)
    monkeypatch.setattr(Path, "rename", real_rename)
    assert snapshot(dest) == first and not list(tmp_path.glob(".dataset.*"))


def test_a_folder_named_like_an_old_export_but_holding_other_files_is_never_put_in_place(tmp_path: Path) -> None:
    aside = tmp_path / ".dataset.old-999999"  # no such process; its name alone proves nothing
    aside.mkdir()
    (aside / "notes.txt").write_text("someone's own folder\n")
    new_staging(tmp_path / "dataset")
    assert not (tmp_path / "dataset").exists() and (aside / "notes.txt").read_text() == "someone's own folder\n"
