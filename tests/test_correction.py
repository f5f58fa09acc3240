"""Closing the loop end to end: upload drafts to the loopback server with the real SDK, edit them
there as annotators would, then pull, compare, report and export, and check the figures by hand."""

from __future__ import annotations

import html
import json
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
from support.correction_runs import (
    ANNOTATION,
    PROJECT,
    SPLIT_AT,
    annotate,
    make_run,
    run_cli,
    sa_options,
    upload,
)
from support.sa_server import SuperAnnotateServer

from preannotate.audio import decode_audio
from preannotate.correction import compare_run, pull_run
from preannotate.correction.clips import resample, sample_span, write_clip
from preannotate.correction.dataset import export_dataset
from preannotate.correction.pull import NOT_IN_PROJECT, open_session
from preannotate.correction.report import write_report
from preannotate.errors import CorrectionError
from preannotate.options import CorrectionOptions, DatasetExportOptions


def test_pull_stores_annotations_statuses_and_problems(corrected_run: Path, sa_server) -> None:
    pulled = json.loads((corrected_run / "pulled.json").read_text())
    by_item = {i["item"]: i for i in pulled["items"]}
    assert {i: e["status"] for i, e in by_item.items()} == {
        "talk.wav": "Completed", "fox.wav": "Completed", "hello.wav": None, "count.wav": "InProgress"
    }  # fmt: skip
    assert by_item["hello.wav"]["problem"] == NOT_IN_PROJECT and by_item["hello.wav"]["file"] is None
    stored = json.loads((corrected_run / "corrected" / "talk.wav.json").read_text())
    assert len(stored["instances"]) == 6 == len(sa_server.annotation(PROJECT, "talk.wav")["instances"])

    only = pull_run(corrected_run, PROJECT, open_session(sa_options()), ("Completed",))
    assert sorted(only.pulled) == ["fox.wav", "talk.wav"]
    assert [i.item for i in only.items if not i.selected] == ["hello.wav", "count.wav"]


EVERY_STATUS = CorrectionOptions(compare_statuses=())  # count.wav, edited and still InProgress, compared too


def test_figures_match_the_hand_computation(corrected_run: Path) -> None:
    result = compare_run(corrected_run, ANNOTATION, EVERY_STATUS)
    items = result.items.set_index("item")
    assert result.problems == {"hello.wav": NOT_IN_PROJECT}
    talk = items.loc["talk.wav"]
    # Reference = corrected text, normalized (lower case, no punctuation), per group:
    #   hello world (2 words, 0 errors) | the quick red fox (4, 1 substitution: brown) | jumps over the dog (4, 0;
    #   end moved +300 ms) | deleted "thank you" (0, 2 insertions) | then we split this long sentence here (7, 0;
    #   split, outer boundaries kept) | added "see you" (2, 2 deletions).  19 words, 1 + 2 + 2 = 5 errors.
    assert (talk.ref_words, talk.substitutions, talk.deletions, talk.insertions, talk.hits) == (19, 1, 2, 2, 16)
    assert talk.wer == pytest.approx(5 / 19)
    # Characters of the whole text (spaces count, those between chunks too): 11 + 17 + 18 + 37 + 7 and 4 spaces
    # between them = 94; edits: red/brown 4, "thank you" and a space 10, a space and "see you" 8 = 22.
    assert (talk.ref_chars, talk.char_errors) == (94, 22) and talk.cer == pytest.approx(22 / 94)
    # 5 draft chunks: only "Hello world." untouched; 1 edited, 1 retimed, 1 removed, 1 split, 1 event added.
    assert (talk.draft_chunks, talk.corrected_events, talk.untouched, talk.untouched_share) == (5, 6, 1, 0.2)
    assert (talk.edited, talk.retimed, talk.removed, talk.added, talk.split, talk.merged) == (1, 1, 1, 1, 1, 0)
    # Boundaries of the 4 groups with both sides: 8 shifts, one of 300 ms.
    assert (talk.boundaries, talk.max_abs_shift_ms, talk.median_abs_shift_ms) == (8, 300.0, 0.0)
    assert talk.mean_abs_shift_ms == pytest.approx(300 / 8) and talk.p90_abs_shift_ms == pytest.approx(90.0)
    # needs_review (text changes): flagged brown fox (edited) and Thank you (deleted) are hits; flagged split
    # sentence kept its words: a false alarm; no changed chunk went unflagged.
    assert (talk.review_tp, talk.review_fp, talk.review_fn, talk.review_tn) == (2, 1, 0, 2)
    assert (talk.review_precision, talk.review_recall) == (pytest.approx(2 / 3), 1.0)

    fox, count = items.loc["fox.wav"], items.loc["count.wav"]
    assert (fox.wer, fox.untouched_share, fox.ref_words, fox.review_fp) == (0.0, 1.0, 9, 1)
    assert count.wer == 0.0 and count.untouched == 1
    assert "has no text: left out" in count.notes and "lies outside the audio" in count.notes

    run = result.summary
    # Run: 19 + 9 + 2 = 30 reference words, 5 errors; 94 + 43 + 15 = 152 characters, 22 edits; 4 of 8 untouched;
    # 8 + 4 + 2 = 14 boundaries; review: tp 2, fp 2 (split sentence, lazy dog), fn 0, tn 4.
    assert (run["items"], run["compared"], run["problems"]) == (4, 3, 1)
    assert run["wer"] == pytest.approx(5 / 30) and run["cer"] == pytest.approx(22 / 152)
    assert (run["draft_chunks"], run["untouched"], run["untouched_share"]) == (8, 4, 0.5)
    assert run["boundaries"] == 14 and run["mean_abs_shift_ms"] == pytest.approx(300 / 14)
    assert (run["review_precision"], run["review_recall"]) == (0.5, 1.0)

    groups = result.groups[result.groups["item"] == "talk.wav"]
    assert list(groups["kind"]) == ["matched", "matched", "matched", "deleted", "split", "added"]
    assert list(groups["end_shift_ms"].fillna(-1)) == [0.0, 0.0, 300.0, -1, 0.0, -1]
    chunk_rows = result.chunks[result.chunks["item"] == "talk.wav"]
    assert list(chunk_rows["mean_word_probability"]) == [0.95, 0.40, 0.90, 0.30, 0.45]


def test_any_change_counts_boundaries_and_splits(corrected_run: Path) -> None:
    result = compare_run(corrected_run, ANNOTATION, replace(EVERY_STATUS, changed="any"))
    # Now the retimed chunk (not flagged) is a miss and the split sentence (flagged) a hit: tp 3, fp 1, fn 1, tn 3.
    run = result.summary
    assert (run["review_tp"], run["review_fp"], run["review_fn"], run["review_tn"]) == (3, 1, 1, 3)
    assert (run["review_precision"], run["review_recall"]) == (0.75, 0.75)


def test_by_default_only_completed_items_are_compared(corrected_run: Path) -> None:
    """count.wav is InProgress: perhaps untouched, so not counted as a perfect draft (until 2026-12 it was)."""
    result = compare_run(corrected_run, ANNOTATION, CorrectionOptions())
    count = result.items.set_index("item").loc["count.wav"]
    assert (
        not count.compared and count.notes == "not compared: status InProgress (correction.compare_statuses: Completed)"
    )
    run = result.summary  # the hand computation's run less count.wav: 28 words, 7 chunks, 3 untouched
    assert (run["items"], run["compared"], run["problems"]) == (4, 2, 1)
    assert run["wer"] == pytest.approx(5 / 28) and (run["draft_chunks"], run["untouched"]) == (7, 3)
    assert (run["review_tp"], run["review_fp"], run["review_fn"], run["review_tn"]) == (2, 2, 0, 3)


def test_report_html_holds_the_tables_and_plots(corrected_run: Path) -> None:
    result = compare_run(corrected_run, ANNOTATION, EVERY_STATUS)
    path = write_report(result, corrected_run / "correction")
    page = path.read_text()
    assert page.count("data:image/png;base64,") == 3  # WER per item, boundary shifts, confidence
    for text in ("WER (draft vs corrected)", "16.7%", "needs_review precision", "50.0%", "talk.wav",
                 NOT_IN_PROJECT, "The quick red fox.", "lies outside the audio"):  # fmt: skip
        assert html.escape(text, quote=False) in page, text
    items = pd.read_csv(corrected_run / "correction" / "items.csv")
    assert list(items["item"]) == ["talk.wav", "fox.wav", "hello.wav", "count.wav"]
    summary = json.loads((corrected_run / "correction" / "summary.json").read_text())
    assert summary["summary"]["wer"] == pytest.approx(1 / 6) and summary["problems"] == {"hello.wav": NOT_IN_PROJECT}


# Sample counts by hand: round(seconds * rate) at both ends, e.g. at 22.05 kHz the first half of the split
# runs from 8.5 s = sample 187425 to 10.000023 s = 220500.507 -> 220501: 33076 samples; its second half
# from 220501 to 11.5 s = 253575: 33074. "See you." (0.3 s) is under min_duration 0.5 s: left out.
CLIPS = {
    (22050, "wav"): [44100, 44100, 39690, 33076, 33074, 26460, 35280],
    (16000, "flac"): [32000, 32000, 28800, 24000, 24000, 19200, 25600],
}


