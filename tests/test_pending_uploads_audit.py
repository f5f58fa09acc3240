"""`pull`, `report` and `export` with uploads sent and never confirmed (`pending` in uploads.json).

A run stopped after SuperAnnotate took a batch, and before it recorded it, left the items holding drafts only
`pending` knows; a request that failed as a whole left one SuperAnnotate may not have taken. `upload` already
knows such drafts as its own; these tests hold `pull` (an item attached by such an upload is this run's, at the
URL it was sent with) and `report`/`export` (a correction is measured, and its keyframes read, against the draft
the annotator was shown, whichever upload that was) to the same. The real SDK talks to the loopback server;
the stop is a KeyboardInterrupt raised around the SDK's real upload call.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from support.correction_runs import (
    ANNOTATION,
    PROJECT,
    make_run,
    redraft_texts,
    sa_options,
    send,
    stopped,
    upload,
)
from support.sa_server import SuperAnnotateServer

from preannotate.correction import pull_run
from preannotate.correction.compare import compare_run
from preannotate.correction.dataset import export_dataset
from preannotate.correction.pull import load_pull, open_session
from preannotate.correction.rundata import nearest_draft
from preannotate.errors import UploadError
from preannotate.options import CorrectionOptions, DatasetExportOptions, SuperAnnotateOptions
from preannotate.superannotate import LEDGER_FILE
from preannotate.superannotate.client import UploadSession

MOVED = "https://media.example.org/moved"  # where the audio lives after it moved (the run's first prefix: .../a)
CONFIRMED = ["The quick brown fox", "jumps over the lazy dog."]  # fox.wav's draft as `make_run` writes it
REDRAFT = ["A quick brown fox", "jumped over a lazy dog"]  # a second model's, at the same times
THIRD = ["Quick brown fox", "jumping over lazy dogs"]


def lost(inp: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An upload whose every request fails as a whole: SuperAnnotate took nothing, the sends stay unconfirmed."""

    def fail(self, project, annotations):
        raise UploadError("503 Service Unavailable")

    with monkeypatch.context() as patch:
        patch.setattr(UploadSession, "upload", fail)
        assert send(inp, out).failed


def correct(server: SuperAnnotateServer, text: str, keyframe: int | None = None) -> None:
    """An annotator's fix of fox.wav's first event (at one keyframe, or all), and its status Completed."""
    annotation = server.annotation(PROJECT, "fox.wav")
    stamps = annotation["instances"][0]["parameters"][0]["timestamps"]
    for stamp in stamps if keyframe is None else [stamps[keyframe]]:
        for attribute in stamp["attributes"]:
            if attribute["groupName"] == ANNOTATION.text_group:
                attribute["name"] = text
    server.set_annotation(PROJECT, "fox.wav", annotation)
    server.set_status(PROJECT, "fox.wav", "Completed")


def pending(out: Path) -> dict:
    (target,) = json.loads((out / LEDGER_FILE).read_text())["targets"].values()
    return target.get("pending", {})


def pulled(out: Path, opts: SuperAnnotateOptions | None = None) -> dict:
    opts = opts or sa_options()
    pull_run(out, opts.project or "", open_session(opts))
    return {i.item: i for i in load_pull(out).items}


def draft_texts(out: Path, item: str = "fox.wav") -> tuple[list[str], str]:
    """The draft texts `report` measured the item's correction against, and the item's notes."""
    result = compare_run(out, ANNOTATION, CorrectionOptions())
    chunks = result.chunks[result.chunks["item"] == item].sort_values("chunk")
    notes = result.items.set_index("item").loc[item, "notes"]
    return list(chunks["text"]), notes if isinstance(notes, str) else ""


# pull


