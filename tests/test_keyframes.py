"""Corrections are read as the annotator left them: every keyframe of an event counts (issue 11).

Unit tests of the pure rule (`preannotate.correction.keyframes`, `events.parse_annotation` with a
draft), then loopback tests with the real SDK: a fix at the end keyframe, at a new middle
keyframe, and at both, each pulled, compared and reported with the WER worked out by hand.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import pytest
from support.correction_runs import ANNOTATION, PROJECT, US, make_run, run_cli, sa_options, upload
from support.sa_server import SuperAnnotateServer

from preannotate.correction import compare_run, pull_run
from preannotate.correction.dataset import export_dataset
from preannotate.correction.events import parse_annotation
from preannotate.correction.keyframes import keyframe_values, read_group, settle
from preannotate.correction.pull import open_session
from preannotate.correction.report import write_report
from preannotate.options import CorrectionOptions, DatasetExportOptions

TEXT, REVIEW, REASON = ANNOTATION.text_group, ANNOTATION.review_group, ANNOTATION.reason_group


def stamp(t: float, text: str | None = None, review: str | None = None, reasons: tuple = ()) -> dict:
    attributes = [{"groupName": TEXT, "name": text}] if text is not None else []
    attributes += [{"groupName": REVIEW, "name": review}] if review is not None else []
    attributes += [{"groupName": REASON, "name": r} for r in reasons]
    return {"timestamp": round(t * US), "attributes": attributes}


def event(start: float, end: float, *stamps: dict) -> dict:
    s, e = round(start * US), round(end * US)
    meta = {"type": "event", "className": ANNOTATION.class_name, "start": s, "end": e}
    return {"meta": meta, "parameters": [{"start": s, "end": e, "timestamps": list(stamps)}]}


def annotation(*instances: dict) -> dict:
    return {"metadata": {"name": "a.wav", "duration": 60 * US}, "instances": list(instances)}


def draft_event(start: float, end: float, text: str, review: str = "ok", reasons: tuple = ()) -> dict:
    return event(start, end, stamp(start, text, review, reasons), stamp(end, text, review, reasons))


# The pure rule.


def test_settle_prefers_changed_values_then_the_latest_keyframe() -> None:
    a, b, c = ("a",), ("b",), ("c",)
    assert settle([(0, a), (10, a)], a) == a  # all agree
    assert settle([(0, a), (10, b)], a) == b  # fixed at the end keyframe
    assert settle([(0, b), (10, a)], a) == b  # fixed at the start keyframe: changed beats the later draft value
    assert settle([(0, a), (5, b), (10, a)], a) == b  # fixed at a new middle keyframe
    assert settle([(0, b), (10, c)], a) == c  # start and end changed differently: the latest wins
    assert settle([(0, b), (5, c), (10, a)], a) == c  # the latest of the changed values, not the latest keyframe
    assert settle([(0, a), (10, b)], None) == b  # an added event (no draft value): the latest wins
    assert settle([(0, b), (10, c)], a) == c and settle([], a) is None


def test_keyframe_values_skip_empty_keyframes_and_read_checklists_as_sets() -> None:
    parameters = [{"timestamps": [stamp(2, "late"), stamp(0), stamp(1, "early", reasons=("y", "x"))]}]
    assert keyframe_values(parameters, TEXT) == [(1 * US, ("early",)), (2 * US, ("late",))]  # sorted, empty skipped
    assert keyframe_values(parameters, REASON, multiple=True) == [(1 * US, ("x", "y")), (2 * US, ())]
    assert keyframe_values(parameters, REVIEW) == []  # a single-valued group counts only where it is set
    value, found = read_group(parameters, 3, TEXT, False, ("early",))
    assert value == ("late",) and found is not None
    assert found.message == (
        "event 3: Content differs between keyframes ('early' at 1.000 s, 'late' at 2.000 s): "
        "took 'late' (changed from the draft 'early')"
    )
    assert read_group([{"timestamps": [stamp(0, "same"), stamp(1, "same")]}], 0, TEXT, False, None) == (
        ("same",),
        None,
    )


def parse_with_draft(draft_instance: dict, corrected_instance: dict):
    return parse_annotation(annotation(corrected_instance), ANNOTATION, draft=annotation(draft_instance))


def test_every_group_is_read_as_the_annotator_left_it() -> None:
    draft = draft_event(1, 3, "the draft", "needs_review", ("repetition",))
    # Agreeing keyframes: nothing to report.
    agreed = parse_with_draft(draft, copy.deepcopy(draft))
    assert agreed.events[0].text == "the draft" and agreed.disagreements == ()
    assert (agreed.events[0].needs_review, agreed.events[0].review_reasons) == (True, ("repetition",))
    # Text fixed at the end keyframe, Review set to ok and its reason unticked there too.
    end = event(1, 3, stamp(1, "the draft", "needs_review", ("repetition",)), stamp(3, "the fix", "ok"))
    parsed = parse_with_draft(draft, end)
    assert (parsed.events[0].text, parsed.events[0].needs_review, parsed.events[0].review_reasons) == (
        "the fix", False, ()
    )  # fmt: skip
    assert [d.group for d in parsed.disagreements] == [TEXT, REVIEW, REASON]
    # A middle keyframe added by the editor with the fix; start and end keep the draft.
    middle = copy.deepcopy(draft)
    middle["parameters"][0]["timestamps"].insert(1, stamp(2, "the fix", "needs_review", ("repetition",)))
    assert parse_with_draft(draft, middle).events[0].text == "the fix"
    # Start and end changed differently: the latest wins; the first keyframe no longer decides.
    both = event(1, 3, stamp(1, "first fix", "needs_review"), stamp(3, "second fix", "needs_review"))
    assert parse_with_draft(draft, both).events[0].text == "second fix"
    # Only the start fixed: changed beats draft although the draft value is later.
    start = event(1, 3, stamp(1, "the fix", "needs_review"), stamp(3, "the draft", "needs_review"))
    assert parse_with_draft(draft, start).events[0].text == "the fix"


def test_corrected_events_find_their_draft_event() -> None:
    draft = annotation(draft_event(0, 2, "one"), draft_event(2, 4, "two"))
    start_fixed = (stamp(2.5, "fixed"), stamp(4.2, "two"))  # retimed 2..4 -> 2.5..4.2 and fixed at its start
    corrected = annotation(draft_event(0, 2, "one"), event(2.5, 4.2, *start_fixed), event(9, 10, *start_fixed))
    parsed = parse_annotation(corrected, ANNOTATION, draft=draft)
    # The retimed event overlaps draft event "two" most: its changed start keyframe wins. The added event
    # (no draft event under it) has no draft value: its latest keyframe wins.
    assert [e.text for e in parsed.events] == ["one", "fixed", "two"]
    assert [d.draft for d in parsed.disagreements] == [("two",), None]
    assert "no draft value" in parsed.disagreements[1].message
    # Without the draft the latest keyframe wins everywhere; a malformed draft counts as none.
    assert [e.text for e in parse_annotation(corrected, ANNOTATION).events] == ["one", "two", "two"]
    assert [e.text for e in parse_annotation(corrected, ANNOTATION, draft={"bad": 1}).events] == ["one", "two", "two"]


# Against the loopback server with the real SDK: fox.wav's draft is "The quick brown fox" (0-1.2 s) and
# "jumps over the lazy dog." (1.2-2.8 s): 4 + 5 = 9 reference words.


def at_keyframe(instance: dict, seconds: float, text: str) -> None:
    """Sets the text at the keyframe at `seconds`, adding one there (a copy of the one before) as the editor does."""
    stamps, t = instance["parameters"][0]["timestamps"], round(seconds * US)
    found = next((s for s in stamps if s["timestamp"] == t), None)
    if found is None:
        found = copy.deepcopy(max((s for s in stamps if s["timestamp"] < t), key=lambda s: s["timestamp"]))
        found["timestamp"] = t
        stamps.append(found)
        stamps.sort(key=lambda s: s["timestamp"])
    for attribute in found["attributes"]:
        if attribute["groupName"] == TEXT:
            attribute["name"] = text


# scenario -> (instance, [(keyframe seconds, text)], the text read back, substitutions among 9 words)
SCENARIOS = {
    "end": (0, [(1.2, "The quick red fox")], "The quick red fox", 1),
    "middle": (1, [(2.0, "jumps over the sleepy dog.")], "jumps over the sleepy dog.", 1),
    "middle and end": (0, [(0.6, "The quick red fox"), (1.2, "A quick red fox.")], "A quick red fox.", 2),
}


def corrected_fox(server: SuperAnnotateServer, tmp_path: Path, scenario: str) -> Path:
    inp, out = make_run(tmp_path)
    upload(inp, out)
    n, edits, _, _ = SCENARIOS[scenario]
    fox = server.annotation(PROJECT, "fox.wav")
    for seconds, text in edits:
        at_keyframe(fox["instances"][n], seconds, text)
    assert fox["instances"][n]["parameters"][0]["timestamps"][0]["attributes"][0]["name"] != SCENARIOS[scenario][2]
    server.set_annotation(PROJECT, "fox.wav", fox)
    server.set_status(PROJECT, "fox.wav", "Completed")
    pull_run(out, PROJECT, open_session(sa_options()))
    return out


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_a_fix_at_any_keyframe_is_read_back_and_counted(sa_server, tmp_path: Path, scenario: str) -> None:
    out = corrected_fox(sa_server, tmp_path, scenario)
    n, _, text, substitutions = SCENARIOS[scenario]
    result = compare_run(out, ANNOTATION, CorrectionOptions())
    fox = result.items.set_index("item").loc["fox.wav"]
    # Reference: the fixed text; the draft differs by `substitutions` words of 9 (brown->red, the->a, lazy->sleepy).
    assert (fox.ref_words, fox.substitutions, fox.deletions, fox.insertions) == (9, substitutions, 0, 0)
    assert fox.wer == pytest.approx(substitutions / 9) and fox.untouched == 1 and fox.edited == 1
    assert fox.keyframe_disagreements == 1 and "Content differs between keyframes" in fox.notes
    assert list(result.groups[result.groups["item"] == "fox.wav"]["corrected_text"])[n] == text

    write_report(result, out / "correction")
    summary = json.loads((out / "correction" / "summary.json").read_text())
    assert (summary["summary"]["keyframe_disagreements"], summary["summary"]["items_with_disagreements"]) == (1, 1)
    (message,) = summary["keyframe_disagreements"]["fox.wav"]
    assert message.startswith(f"event {n}: Content differs") and f"took {text!r}" in message
    # The other items are not Completed, so not compared: run WER is fox.wav's alone.
    assert summary["summary"]["wer"] == pytest.approx(substitutions / 9)
    page = (out / "correction" / "report.html").read_text()
    headline = page.split("<h2>")[0]
    assert "1 keyframe disagreement(s) in 1 item(s)" in headline, headline


def test_export_and_console_read_the_end_keyframe_fix(sa_server, tmp_path: Path) -> None:
    out = corrected_fox(sa_server, tmp_path, "end")
    export = export_dataset(out, DatasetExportOptions(dir=str(tmp_path / "dataset")), ANNOTATION)
    texts = pd.read_json(tmp_path / "dataset" / "metadata.jsonl", lines=True, dtype=False)["transcription"]
    assert list(texts) == ["The quick red fox", "jumps over the lazy dog."]
    assert any("Content differs between keyframes" in n for n in export.notes["fox.wav"])
    reported = run_cli("report", "-o", str(out), "--set", f"superannotate.project={PROJECT}")
    assert reported.returncode == 0, reported.stderr
    assert "1 keyframe disagreement(s) in 1 item(s)" in reported.stdout.splitlines()[0]
    assert "items with keyframe disagreements" in reported.stdout
    assert "fox.wav: 1 keyframe disagreement(s)" in reported.stderr
