"""Run configurations for tests: a folder layout under tmp_path and the overrides a test names."""

from __future__ import annotations

from pathlib import Path

from preannotate.config import load_config
from preannotate.options import RunConfig


def run_config(
    tmp_path: Path, *overrides: str, model: str = "bundled:tiny.en", input_dir: Path | None = None
) -> RunConfig:
    """A run reading `tmp_path/in` (or `input_dir`) and writing `tmp_path/out` with `model`, then `overrides`."""
    layout = [f"input.dir={input_dir or tmp_path / 'in'}", f"output.dir={tmp_path / 'out'}", f"model.name={model}"]
    return load_config(None, [*layout, *overrides])
