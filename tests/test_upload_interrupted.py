"""An upload stopped between sending a batch and recording it: the next run still knows those items its own.

The ledger records what a batch is about to send (`pending`, with a copy) before sending it. Without that, a
stop after SuperAnnotate took the batch and before `uploads.json` was saved left items holding this folder's
drafts with no record of them: a re-run with better drafts kept them as "human-edited", and only
`--overwrite-human-edits`, which also replaces real corrections, would move them on. The real SDK talks to the
loopback server; the stop is a KeyboardInterrupt raised around the SDK's real upload call.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.sa_server import SuperAnnotateServer
from support.upload_runs import (
    edit,
    first_texts,
    items_of,
    make_run,
    options,
    redraft,
    run_upload,
    video_json,
    write_json,
)

from preannotate.correction.rundata import draft_for
from preannotate.errors import UploadError
from preannotate.superannotate import LEDGER_FILE, Ledger
from preannotate.superannotate.client import UploadSession

PROJECT = "Podcasts"
FIRST, SECOND, THIRD = items_of()


def stopped(root: Path, monkeypatch: pytest.MonkeyPatch, after_sending: bool = True) -> None:
    """Runs the upload with Ctrl-C coming just after (or just before) SuperAnnotate takes the first batch."""
    real_upload = UploadSession.upload

    def upload_then_stop(self, project, annotations):
        if after_sending:
            real_upload(self, project, annotations)
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(UploadSession, "upload", upload_then_stop)
        with pytest.raises(KeyboardInterrupt):
            run_upload(root, options())


def ledger_of(out: Path) -> dict:
    return json.loads((out / LEDGER_FILE).read_text())


def test_a_stop_after_the_server_took_the_batch_leaves_the_items_this_folders(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out = make_run(tmp_path)
    stopped(tmp_path, monkeypatch)
    assert first_texts(sa_server) == {FIRST: "hello 0", SECOND: "hello 1", THIRD: "hello 2"}  # the batch went up
    (target,) = ledger_of(out)["targets"].values()
    assert target["items"] == {} and sorted(target["pending"]) == sorted(items_of())
    redraft(out)

    report = run_upload(tmp_path, options())
    assert sorted(report.succeeded) == sorted(items_of()) and report.kept_human_edits == []
    assert set(first_texts(sa_server).values()) == {f"another model {item}" for item in items_of()}
    (target,) = ledger_of(out)["targets"].values()
    assert sorted(target["items"]) == sorted(items_of()) and target["pending"] == {}


def test_an_edit_made_after_the_stop_is_kept(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out = make_run(tmp_path)
    stopped(tmp_path, monkeypatch)
    edited = edit(sa_server, FIRST, "Fixed by hand.")  # an annotator opened it before the re-run
    redraft(out)

    report = run_upload(tmp_path, options())
    assert sa_server.annotation(PROJECT, FIRST) == edited and report.kept_human_edits == [FIRST]
    assert sorted(report.succeeded) == sorted([SECOND, THIRD])
    assert FIRST in ledger_of(out)["targets"][report.target]["pending"]  # still unconfirmed: never replaced


def test_a_stop_before_sending_uploads_everything_next_time(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out = make_run(tmp_path)
    stopped(tmp_path, monkeypatch, after_sending=False)
    assert not sa_server.upload_counts  # nothing went up
    redraft(out)

    report = run_upload(tmp_path, options())
    assert sorted(report.succeeded) == sorted(items_of()) and report.kept_human_edits == []
    assert set(first_texts(sa_server).values()) == {f"another model {item}" for item in items_of()}


def test_a_damaged_pending_record_is_named_and_its_item_judged_without_it(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out = make_run(tmp_path)
    stopped(tmp_path, monkeypatch)
    data = ledger_of(out)
    (key,) = data["targets"]
    data["targets"][key]["pending"][FIRST] = {"sha256": 7, "copy": None}
    (out / LEDGER_FILE).write_text(json.dumps(data))
    redraft(out)

    report = run_upload(tmp_path, options())
    assert any(LEDGER_FILE in w and repr(FIRST) in w and "malformed" in w for w in report.warnings)
    assert report.kept_human_edits == [FIRST]  # no proof left that the draft on the server is this folder's
    assert sorted(report.succeeded) == sorted([SECOND, THIRD])
    assert list(out.glob(f"{LEDGER_FILE}.invalid-*"))  # the damaged original is kept


def test_recording_the_upload_clears_what_was_pending(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path, {"format": 1, "targets": {}})
    meta = {"host": "h", "team_id": 1, "project": PROJECT}
    first, second = ({"metadata": {"name": FIRST}, "instances": [], "tags": [n]} for n in ("v1", "v2"))
    ledger.begin("t", meta, FIRST, first, "https://media.example.org/a.wav")
    ledger.begin("t", meta, FIRST, second, "https://media.example.org/a.wav")
    ledger.save()
    sent = Ledger.load(tmp_path).sent("t", FIRST)
    assert [json.loads((tmp_path / s.copy).read_text()) for s in sent] == [first, second]  # oldest first
    assert {s.url for s in sent} == {"https://media.example.org/a.wav"}

    ledger.refused("t", FIRST, second)  # SuperAnnotate said it did not take it
    assert [s.sha256 for s in ledger.sent("t", FIRST)] == [sent[0].sha256]
    ledger.record("t", meta, FIRST, first, tmp_path / "a.json", sent[0].url)
    ledger.save()
    reread = Ledger.load(tmp_path)
    assert reread.sent("t", FIRST) == [] and reread.entry("t", FIRST) is not None and not reread.problems


def failing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every upload request fails as a whole (its answer lost): SuperAnnotate may or may not have taken it."""

    def lost(self, project, annotations):
        raise UploadError("503 Service Unavailable")

    monkeypatch.setattr(UploadSession, "upload", lost)


