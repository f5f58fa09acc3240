"""The correction workflow's pure parts and its handling of bad input, without a server."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support.correction_runs import ANNOTATION, TALK, make_run, new_event

from preannotate.correction import compare_run
from preannotate.correction.align import align
from preannotate.correction.clips import resample, sample_span
from preannotate.correction.events import Event, parse_annotation
from preannotate.correction.metrics import review_counts, score_texts
from preannotate.correction.pull import PULLED_FILE
from preannotate.correction.report import write_report
from preannotate.errors import CorrectionError
from preannotate.options import CorrectionOptions
from preannotate.text_normalize import text_normalizer


def ev(index: int, start: float, end: float, text: str = "x") -> Event:
    return Event(index, round(start * 1e6), round(end * 1e6), text)


def kinds(draft: list[Event], corrected: list[Event], **kw) -> list[tuple[str, list[int], list[int]]]:
    return [(g.kind, [e.index for e in g.draft], [e.index for e in g.corrected]) for g in align(draft, corrected, **kw)]


def test_alignment_recognizes_every_kind_of_edit() -> None:
    draft = [ev(0, 0, 2, "a b"), ev(1, 2, 3, "c"), ev(2, 3, 4, "d"), ev(3, 5, 7, "e f"), ev(4, 8, 9, "g"),
             ev(5, 10, 11, "h"), ev(6, 20, 21, "same words")]  # fmt: skip
    corrected = [ev(0, 0, 1, "a"), ev(1, 1, 2, "b"),  # chunk 0 split
                 ev(2, 2, 4, "c d"),  # chunks 1 and 2 merged
                 ev(3, 5.2, 7.4, "e f"),  # chunk 3 retimed; its 0.4 s sliver into nothing links nothing
                 ev(4, 10.9, 12, "h"),  # chunk 5 moved too far to link by time: paired by text; chunk 4 deleted
                 ev(5, 30, 31, "Same words!")]  # fmt: skip  # chunk 6 moved far: paired by its text
    assert kinds(draft, corrected, key=lambda t: "".join(c for c in t.lower() if c.isalnum() or c == " ")) == [
        ("split", [0], [0, 1]),
        ("merged", [1, 2], [2]),
        ("matched", [3], [3]),
        ("deleted", [4], []),
        ("moved", [5], [4]),
        ("moved", [6], [5]),
    ]


def test_regrouped_stretch_and_overlap_share() -> None:
    draft = [ev(0, 0, 2), ev(1, 2, 4)]
    corrected = [ev(0, 0, 1), ev(1, 1, 3), ev(2, 3, 4)]  # the middle one covers half of each
    assert kinds(draft, corrected) == [("regrouped", [0, 1], [0, 1, 2])]
    # An event over 40% of a chunk (and of itself) links at min_overlap 0.4, not at 0.5.
    assert kinds([ev(0, 0, 10, "a")], [ev(0, 6, 16, "b")], min_overlap=0.5)[0][0] == "deleted"
    assert kinds([ev(0, 0, 10, "a")], [ev(0, 6, 16, "b")], min_overlap=0.4)[0][0] == "matched"


def test_scores_count_empty_sides_and_use_the_language() -> None:
    assert score_texts("", "thank you").insertions == 2 and score_texts("see you", "").deletions == 2
    assert score_texts("", "").wer is None
    en, es, zh = text_normalizer("en"), text_normalizer("es"), text_normalizer("zh")
    assert en("Mr. Smith's colour, um, OK?") == en("mister smith's color ok")  # spelling, fillers, punctuation
    assert es("¿Qué tal, Señor?").split() == ["qué", "tal", "señor"] and es("Que tal") != es(
        "Qué tal"
    )  # accents matter in Spanish
    score = score_texts(zh("我爱你"), zh("我恨你"), unspaced=True)
    assert (score.ref_words, score.substitutions, score.ref_chars, score.char_errors) == (3, 1, 3, 1)


def test_an_ellipsis_the_annotator_adds_is_no_word() -> None:
    """Whisper's English normalizer keeps a lone "." of a final "..."; it must not count as an inserted word."""
    en = text_normalizer("en")
    for corrected in ("At the tone, the time will be exactly...", "exactly . . .", "exactly …"):
        draft = "at the tone the time will be exactly" if corrected.startswith("At") else "exactly"
        assert score_texts(en(corrected), en(draft)).errors == 0, corrected
    assert en("It costs $28.8, or 5%...") == "it costs $28.8 or 5%"  # the symbols of numbers stay
    assert en("...") == ""


def test_review_counts_leave_out_chunks_without_a_flag() -> None:
    counts = review_counts([True, True, False, None, False], [True, False, True, True, False])
    assert (counts["review_tp"], counts["review_fp"], counts["review_fn"], counts["review_tn"]) == (1, 1, 1, 1)
    assert review_counts([False], [False])["review_precision"] is None