def test_an_item_an_unconfirmed_upload_attached_at_the_audios_new_url_is_pulled(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inp, out = make_run(tmp_path)
    send(inp, out)  # every item confirmed at https://media.example.org/a/<item>
    sa_server.delete_item(PROJECT, "hello.wav")  # a manager removed it; the audio has moved since
    stopped(inp, out, monkeypatch, opts=replace(sa_options(), url_prefix=MOVED), force=True)
    assert sa_server.items(PROJECT)["hello.wav"]["url"] == f"{MOVED}/hello.wav"  # attached anew, then sent
    assert pending(out)["hello.wav"][0]["url"] == f"{MOVED}/hello.wav"
    sa_server.set_status(PROJECT, "hello.wav", "Completed")  # the annotator's verdict on this run's draft
    sa_server.delete_item(PROJECT, "count.wav")  # and someone else's count.wav takes that name: still not ours
    sa_server.add_item(PROJECT, "count.wav", "https://other-team.example/private/count.wav", status="Completed")
    sa_server.set_annotation(PROJECT, "count.wav", {**sa_server.annotation(PROJECT, "fox.wav"), "metadata": {
        "name": "count.wav"}})  # fmt: skip

    items = pulled(out)
    assert items["hello.wav"].problem is None and items["hello.wav"].file == "corrected/hello.wav.json"
    assert (out / "corrected" / "hello.wav.json").is_file()
    assert "not this run's item: it plays https://other-team.example/private/count.wav" in items["count.wav"].problem
    assert items["count.wav"].file is None


def test_an_item_is_pulled_from_the_project_its_upload_gave_an_older_url(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    """uploads.json knew only each item's newest URL over all projects: the first project's items were foreign."""
    inp, out = make_run(tmp_path)
    send(inp, out)  # Corrections, at https://media.example.org/a/<item>
    send(inp, out, replace(sa_options(), project="Second pass", url_prefix=MOVED))  # later, the audio moved
    sa_server.set_status(PROJECT, "fox.wav", "Completed")

    items = pulled(out)
    assert {name for name, i in items.items() if i.file} == {"talk.wav", "fox.wav", "hello.wav", "count.wav"}
    assert not any(i.problem for i in items.values())


# report


def test_report_measures_against_the_unconfirmed_draft_superannotate_took(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inp, out = make_run(tmp_path)
    upload(inp, out)  # the first drafts, confirmed
    redraft_texts(out, REDRAFT)
    stopped(inp, out, monkeypatch)  # the second drafts arrived, unrecorded
    assert list(pending(out)) == ["fox.wav"]
    correct(sa_server, "A quick red fox")  # the annotator saw, and fixed, the second draft
    assert pulled(out)["fox.wav"].file

    texts, notes = draft_texts(out)
    assert texts == REDRAFT, "compared with a draft the annotator never saw"
    assert "sent and not confirmed" in notes and "nearest the correction of the 2 uploads" in notes


def test_report_measures_against_the_confirmed_draft_when_the_newer_send_never_arrived(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not the newest send whatever happened: one that never arrived was never shown to anyone (right before too)."""
    inp, out = make_run(tmp_path)
    upload(inp, out)
    redraft_texts(out, REDRAFT)
    lost(inp, out, monkeypatch)  # SuperAnnotate still holds the first drafts
    assert list(pending(out)) == ["fox.wav"]
    correct(sa_server, "The quick red fox")
    pulled(out)

    texts, _ = draft_texts(out)
    assert texts == CONFIRMED


def test_report_measures_against_the_unconfirmed_draft_that_arrived_not_a_later_one_that_did_not(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No upload confirmed: the item's only uploads are pending, the newest of them never arrived."""
    inp, out = make_run(tmp_path)
    stopped(inp, out, monkeypatch)  # the first drafts arrived, unrecorded
    redraft_texts(out, REDRAFT)
    lost(inp, out, monkeypatch)  # the second never did
    assert len(pending(out)["fox.wav"]) == 2
    correct(sa_server, "The quick red fox")
    items = pulled(out)  # an item whose only uploads are unconfirmed is this run's
    assert {name for name, i in items.items() if i.file} == {"talk.wav", "fox.wav", "hello.wav", "count.wav"}

    texts, notes = draft_texts(out)
    assert texts == CONFIRMED and "sent and not confirmed" in notes


def test_export_reads_a_keyframe_against_the_draft_the_annotator_saw(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value differing from the draft is the annotator's: against an unseen draft, the one left as sent won."""
    inp, out = make_run(tmp_path)
    upload(inp, out)
    redraft_texts(out, REDRAFT)
    stopped(inp, out, monkeypatch)
    correct(sa_server, "Corrected by hand", keyframe=0)  # the end keyframe still holds the second draft's text
    pulled(out)

    export_dataset(out, DatasetExportOptions(min_duration=0.1), ANNOTATION)
    segments = pd.read_csv(out / "dataset" / "segments.csv")
    fox = segments[segments["item"] == "fox.wav"].sort_values("segment")
    assert list(fox["text"]) == ["Corrected by hand", REDRAFT[1]]


# the choice itself


def event(start: int, end: int, text: str) -> dict:
    stamps = [{"timestamp": t, "attributes": [{"groupName": "Text", "name": text}]} for t in (start, end)]
    return {"meta": {"type": "event", "start": start, "end": end}, "parameters": [{"timestamps": stamps}]}


def test_the_nearest_draft_is_chosen_the_first_on_a_tie_and_malformed_parts_are_no_evidence() -> None:
    first = {"instances": [event(0, 10, "hello world"), event(10, 20, "one two")]}
    second = {"instances": [event(0, 12, "hallo world"), event(12, 20, "one two three")]}
    edited = {"instances": [event(0, 12, "hallo word"), event(12, 20, "one two three")]}
    assert nearest_draft(edited, [first, second]) == 1 and nearest_draft(edited, [second, first]) == 0
    assert nearest_draft(first, [first, first]) == 0
    broken = {"instances": [7, {"meta": [1], "parameters": "x"}, {"meta": {"start": [1]}, "parameters": [None]}]}
    assert nearest_draft(broken, [first, second]) == 0 and nearest_draft(None, [second, first]) == 0
    assert nearest_draft(edited, [broken, second]) == 1
