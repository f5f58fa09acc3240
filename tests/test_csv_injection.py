"""CSVs people open are safe in spreadsheets (OWASP CSV injection); JSON and training data keep exact text."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from support.media import read_sample
from support.pulled_runs import ANNOTATION, make_pulled_run

from preannotate.chunking import Chunk
from preannotate.correction import compare_run
from preannotate.correction.dataset import export_dataset
from preannotate.correction.report import write_report
from preannotate.correction.rundata import quality_table
from preannotate.exports import ItemChunks, write_exports
from preannotate.notebook import chunk_table
from preannotate.options import CorrectionOptions, DatasetExportOptions

FORMULAS = ['=HYPERLINK("http://evil.example","click")', "+1+2", "-5 degrees outside", "@SUM(A1:A9)"]
FORMULAS += ["\tcmd|' /C calc'!A0"]
PLAIN = ["Hello world.", "'quoted' on purpose", "3 - 2 = 1"]
TEXTS = FORMULAS + PLAIN


def cells(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def assert_spreadsheet_safe(path: Path) -> None:
    for row in cells(path):
        for column, cell in row.items():
            if cell.startswith(("=", "+", "-", "@", "\t", "\r")):
                assert is_number(cell), f"{path.name}: {column} = {cell!r} would run as a formula"


def write_run(out: Path) -> None:
    chunks = [Chunk(i, i * 2.0, i * 2.0 + 1.5, text, avg_logprob=-0.25 - i) for i, text in enumerate(TEXTS)]
    chunks[1] = Chunk(1, 2.0, 3.5, TEXTS[1], needs_review=True, review_reason="low_avg_logprob", avg_logprob=-1.5)
    write_exports(out, [ItemChunks("-dash.wav", "=sub/-dash.wav", "en", 20.0, chunks)], ANNOTATION)


def test_chunks_csv_is_safe_jsonl_keeps_the_text_readers_get_it_back(tmp_path: Path) -> None:
    write_run(tmp_path)
    assert_spreadsheet_safe(tmp_path / "chunks.csv")
    rows = cells(tmp_path / "chunks.csv")
    assert [r["text"] for r in rows] == ["'" + t for t in FORMULAS] + PLAIN
    assert {r["item"] for r in rows} == {"'-dash.wav"} and {r["source"] for r in rows} == {"'=sub/-dash.wav"}
    assert rows[0]["avg_logprob"] == "-0.25"  # numbers are numbers, negative ones too
    records = [json.loads(line) for line in (tmp_path / "chunks.jsonl").read_text().splitlines()]
    assert [r["text"] for r in records] == TEXTS and records[0]["item"] == "-dash.wav"
    annotation = json.loads((tmp_path / "superannotate" / "-dash.wav.json").read_text())
    stamps = [s for i in annotation["instances"] for p in i["parameters"] for s in p["timestamps"]]
    texts = {a["name"] for s in stamps for a in s["attributes"] if a["groupName"] == ANNOTATION.text_group}
    assert set(FORMULAS) <= texts
    # Readers of chunks.csv get the text as transcribed.
    shown = chunk_table(tmp_path)
    assert sorted(shown["text"]) == sorted(TEXTS) and set(shown["item"]) == {"-dash.wav"}
    assert set(shown["source"]) == {"=sub/-dash.wav"}
    (tmp_path / "chunks.jsonl").unlink()  # only the CSV left: quality data are read from it
    quality = quality_table(tmp_path)
    assert sorted(quality["text"]) == sorted(t.strip() for t in TEXTS) and set(quality["item"]) == {"-dash.wav"}


def test_report_and_segments_csvs_are_safe_training_metadata_exact(tmp_path: Path) -> None:
    speech = np.tile(read_sample("en/quick_brown_fox"), 3)
    spec = [(0.0, 2.0, FORMULAS[0]), (2.0, 4.0, "-minus"), (4.0, 6.0, "plain")]
    out = make_pulled_run(tmp_path, {"talk.wav": (speech, spec)})
    result = compare_run(out, ANNOTATION, CorrectionOptions())
    write_report(result, out / "correction")
    for name in ("items", "groups", "chunks"):
        assert_spreadsheet_safe(out / "correction" / f"{name}.csv")
    groups = cells(out / "correction" / "groups.csv")
    assert "'" + FORMULAS[0] in {r["draft_text"] for r in groups} & {r["corrected_text"] for r in groups}
    export_dataset(out, DatasetExportOptions(), ANNOTATION)
    assert_spreadsheet_safe(out / "dataset" / "segments.csv")
    assert [r["text"] for r in cells(out / "dataset" / "segments.csv")] == ["'" + FORMULAS[0], "'-minus", "plain"]
    metadata = (out / "dataset" / "metadata.jsonl").read_text().splitlines()
    assert [json.loads(line)["transcription"] for line in metadata] == [FORMULAS[0], "-minus", "plain"]
    manifest = [json.loads(line)["text"] for line in (out / "dataset" / "manifest.jsonl").read_text().splitlines()]
    assert manifest == [FORMULAS[0], "-minus", "plain"]