def test_parser_reports_events_it_cannot_use() -> None:
    annotation = {"metadata": {"name": "a.wav", "duration": 3_000_000}, "instances": [
        new_event(0.5, 1.0, "kept"), new_event(1.0, 1.5, None), new_event(2.5, 3.5, "cut at the end"),
        new_event(4.0, 5.0, "outside"), {"meta": {"type": "bbox"}}, new_event(2.0, 2.0, "no length"),
    ]}  # fmt: skip
    annotation["instances"][0]["meta"]["className"] = ANNOTATION.class_name
    parsed = parse_annotation(annotation, ANNOTATION)
    assert [(e.text, e.start_us, e.end_us) for e in parsed.events] == [
        ("kept", 500_000, 1_000_000), ("cut at the end", 2_500_000, 3_000_000)
    ]  # fmt: skip
    notes = " | ".join(parsed.notes)
    for expected in ("event 1: 1.000-1.500 s has no text", "event 2: 2.500-3.500 s ends after the audio: cut at 3.000",
                     "event 3: 4.000-5.000 s lies outside the audio", "event 4: not an event",
                     "event 5: times 2000000..2000000"):  # fmt: skip
        assert expected in notes
    for bad in (None, [], {"instances": []}, {"metadata": {}, "instances": {"0": {}}}):
        with pytest.raises(CorrectionError):
            parse_annotation(bad, ANNOTATION)


def test_every_bad_item_gets_its_own_message_and_the_rest_is_compared(tmp_path: Path) -> None:
    _, out = make_run(tmp_path)  # no upload: no ledger, drafts come from superannotate/<item>.json
    (out / "corrected").mkdir()
    talk = json.loads((out / "superannotate" / "talk.wav.json").read_text())
    (out / "corrected" / "talk.wav.json").write_text(json.dumps(talk))
    (out / "corrected" / "fox.wav.json").write_text("{not json")
    (out / "corrected" / "count.wav.json").write_text(json.dumps({"metadata": {"name": "count.wav"}}))
    (out / "superannotate" / "hello.wav.json").unlink()
    (out / "corrected" / "hello.wav.json").write_text(json.dumps(talk))
    items = [{"item": i, "status": "Completed", "file": f"corrected/{i}.json", "problem": None, "selected": True}
             for i in ("talk.wav", "fox.wav", "count.wav", "hello.wav")]  # fmt: skip
    items.append({"item": "gone.wav", "status": None, "file": None, "problem": "no longer in the project"})
    pulled = {"format": 1, "project": "P", "target": "t", "statuses": [], "pulled_at": "now", "items": items}
    (out / PULLED_FILE).write_text(json.dumps(pulled))

    result = compare_run(out, ANNOTATION, CorrectionOptions())
    problems = result.problems
    assert set(problems) == {"fox.wav", "count.wav", "hello.wav", "gone.wav"}
    assert "not valid JSON" in problems["fox.wav"]
    assert problems["count.wav"] == "the corrected annotation is malformed: its instances are not a list"
    assert problems["hello.wav"].startswith("no draft") and problems["gone.wav"] == "no longer in the project"
    talk_row = result.items.set_index("item").loc["talk.wav"]
    assert talk_row.untouched == len(TALK) and talk_row.wer == 0.0 and "not in the upload ledger" in talk_row.notes
    assert result.summary["compared"] == 1


def test_compare_without_a_pull_says_what_to_do(tmp_path: Path) -> None:
    _, out = make_run(tmp_path)
    with pytest.raises(CorrectionError, match="preannotate pull"):
        compare_run(out, ANNOTATION, CorrectionOptions())


def test_sample_spans_round_half_up_in_integers() -> None:
    assert sample_span(0, 1_000_000, 16000) == (0, 16000)
    assert sample_span(31, 94, 16000) == (0, 2)  # 0.496 -> 0 and 1.504 -> 2
    assert sample_span(31_250, 93_750, 16000) == (500, 1500)
    assert sample_span(10_000_023, 11_500_000, 22050) == (220501, 253575)
    for start, end, rate in ((123_457, 2_000_001, 44100), (1, 999_999, 8000)):
        first, last = sample_span(start, end, rate)
        assert len(np.zeros(10**6)[first:last]) == last - first == round(end * rate / 1e6) - round(start * rate / 1e6)


def test_resampling_keeps_length_and_timing() -> None:
    impulse = np.zeros(32000, dtype=np.float32)
    impulse[8000] = 1.0  # at 0.5 s
    for rate in (8000, 22050, 44100):
        out = resample(impulse, 16000, rate)
        assert len(out) == 2 * rate and int(np.argmax(np.abs(out))) == rate // 2


def test_report_is_written_when_no_item_could_be_compared(tmp_path: Path) -> None:
    _, out = make_run(tmp_path)
    items = [{"item": "talk.wav", "status": None, "file": None, "problem": "no longer in the project"}]
    pulled = {"format": 1, "project": "P", "target": "t", "statuses": [], "pulled_at": "now", "items": items}
    (out / PULLED_FILE).write_text(json.dumps(pulled))
    result = compare_run(out, ANNOTATION, CorrectionOptions())
    page = write_report(result, out / "correction").read_text()
    assert "no longer in the project" in page and page.count("data:image/png;base64,") == 3
    assert result.summary["wer"] is None and result.summary["compared"] == 0
