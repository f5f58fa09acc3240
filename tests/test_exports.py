"""Exports: golden SRT, VTT, SuperAnnotate JSON and CSV; the SuperAnnotate schema; table and writer behaviour."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from support.fixed_entries import fixed_entries
from support.sa_schema import assert_valid_sa_annotation, sa_problems
from support.strategies import OPTIONS, examples, transcripts

from preannotate.chunking import REVIEW_REASONS, Chunk, chunk_transcript
from preannotate.errors import ExportError
from preannotate.exports import (
    CSV_COLUMNS,
    ItemChunks,
    annotation_classes,
    chunks_dataframe,
    sa_annotation,
    srt_text,
    vtt_text,
    write_exports,
)
from preannotate.options import AnnotationOptions, ChunkingOptions
from preannotate.results import Transcript
from preannotate.superannotate.validate import annotation_problems, class_index

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"  # UPDATE_GOLDEN=1 pytest tests/test_exports.py rewrites them


def check_golden(path: Path, name: str) -> None:
    golden = GOLDEN / name
    if UPDATE:
        golden.write_bytes(path.read_bytes())
    assert path.read_text(encoding="utf-8") == golden.read_text(encoding="utf-8"), (
        f"{name} differs from the golden file"
    )


def test_fixed_transcript_chunks_as_expected() -> None:
    [a, b, c] = fixed_entries()[0].chunks
    assert a.text == "Welcome to the show. Today we talk about rivers & <lakes>."
    assert (b.text, c.text) == ("Rivers carry water to the sea.", "Um so yeah it's été très bien")
    assert not a.needs_review and not b.needs_review
    assert c.review_reason == "low_word_probability;low_avg_logprob;fallback_temperature;predicted_wer;doubtful_words"
    assert a.predicted_wer < 0.2 < c.predicted_wer < 1 and not a.doubtful_words
    assert [w for _, w, _ in c.doubtful_words] == ["Um", "so", "yeah", "it's", "été", "très", "bien"]


@pytest.mark.parametrize(
    "name", ["chunks.csv", "chunks.jsonl", "talk.wav.srt", "talk.wav.vtt", "talk.wav.json", "silence.wav.json"]
)
def test_exports_match_golden_files(tmp_path: Path, name: str) -> None:
    write_exports(tmp_path, fixed_entries(), AnnotationOptions())
    folder = {".srt": "subtitles", ".vtt": "subtitles", ".json": "superannotate"}.get(Path(name).suffix, "")
    check_golden(tmp_path / folder / name, name)


def test_every_written_superannotate_json_is_valid_and_fits_the_class(tmp_path: Path) -> None:
    write_exports(tmp_path, fixed_entries(), AnnotationOptions())
    classes = class_index(annotation_classes(AnnotationOptions()))
    files = sorted((tmp_path / "superannotate").glob("*.json"))
    assert [f.name for f in files] == ["silence.wav.json", "talk.wav.json"]
    for f in files:
        d = json.loads(f.read_text(encoding="utf-8"))
        item = f.name.removesuffix(".json")
        assert_valid_sa_annotation(d, item)
        assert annotation_problems(d, item, classes) == []  # the uploader's own check agrees


def test_superannotate_json_carries_text_and_review_groups() -> None:
    entry = fixed_entries()[0]
    d = sa_annotation(entry.item, entry.duration, list(entry.chunks), AnnotationOptions())
    assert d["metadata"] == {"name": "talk.wav", "duration": 16_250_000}
    flagged = d["instances"][2]
    assert flagged["meta"]["start"] == 12_000_000 and flagged["meta"]["className"] == "transcription"
    for stamp in flagged["parameters"][0]["timestamps"]:
        assert stamp["attributes"] == [
            {"groupName": "Content", "name": "Um so yeah it's été très bien"},
            {"groupName": "Review", "name": "needs_review"},
            {"groupName": "Review reason", "name": "low_word_probability"},
            {"groupName": "Review reason", "name": "low_avg_logprob"},
            {"groupName": "Review reason", "name": "fallback_temperature"},
            {"groupName": "Review reason", "name": "predicted_wer"},
            {"groupName": "Review reason", "name": "doubtful_words"},
            {
                "groupName": "Doubtful words",
                "name": "Um (p=0.30), so (p=0.30), yeah (p=0.30), it's (p=0.30), été (p=0.30), très (p=0.30), "
                "bien (p=0.30)",
            },
        ]
    assert d["instances"][0]["parameters"][0]["timestamps"][0]["attributes"][1] == {"groupName": "Review", "name": "ok"}


def test_group_and_class_names_come_from_the_options() -> None:
    options = AnnotationOptions(
        class_name="speech", text_group="Text", review_group=None, reason_group=None, doubtful_group=None
    )
    entry = fixed_entries()[0]
    d = sa_annotation(entry.item, entry.duration, list(entry.chunks), options)
    assert_valid_sa_annotation(d, "talk.wav", text_group="Text")
    assert {i["meta"]["className"] for i in d["instances"]} == {"speech"}
    stamps = [t for i in d["instances"] for t in i["parameters"][0]["timestamps"]]
    assert all([a["groupName"] for a in t["attributes"]] == ["Text"] for t in stamps)
    assert annotation_classes(options) == [
        {
            "name": "speech",
            "color": "#1F77B4",
            "type": "object",
            "attribute_groups": [{"name": "Text", "group_type": "text", "attributes": []}],
        }
    ]


def test_annotation_classes_define_every_value_the_json_can_use() -> None:
    [cls] = annotation_classes(AnnotationOptions())
    groups = {g["name"]: g for g in cls["attribute_groups"]}
    assert groups["Content"]["group_type"] == "text"
    assert groups["Review"]["group_type"] == "radio"
    assert [a["name"] for a in groups["Review"]["attributes"]] == ["needs_review", "ok"]
    assert groups["Review reason"]["group_type"] == "checklist"
    assert [a["name"] for a in groups["Review reason"]["attributes"]] == list(REVIEW_REASONS)
    assert {"predicted_wer", "doubtful_words", "transcribe_from_scratch", "control"} <= set(REVIEW_REASONS)
    assert groups["Doubtful words"] == {"name": "Doubtful words", "group_type": "text", "attributes": []}


@settings(max_examples=examples(150), deadline=None)
@given(transcripts(), OPTIONS)
def test_superannotate_json_of_any_chunking_is_valid(transcript: Transcript, options: ChunkingOptions) -> None:
    chunks = chunk_transcript(transcript, options)
    d = sa_annotation("item.mp3", transcript.duration, chunks, AnnotationOptions())
    assert_valid_sa_annotation(d, "item.mp3")
    events = [(i["meta"]["start"], i["meta"]["end"]) for i in d["instances"]]
    assert all(a[1] <= b[0] for a, b in zip(events, events[1:]))
    cues = re.findall(r"(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})", srt_text(chunks))
    assert len(cues) == len(chunks)
    for cue in cues:
        h1, m1, s1, ms1, h2, m2, s2, ms2 = map(int, cue)
        assert (h1, m1, s1, ms1) < (h2, m2, s2, ms2)


# --- the schema checker itself ---------------------------------------------------------------


def valid_annotation() -> dict:
    entry = fixed_entries()[0]
    return sa_annotation(entry.item, entry.duration, list(entry.chunks), AnnotationOptions())


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (lambda d: d["metadata"].update(duration=16.25), "not of type 'integer'"),
        (lambda d: d["metadata"].update(duration=16_250_000.0), "not of type 'integer'"),
        (lambda d: d["metadata"].pop("name"), "'name' is a required property"),
        (lambda d: d["metadata"].update(name="other.wav"), "is not the item name"),
        (lambda d: d["instances"][0]["meta"].update(start=True), "not of type 'integer'"),
        (lambda d: d["instances"][0]["meta"].update(type="bbox"), "'event' was expected"),
        (lambda d: d["instances"][0]["parameters"][0]["timestamps"].pop(), "is too short"),
        (lambda d: d["instances"][0]["parameters"][0]["timestamps"][0]["attributes"][0].update(name=""), "non-empty"),
        (lambda d: d["instances"][0]["parameters"][0]["timestamps"][0]["attributes"][0].update(name="  "), "match"),
        (lambda d: d["instances"][1]["meta"].update(end=d["instances"][1]["meta"]["start"]), "start < end"),
        (lambda d: d["instances"][2]["meta"].update(end=99_000_000), "<= duration"),
        (lambda d: d["instances"][0]["parameters"][0]["timestamps"][0].update(attributes=[]), "exactly one 'Content'"),
    ],
)
def test_schema_rejects_what_superannotate_rejects(break_it, expected: str) -> None:
    d = valid_annotation()
    assert sa_problems(d, "talk.wav") == []
    broken = copy.deepcopy(d)
    break_it(broken)
    problems = sa_problems(broken, "talk.wav")
    assert any(expected in p for p in problems), problems
    with pytest.raises(AssertionError):
        assert_valid_sa_annotation(broken, "talk.wav")


# --- table, subtitles, writer ----------------------------------------------------------------


def test_dataframe_has_one_row_per_chunk_and_typed_columns() -> None:
    frame = chunks_dataframe(fixed_entries())
    assert tuple(frame.columns) == CSV_COLUMNS
    assert list(frame["item"]) == ["talk.wav"] * 3 and list(frame["chunk"]) == [0, 1, 2]
    assert frame["needs_review"].dtype == bool and frame["chunk"].dtype == "int64"
    assert list(frame["needs_review"]) == [False, False, True]
    assert frame.loc[2, "temperature"] == 0.4 and frame.loc[0, "source"] == "shows/talk.wav"
    empty = chunks_dataframe([])
    assert tuple(empty.columns) == CSV_COLUMNS and len(empty) == 0


def test_dataframe_without_words_has_missing_probabilities() -> None:
    chunk = Chunk(0, 0.0, 1.0, "hi")
    frame = chunks_dataframe([ItemChunks("a.wav", "a.wav", None, 1.0, [chunk])])
    assert pd.isna(frame.loc[0, "mean_word_probability"]) and pd.isna(frame.loc[0, "language"])


def test_subtitles_of_long_times_and_multiline_text() -> None:
    chunk = Chunk(0, 3725.0004, 3726.5, "line one\n\nline <two>")
    assert srt_text([chunk]) == "1\n01:02:05,000 --> 01:02:06,500\nline one line <two>\n\n"
    assert vtt_text([chunk]) == "WEBVTT\n\n01:02:05.000 --> 01:02:06.500\nline one line &lt;two&gt;\n\n"
    assert srt_text([]) == "" and vtt_text([]) == "WEBVTT\n\n"


def test_writer_overwrites_its_files_and_leaves_others_alone(tmp_path: Path) -> None:
    (tmp_path / "superannotate").mkdir()
    (tmp_path / "superannotate" / "old-item.wav.json").write_text("{}", encoding="utf-8")
    (tmp_path / "chunks.csv").write_text("stale", encoding="utf-8")
    write_exports(tmp_path, fixed_entries(), AnnotationOptions())
    write_exports(tmp_path, fixed_entries(), AnnotationOptions())
    assert (tmp_path / "superannotate" / "old-item.wav.json").read_text(encoding="utf-8") == "{}"
    assert (tmp_path / "chunks.csv").read_text(encoding="utf-8").startswith("item,source,chunk,start,end")
    leftovers = [p.name for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    jsonl = [json.loads(line) for line in (tmp_path / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["chunk"] for r in jsonl] == [0, 1, 2] and jsonl[0]["language"] == "en"
    assert jsonl[0]["words"][0] == {"word": " Welcome", "start": 0.52, "end": pytest.approx(0.82), "probability": 0.95}


def test_jsonl_lines_hold_line_separators_escaped(tmp_path: Path) -> None:
    # U+2028/U+2029 are valid raw in JSON, but str.splitlines() (and JavaScript readers) split on them.
    [entry, silence] = fixed_entries()
    text = "first\u2028second\u2029third"
    entry.chunks[1] = dataclasses.replace(entry.chunks[1], text=text)
    write_exports(tmp_path, [entry, silence], AnnotationOptions())
    raw = (tmp_path / "chunks.jsonl").read_text(encoding="utf-8")
    assert "\u2028" not in raw and "\u2029" not in raw and "\\u2028" in raw
    records = [json.loads(line) for line in raw.splitlines()]
    assert [r["chunk"] for r in records] == [0, 1, 2] and records[1]["text"] == text


@pytest.mark.parametrize("item", ["", ".", "..", "a/b.wav", "a\\b.wav", "../../escape.wav"])
def test_unsafe_item_names_fail_that_item_only(tmp_path: Path, item: str) -> None:
    out = tmp_path / "out"
    bad = ItemChunks(item, "x.wav", None, 4.0, fixed_entries()[0].chunks)
    refused = write_exports(out, [bad, *fixed_entries()], AnnotationOptions())
    assert list(refused) == [0] and "not a plain file name" in refused[0]
    assert (out / "superannotate" / "talk.wav.json").is_file() and (out / "subtitles" / "talk.wav.srt").is_file()
    assert [p for p in tmp_path.rglob("*") if p.is_file() and out not in p.parents] == []
    assert set(pd.read_csv(out / "chunks.csv")["item"]) == {"talk.wav"}  # the refused item has no rows


def test_duplicate_items_fail_the_later_one_only(tmp_path: Path) -> None:
    first, second = ItemChunks("Café.wav", "a.wav", None, 1.0, []), ItemChunks("café.wav", "b.wav", None, 2.0, [])
    refused = write_exports(tmp_path, [first, second], AnnotationOptions())
    assert list(refused) == [1] and "appears twice (also a.wav)" in refused[1]
    assert json.loads((tmp_path / "superannotate" / "Café.wav.json").read_text())["metadata"]["duration"] == 1_000_000
    assert not (tmp_path / "superannotate" / "café.wav.json").exists()


def test_unwritable_output_is_an_export_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(ExportError, match="cannot write exports"):
        write_exports(blocker / "out", fixed_entries(), AnnotationOptions())


def test_exports_whose_content_did_not_change_are_not_rewritten(tmp_path: Path) -> None:
    """A re-run rewrites (and fsyncs) only the files whose content changed: unchanged ones keep their inode."""
    write_exports(tmp_path, fixed_entries(), AnnotationOptions())
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in files}
    (tmp_path / "subtitles" / "talk.wav.srt").write_text("edited", encoding="utf-8")
    write_exports(tmp_path, fixed_entries(), AnnotationOptions(class_name="Speech"))
    after = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in files}
    changed = {p.relative_to(tmp_path).as_posix() for p in files if after[p] != before[p]}
    # the class name is only in the SuperAnnotate JSON of an item with chunks; the edited subtitle is restored
    assert changed == {"superannotate/talk.wav.json", "subtitles/talk.wav.srt"}
    assert (tmp_path / "subtitles" / "talk.wav.srt").read_text(encoding="utf-8").startswith("1\n")
