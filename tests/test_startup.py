"""Start-up: a run loads nothing it does not use (the SuperAnnotate SDK only to upload, pandas only for tables)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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


REPORT_SCRIPT = """
import json, sys
from preannotate.correction.metrics import score_texts
from preannotate.text_normalize import text_normalizer
normalize = text_normalizer("en")
assert normalize("Mr. Smith has two cats!") == "mister smith has 2 cats"  # the English rules work
assert text_normalizer("fr")("Ça va, Élise?").split() == ["ça", "va", "élise"]
print(json.dumps(sorted(name for name in ("torch", "whisper") if name in sys.modules)))
"""
# After the normalizers were loaded alone, the real package still imports and shares them (torch: seconds).
WHISPER_AFTER = """
import whisper  # the real package still imports afterwards, and shares the normalizers
assert whisper.load_model and sys.modules["whisper.normalizers"].EnglishTextNormalizer
"""


def test_scoring_corrections_uses_whispers_normalizers_without_importing_torch() -> None:
    done = subprocess.run([sys.executable, "-c", REPORT_SCRIPT], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []


@pytest.mark.slow
def test_whisper_still_imports_after_its_normalizers_were_loaded_alone() -> None:
    script = REPORT_SCRIPT + WHISPER_AFTER
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
