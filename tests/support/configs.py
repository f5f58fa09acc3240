"""Run configurations for tests: a folder layout under tmp_path and the overrides a test names."""

from __future__ import annotations

import shutil
from pathlib import Path

from preannotate.config import load_config
from preannotate.options import RunConfig
from support.media import SAMPLES

# Greedy decoding, as the pipeline tests were calibrated with: decoding is not what they check (beam search,
# the default, is slower; tests/test_faster.py checks that both engines get it).
GREEDY = ["transcribe.beam_size=null", "transcribe.best_of=null"]


def run_config(
    tmp_path: Path, *overrides: str, model: str = "bundled:tiny.en", input_dir: Path | None = None
) -> RunConfig:
    """A run reading `tmp_path/in` (or `input_dir`) and writing `tmp_path/out` with `model`, then `overrides`."""
    layout = [f"input.dir={input_dir or tmp_path / 'in'}", f"output.dir={tmp_path / 'out'}", f"model.name={model}"]
    return load_config(None, [*layout, *overrides])


def config(tmp_path: Path, *overrides: str, model: str = "bundled:tiny.en", input_dir: Path | None = None) -> RunConfig:
    """`run_config` on the CPU with greedy decoding, as the pipeline tests were calibrated."""
    return run_config(tmp_path, "model.device=cpu", *GREEDY, *overrides, model=model, input_dir=input_dir)


def english_folder(tmp_path: Path) -> Path:
    """The English samples, without their reference texts, copied to `tmp_path/in`."""
    folder = tmp_path / "in"
    shutil.copytree(SAMPLES / "en", folder, ignore=shutil.ignore_patterns("*.txt"))
    return folder
