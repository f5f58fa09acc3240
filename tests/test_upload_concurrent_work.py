"""People's work saved while an upload runs is kept: each batch is read again just before it is sent.

The upload is real (the SDK against the loopback server); the annotator's save, made through the server's
own state at a chosen moment between two batches, is the outside world acting meanwhile.
"""

from __future__ import annotations

import json

import pytest
from support.sa_server import SuperAnnotateServer
from support.upload_runs import PROJECT, items_of, make_run, options, redraft, run_upload, video_json

from preannotate.superannotate.client import UploadSession

FIRST, SECOND, THIRD = items_of()


def annotator_saves(server: SuperAnnotateServer, item: str, text: str, status: str | None = "Completed") -> None:
    server.set_annotation(PROJECT, item, video_json(item, [(0.0, 4.0, text)]))
    if status:
        server.set_status(PROJECT, item, status)


def texts(server: SuperAnnotateServer, item: str) -> list[str]:
    stamps = [
        t for i in server.annotation(PROJECT, item)["instances"] for p in i["parameters"] for t in p["timestamps"]
    ]
    return [a["name"] for t in stamps for a in t["attributes"]]


def before_batch(monkeypatch: pytest.MonkeyPatch, number: int, act) -> None:
    """Calls `act()` as the upload's `number`th batch is about to be read again and sent."""
    real, calls = UploadSession.listed_items, []

    def listed(self, project, names):
        calls.append(names)
        if len(calls) == number + 1:  # the first listing is the check before the upload begins
            act()
        return real(self, project, names)

    monkeypatch.setattr(UploadSession, "listed_items", listed)


def reason(report, item: str) -> str:
    return next(i.reason for i in report.items if i.item == item)


def test_work_saved_on_an_item_this_upload_attached_is_kept(sa_server, tmp_path, monkeypatch) -> None:
    make_run(tmp_path)  # a first upload: every item attached at once, then filled batch by batch
    before_batch(monkeypatch, 3, lambda: annotator_saves(sa_server, THIRD, "Typed by an annotator."))
    report = run_upload(tmp_path, options(batch_size=1))
    assert texts(sa_server, THIRD) == ["Typed by an annotator."] * 2
    assert sa_server.items(PROJECT)[THIRD]["status"] == "Completed"
    assert report.succeeded == [FIRST, SECOND] and report.kept_human_edits == [THIRD]
    assert "worked on since this upload attached it" in reason(report, THIRD)


def test_an_item_changed_while_a_reupload_runs_is_kept(sa_server, tmp_path, monkeypatch) -> None:
    _, out = make_run(tmp_path)
    run_upload(tmp_path, options(batch_size=1))
    redraft(out)
    before_batch(monkeypatch, 2, lambda: annotator_saves(sa_server, THIRD, "Corrected by an annotator.", None))
    report = run_upload(tmp_path, options(batch_size=1))
    assert texts(sa_server, THIRD) == ["Corrected by an annotator."] * 2
    assert report.kept_human_edits == [THIRD] and "changed on SuperAnnotate while this upload ran" in reason(
        report, THIRD
    )
    assert not (out / "backups").exists()
    assert all(texts(sa_server, item)[0].startswith("another model") for item in (FIRST, SECOND))


def test_overwriting_backs_up_what_changed_while_the_upload_ran(sa_server, tmp_path, monkeypatch) -> None:
    _, out = make_run(tmp_path)
    run_upload(tmp_path, options(batch_size=1))
    redraft(out)
    before_batch(monkeypatch, 3, lambda: annotator_saves(sa_server, THIRD, "Corrected meanwhile."))
    report = run_upload(tmp_path, options(batch_size=1, overwrite_human_edits=True))
    assert report.overwritten_human_edits == [THIRD] and texts(sa_server, THIRD)[0] == f"another model {THIRD}"
    [backup] = (out / "backups").glob(f"*/{THIRD}.json")
    saved = json.loads(backup.read_text())
    assert (
        saved["status"] == "Completed"
        and saved["annotation"]["instances"][0]["parameters"][0]["timestamps"][0]["attributes"][0]["name"]
        == "Corrected meanwhile."
    )


def test_an_item_of_the_name_someone_attached_after_the_listing_is_kept(sa_server, tmp_path, monkeypatch) -> None:
    make_run(tmp_path / "other", sources=["zz/other.wav"])
    run_upload(tmp_path / "other", options())  # the project exists
    make_run(tmp_path)

    def someone_attaches() -> None:
        sa_server.add_item(PROJECT, THIRD, "https://media.example.org/audio/fr/clip.m4a")
        annotator_saves(sa_server, THIRD, "Another team's finished work.")

    real = UploadSession.listed_items

    def listed(self, project, names):
        found = real(self, project, names)
        if THIRD in names and THIRD not in found and not sa_server.items(PROJECT).get(THIRD):
            someone_attaches()  # just after the first listing: attach finds it there already
        return found

    monkeypatch.setattr(UploadSession, "listed_items", listed)
    report = run_upload(tmp_path, options())
    assert texts(sa_server, THIRD) == ["Another team's finished work."] * 2
    assert THIRD in report.kept_human_edits and THIRD not in report.succeeded


def test_overwriting_keeps_an_item_whose_annotation_could_not_be_read(sa_server, tmp_path) -> None:
    _, out = make_run(tmp_path)
    run_upload(tmp_path, options())
    annotator_saves(sa_server, FIRST, "Completed by an annotator.")
    redraft(out)
    sa_server.omit_from_download(FIRST)  # the platform leaves it out of the download: nothing to back up
    report = run_upload(tmp_path, options(overwrite_human_edits=True))
    sa_server.state.download_omits.discard(FIRST)
    assert texts(sa_server, FIRST) == ["Completed by an annotator."] * 2
    assert FIRST in report.kept_human_edits and "could not be backed up first: kept" in reason(report, FIRST)
    assert report.succeeded == [SECOND, THIRD]