def test_a_send_that_failed_after_one_that_arrived_hides_neither(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out = make_run(tmp_path)
    stopped(tmp_path, monkeypatch)  # the first drafts arrived, unrecorded
    redraft(out, "second")
    with monkeypatch.context() as patch:
        failing(patch)
        assert run_upload(tmp_path, options()).failed  # the second drafts never arrived
    redraft(out, "third")

    report = run_upload(tmp_path, options())
    assert sorted(report.succeeded) == sorted(items_of()) and report.kept_human_edits == []
    assert set(first_texts(sa_server).values()) == {f"third {item}" for item in items_of()}


def test_an_item_emptied_by_a_person_is_kept_though_an_empty_draft_was_sent_unconfirmed(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty draft that never arrived must not pass an annotator's "no speech" off as this folder's."""
    _, out = make_run(tmp_path)
    run_upload(tmp_path, options())
    for item in items_of():  # a redraft that found no speech
        write_json(out / "superannotate" / f"{item}.json", video_json(item, []))
    with monkeypatch.context() as patch:
        failing(patch)
        run_upload(tmp_path, options())
    emptied = {**sa_server.annotation(PROJECT, FIRST), "instances": []}
    sa_server.set_annotation(PROJECT, FIRST, emptied)  # the annotator's verdict
    redraft(out, "third")

    report = run_upload(tmp_path, options())
    assert report.kept_human_edits == [FIRST] and "emptied" in next(i.reason for i in report.items if i.item == FIRST)
    assert sa_server.annotation(PROJECT, FIRST)["instances"] == []
    assert sorted(report.succeeded) == sorted([SECOND, THIRD])


def test_corrections_are_measured_against_the_copy_that_was_sent(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report compares a correction with the draft the annotator started from, not a later redraft."""
    _, out = make_run(tmp_path)
    stopped(tmp_path, monkeypatch)
    redraft(out)  # written after the stop and never sent
    key = next(iter(ledger_of(out)["targets"]))

    draft = draft_for(out, Ledger.load(out), key, FIRST)
    assert _texts(draft.annotation) == ["hello 0", "world 0"] and "sent and not confirmed" in (draft.note or "")


def _texts(annotation: dict | None) -> list[str]:
    instances = (annotation or {}).get("instances") or []
    return [i["parameters"][0]["timestamps"][0]["attributes"][0]["name"] for i in instances]
