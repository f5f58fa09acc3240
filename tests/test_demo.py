"""The demo configuration end to end on the shipped samples, with the bundled multilingual model."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from support.sa_schema import assert_valid_sa_annotation

from preannotate.config import load_config
from preannotate.quality import default_model
from preannotate.quality.model import languages_model
from preannotate.results import Transcript
from preannotate.review import Reviewer
from preannotate.run import run_pipeline
from preannotate.run.chunks import chunk_item

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
    _other_languages_are_assessed_by_their_model(tmp_path, report, config)

    # Only chunking changed: everything is re-chunked from the stored transcripts, nothing re-transcribed.
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "transcripts").iterdir()}
    rechunked = run_pipeline(load_config(None, [*_as_overrides(config), "chunking.policy=segments"]), progress=False)
    assert {f.status for f in rechunked.files} == {"skipped"}
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "transcripts").iterdir()} == stamps
    assert json.loads((tmp_path / "run.json").read_text())["config"]["chunking"]["policy"] == "segments"


def _other_languages_are_assessed_by_their_model(out: Path, report, config) -> None:
    """The Spanish and French files (unchecked under `auto`) carry review_model_languages.json's verdicts."""
    rows = [json.loads(line) for line in (out / "chunks.jsonl").read_text().splitlines()]
    plain = Reviewer(default_model(), default_model().threshold)
    for f in (f for f in report.files if f.language != "en"):
        transcript = Transcript.from_dict(json.loads((out / "transcripts" / f"{f.item}.json").read_text()))
        exported = [r["predicted_wer"] for r in rows if r["item"] == f.item]
        assert exported == [c.predicted_wer for c in chunk_item(f.item, "", transcript, config.chunking).chunks]
        ours = Reviewer(languages_model(), languages_model().threshold)
        assert exported == [c.predicted_wer for c in chunk_item(f.item, "", transcript, config.chunking, ours).chunks]
        without = chunk_item(f.item, "", transcript, config.chunking, plain).chunks
        assert all(e != c.predicted_wer for e, c in zip(exported, without)), f.item


def _as_overrides(config) -> list[str]:
    return [f"input.dir={config.input.dir}", f"output.dir={config.output.dir}", f"model.name={config.model.name}"]
