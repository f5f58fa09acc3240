"""Start-up: a run loads nothing it does not use (the SuperAnnotate SDK only to upload, pandas only for tables)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Imports the run's entry point, loads a dry-run configuration and does the pre-flight check a dry run
# does, then lists which heavy modules got loaded. A fresh interpreter: this test process has loaded them all.
SCRIPT = """
import json, sys
from preannotate.cli import build_parser, config_from_args
from preannotate.run import run_pipeline
from preannotate.superannotate import preflight
args = build_parser().parse_args(["run", "--input", sys.argv[1], "--output", sys.argv[2], "--dry-run"])
config = config_from_args(args, {"superannotate.dry_run": True})
assert preflight(config.superannotate) is None
heavy = ("superannotate", "pandas", "torch", "whisper", "faster_whisper", "ctranslate2", "papermill")
print(json.dumps(sorted(name for name in heavy if name in sys.modules)))
"""


def test_a_dry_run_loads_neither_the_sdk_nor_pandas_nor_a_model_library(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "in"), str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []
