"""Closing the loop end to end: upload drafts to the loopback server with the real SDK, edit them
there as annotators would, then pull, compare, report and export, and check the figures by hand."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from media import SAMPLES, read_sample, write_wav16
from sa_server import SuperAnnotateServer

from preannotate.chunking import Chunk
from preannotate.correction import compare_run, pull_run
from preannotate.correction.pull import NOT_IN_PROJECT, open_session
from preannotate.exports import ItemChunks, annotation_classes, write_exports
from preannotate.options import AnnotationOptions, CorrectionOptions, SuperAnnotateOptions
from preannotate.superannotate import preflight, upload_run

PROJECT = "Corrections"
ANNOTATION = AnnotationOptions()
US = 1_000_000

# (start, end, text, needs_review, mean word probability) per draft chunk.
TALK = [
    (0.0, 2.0, "Hello world.", False, 0.95),
    (2.5, 4.5, "The quick brown fox.", True, 0.40),  # annotator: brown -> red
    (5.0, 6.5, "jumps over the dog.", False, 0.90),  # annotator: end moved 6.5 -> 6.8 s
    (7.0, 8.0, "Thank you.", True, 0.30),  # annotator: deleted
    (8.5, 11.5, "Then we split this long sentence here.", True, 0.45),  # annotator: split at 10.000023 s
]
FOX = [(0.0, 1.2, "The quick brown fox", False, 0.9), (1.2, 2.8, "jumps over the lazy dog.", True, 0.6)]
COUNT = [(0.2, 2.9, "Counting slowly.", False, 0.85)]
SPLIT_AT = 10_000_023  # µs: 220500.507 samples at 22.05 kHz, so clips test the rounding
FOX_DURATION = 46218 / 16000  # samples/en/quick_brown_fox.wav
COUNT_DURATION = 47771 / 16000  # samples/en/counting.wav


def chunks(spec: list[tuple]) -> list[Chunk]:
    return [
        Chunk(i, s, e, t, mean_word_probability=p, needs_review=r, review_reason="low_word_probability" if r else "")
        for i, (s, e, t, r, p) in enumerate(spec)
    ]


def make_run(root: Path) -> tuple[Path, Path]:
    """An input folder of real audio and a finished run over it, written without the model."""
    inp, out = root / "in", root / "out"
    inp.mkdir()
    talk = np.zeros(12 * 16000, dtype=np.float32)
    for offset, name in ((0.0, "hello_world"), (2.5, "quick_brown_fox"), (8.5, "counting")):
        speech = read_sample(f"en/{name}")
        talk[int(offset * 16000) : int(offset * 16000) + len(speech)] = speech
    write_wav16(inp / "talk.wav", talk)
    for item, name in (("fox.wav", "quick_brown_fox"), ("hello.wav", "hello_world"), ("count.wav", "counting")):
        shutil.copy(SAMPLES / "en" / f"{name}.wav", inp / item)
    entries = [
        ItemChunks("talk.wav", "talk.wav", "en", 12.0, chunks(TALK)),
        ItemChunks("fox.wav", "fox.wav", "en", FOX_DURATION, chunks(FOX)),
        ItemChunks("hello.wav", "hello.wav", "en", 18294 / 16000, chunks([(0.0, 1.1, "Hello world.", False, 0.9)])),
        ItemChunks("count.wav", "count.wav", "en", COUNT_DURATION, chunks(COUNT)),
    ]
    write_exports(out, entries, ANNOTATION)
    files = [{"item": e.item, "source": e.source, "status": "ok", "language": "en", "duration": e.duration}
             for e in entries]  # fmt: skip
    run = {"files": files, "config": {"input": {"dir": str(inp)}, "output": {"dir": str(out)}}}
    (out / "run.json").write_text(json.dumps(run))
    return inp, out


def sa_options() -> SuperAnnotateOptions:
    return SuperAnnotateOptions(project=PROJECT, url_prefix="https://media.example.org/a", backoff_seconds=0.0)


def upload(inp: Path, out: Path) -> None:
    opts = sa_options()
    report = upload_run(out, opts, ANNOTATION, inp, preflight(opts), classes=annotation_classes(ANNOTATION))
    assert len(report.succeeded) == 4, report.items


# What annotators do in the editor, on the annotation SuperAnnotate holds.
def set_text(annotation: dict, n: int, text: str) -> None:
    for stamp in annotation["instances"][n]["parameters"][0]["timestamps"]:
        for attribute in stamp["attributes"]:
            if attribute["groupName"] == ANNOTATION.text_group:
                attribute["name"] = text


def set_times(instance: dict, start: int, end: int) -> None:
    instance["meta"].update(start=start, end=end)
    parameter = instance["parameters"][0]
    parameter.update(start=start, end=end)
    parameter["timestamps"][0]["timestamp"], parameter["timestamps"][-1]["timestamp"] = start, end


def new_event(start: float, end: float, text: str | None) -> dict:
    s, e = round(start * US), round(end * US)
    attributes = [{"groupName": ANNOTATION.text_group, "name": text}] if text else []
    stamps = [{"timestamp": t, "attributes": copy.deepcopy(attributes)} for t in (s, e)]
    meta = {"type": "event", "className": ANNOTATION.class_name, "start": s, "end": e}
    return {"meta": meta, "parameters": [{"start": s, "end": e, "timestamps": stamps}]}


def annotate(server: SuperAnnotateServer) -> None:
    talk = server.annotation(PROJECT, "talk.wav")
    set_text(talk, 1, "The quick red fox.")
    set_times(talk["instances"][2], 5 * US, 6_800_000)
    first, second = copy.deepcopy(talk["instances"][4]), talk["instances"][4]
    set_times(first, 8_500_000, SPLIT_AT)
    set_times(second, SPLIT_AT, 11_500_000)
    talk["instances"][4:] = [first, second]
    set_text(talk, 4, "Then we split this")
    set_text(talk, 5, "long sentence here.")
    del talk["instances"][3]
    talk["instances"].append(new_event(11.6, 11.9, "See you."))
    server.set_annotation(PROJECT, "talk.wav", talk)
    count = server.annotation(PROJECT, "count.wav")
    count["instances"] += [new_event(1.0, 1.5, None), new_event(5.0, 6.0, "ghost words")]
    server.set_annotation(PROJECT, "count.wav", count)
    for item in ("talk.wav", "fox.wav"):
        server.set_status(PROJECT, item, "Completed")
    with server.state.lock:  # the item was removed from the project
        del server.state.items[server.project(PROJECT)["id"]]["hello.wav"]


@pytest.fixture
def corrected_run(sa_server: SuperAnnotateServer, tmp_path: Path) -> Path:
    """A run uploaded, corrected on the server and pulled; returns its output folder."""
    inp, out = make_run(tmp_path)
    upload(inp, out)
    annotate(sa_server)
    pull_run(out, PROJECT, open_session(sa_options()))
    return out


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


def test_figures_match_the_hand_computation(corrected_run: Path) -> None:
    result = compare_run(corrected_run, ANNOTATION, CorrectionOptions())
    items = result.items.set_index("item")
    assert result.problems == {"hello.wav": NOT_IN_PROJECT}
    talk = items.loc["talk.wav"]
    # Reference = corrected text, normalized (lower case, no punctuation), per group:
    #   hello world (2 words, 0 errors) | the quick red fox (4, 1 substitution: brown) | jumps over the dog (4, 0;
    #   end moved +300 ms) | deleted "thank you" (0, 2 insertions) | then we split this long sentence here (7, 0;
    #   split, outer boundaries kept) | added "see you" (2, 2 deletions).  19 words, 1 + 2 + 2 = 5 errors.
    assert (talk.ref_words, talk.substitutions, talk.deletions, talk.insertions, talk.hits) == (19, 1, 2, 2, 16)
    assert talk.wer == pytest.approx(5 / 19)
    # Characters (spaces count): 11 + 17 + 18 + 0 + 37 + 7 = 90; edits: red/brown 4, "thank you" 9, "see you" 7.
    assert (talk.ref_chars, talk.char_errors) == (90, 20) and talk.cer == pytest.approx(20 / 90)
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
    # Run: 19 + 9 + 2 = 30 reference words, 5 errors; 147 characters, 20 edits; 4 of 8 chunks untouched;
    # 8 + 4 + 2 = 14 boundaries; review: tp 2, fp 2 (split sentence, lazy dog), fn 0, tn 4.
    assert (run["items"], run["compared"], run["problems"]) == (4, 3, 1)
    assert run["wer"] == pytest.approx(5 / 30) and run["cer"] == pytest.approx(20 / 147)
    assert (run["draft_chunks"], run["untouched"], run["untouched_share"]) == (8, 4, 0.5)
    assert run["boundaries"] == 14 and run["mean_abs_shift_ms"] == pytest.approx(300 / 14)
    assert (run["review_precision"], run["review_recall"]) == (0.5, 1.0)

    groups = result.groups[result.groups["item"] == "talk.wav"]
    assert list(groups["kind"]) == ["matched", "matched", "matched", "deleted", "split", "added"]
    assert list(groups["end_shift_ms"].fillna(-1)) == [0.0, 0.0, 300.0, -1, 0.0, -1]
    chunk_rows = result.chunks[result.chunks["item"] == "talk.wav"]
    assert list(chunk_rows["mean_word_probability"]) == [0.95, 0.40, 0.90, 0.30, 0.45]


def test_any_change_counts_boundaries_and_splits(corrected_run: Path) -> None:
    result = compare_run(corrected_run, ANNOTATION, CorrectionOptions(changed="any"))
    # Now the retimed chunk (not flagged) is a miss and the split sentence (flagged) a hit: tp 3, fp 1, fn 1, tn 3.
    run = result.summary
    assert (run["review_tp"], run["review_fp"], run["review_fn"], run["review_tn"]) == (3, 1, 1, 3)
    assert (run["review_precision"], run["review_recall"]) == (0.75, 0.75)