@pytest.mark.parametrize(("rate", "audio_format"), list(CLIPS))
def test_export_clips_are_exact_to_the_sample(corrected_run: Path, rate: int, audio_format: str) -> None:
    options = DatasetExportOptions(sample_rate=rate, audio_format=audio_format, min_duration=0.5)
    report = export_dataset(corrected_run, options, ANNOTATION)
    folder = corrected_run / "dataset"
    metadata = pd.read_json(folder / "metadata.jsonl", lines=True, dtype=False)
    assert list(metadata.columns) == ["file_name", "transcription"]
    assert list(metadata["transcription"]) == [
        "Hello world.", "The quick red fox.", "jumps over the dog.", "Then we split this", "long sentence here.",
        "The quick brown fox", "jumps over the lazy dog.",
    ]  # fmt: skip
    clips = [decode_clip(folder / name) for name in metadata["file_name"]]
    assert [len(c) for c, _ in clips] == CLIPS[(rate, audio_format)] and {r for _, r in clips} == {rate}
    # Each clip is the right window of the source, not only the right length.
    source = resample(decode_audio(corrected_run.parent / "in" / "talk.wav").samples, 16000, rate)
    first, last = sample_span(8_500_000, SPLIT_AT, rate)
    assert np.abs(clips[3][0] - source[first:last]).max() < 1e-4
    manifest = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
    assert [m["duration"] for m in manifest] == [n / rate for n in CLIPS[(rate, audio_format)]]
    assert {m["offset"] for m in manifest} == {0.0} and manifest[1]["text"] == "The quick red fox."
    assert all((folder / m["audio_filepath"]).is_file() for m in manifest)
    segments = pd.read_csv(folder / "segments.csv")
    assert len(segments) == 9 and report.clips == 7 and report.problems == {"hello.wav": NOT_IN_PROJECT}
    notes = dict(zip(segments["text"], segments["note"]))
    assert notes["See you."].startswith("shorter than min_duration") and notes["Counting slowly."].startswith(
        "status InProgress"
    )
    assert set(segments["status"]) == {"Completed", "InProgress"}


def decode_clip(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        frames = [f.to_ndarray().reshape(-1) for f in container.decode(stream)]
        scale = 32768.0 if frames[0].dtype == np.int16 else 1.0
        return np.concatenate(frames).astype(np.float32) / scale, stream.rate


def test_failed_export_leaves_the_previous_dataset_whole(corrected_run: Path, monkeypatch) -> None:
    options = DatasetExportOptions(min_duration=0.5)
    export_dataset(corrected_run, options, ANNOTATION)
    before = sorted(p.relative_to(corrected_run) for p in (corrected_run / "dataset").rglob("*"))
    from preannotate.correction import dataset

    calls = []

    def fail_third(*args):
        calls.append(args)
        if len(calls) == 3:
            raise CorrectionError("disk full")
        write_clip(*args)

    monkeypatch.setattr(dataset, "write_clip", fail_third)
    with pytest.raises(CorrectionError, match="disk full"):
        export_dataset(corrected_run, DatasetExportOptions(min_duration=0.5, sample_rate=8000), ANNOTATION)
    assert sorted(p.relative_to(corrected_run) for p in (corrected_run / "dataset").rglob("*")) == before
    assert decode_clip(corrected_run / "dataset" / "clips" / "talk.wav-0000.wav")[1] == 16000
    assert [p.name for p in corrected_run.iterdir() if p.name.startswith(".dataset")] == []


def test_cli_pull_report_export(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    inp, out = make_run(tmp_path)
    upload(inp, out)
    annotate(sa_server)
    common = ["-o", str(out), "--set", f"superannotate.project={PROJECT}"]
    pulled = run_cli("pull", *common, "--status", "Completed")
    assert pulled.returncode == 1 and NOT_IN_PROJECT in pulled.stderr  # hello.wav: an item failed
    assert "pulled 2 annotation(s)" in pulled.stdout
    reported = run_cli("report", *common)
    assert reported.returncode == 0, reported.stderr
    # Only the two Completed items: 19 + 9 = 28 reference words, 5 errors.
    assert f"{100 * 5 / 28:.1f}%" in reported.stdout and (out / "correction" / "report.html").is_file()
    dest = tmp_path / "exported"
    exported = run_cli("export", *common, "--dest", str(dest), "--sample-rate", "8000", "--min-duration", "0.5")
    assert exported.returncode == 1 and "exported 7 clip(s)" in exported.stdout, exported.stderr
    assert len(pd.read_json(dest / "metadata.jsonl", lines=True, dtype=False)) == 7
