"""The demo configuration end to end on the shipped samples, with the bundled multilingual model."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from support.sa_schema import assert_valid_sa_annotation

from preannotate.config import load_config
from preannotate.run import run_pipeline

ROOT = Path(__file__).resolve().parent.parent


def test_demo_outputs_are_complete_and_valid(tmp_path, base_model):
    config = load_config(ROOT / "configs" / "demo.yaml", [f"output.dir={tmp_path}", f"input.dir={ROOT / 'samples'}"])
    report = run_pipeline(config, progress=False)
    assert {f.status for f in report.files} == {"ok"}
    languages = {f.source.split("/")[0]: f.language for f in report.files}
    assert languages == {"en": "en", "es": "es", "fr": "fr"}  # detected, one per folder

    chunks = pd.read_csv(tmp_path / "chunks.csv")
    for f in report.files:
        annotation = json.loads((tmp_path / "superannotate" / f"{f.item}.json").read_text())
        assert_valid_sa_annotation(annotation, f.item)
        assert len(annotation["instances"]) == f.chunks == (chunks["item"] == f.item).sum() > 0
        for suffix in ("srt", "vtt"):
            assert (tmp_path / "subtitles" / f"{f.item}.{suffix}").stat().st_size > 0

    # Only chunking changed: everything is re-chunked from the stored transcripts, nothing re-transcribed.
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "transcripts").iterdir()}
    rechunked = run_pipeline(load_config(None, [*_as_overrides(config), "chunking.policy=segments"]), progress=False)
    assert {f.status for f in rechunked.files} == {"skipped"}
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "transcripts").iterdir()} == stamps
    assert json.loads((tmp_path / "run.json").read_text())["config"]["chunking"]["policy"] == "segments"


def _as_overrides(config) -> list[str]:
    return [f"input.dir={config.input.dir}", f"output.dir={config.output.dir}", f"model.name={config.model.name}"]
