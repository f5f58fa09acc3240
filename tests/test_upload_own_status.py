"""`superannotate.status: QualityCheck`: the tool's own uploads are in a status people also give.

Any status but NotStarted and InProgress counts as people's work, so before this, a run uploading in
QualityCheck kept every one of its own drafts at its next upload, and only `--overwrite-human-edits` (which
replaces real corrections too) moved them on. Now an item in the status this run gives, which this folder's
last upload gave it (uploads.json records it), is judged by its annotation, as one in NotStarted is: this
folder's own draft is replaced, an edited one kept. The real SDK talks to the loopback server.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from support.sa_server import SuperAnnotateServer
from support.upload_runs import edit, first_texts, items_of, make_run, options, redraft, run_upload

PROJECT = "Podcasts"
FIRST, SECOND, THIRD = items_of()
QC = options(status="QualityCheck")


def test_its_own_drafts_in_quality_check_are_replaced_by_new_ones(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    _, out = make_run(tmp_path)
    run_upload(tmp_path, QC)
    assert {i["status"] for i in sa_server.items(PROJECT).values()} == {"QualityCheck"}
    redraft(out)

    report = run_upload(tmp_path, QC)
    assert sorted(report.succeeded) == sorted(items_of()) and report.kept_human_edits == []
    assert first_texts(sa_server) == {item: f"another model {item}" for item in items_of()}
    assert {i["status"] for i in sa_server.items(PROJECT).values()} == {"QualityCheck"}


def test_edited_or_moved_on_items_are_kept(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    _, out = make_run(tmp_path)
    run_upload(tmp_path, QC)
    edited = edit(sa_server, FIRST, "Fixed by a reviewer.")  # still in QualityCheck
    sa_server.set_status(PROJECT, SECOND, "Completed")
    completed = sa_server.annotation(PROJECT, SECOND)
    redraft(out)

    report = run_upload(tmp_path, QC)
    assert sorted(report.kept_human_edits) == sorted([FIRST, SECOND]) and report.succeeded == [THIRD]
    assert sa_server.annotation(PROJECT, FIRST) == edited and sa_server.annotation(PROJECT, SECOND) == completed
    assert sa_server.items(PROJECT)[SECOND]["status"] == "Completed"


def test_a_run_not_uploading_in_quality_check_keeps_items_in_it(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    """A QualityCheck this run does not give is people's, as before, even on its own drafts."""
    _, out = make_run(tmp_path)
    run_upload(tmp_path, QC)
    redraft(out)

    report = run_upload(tmp_path, options())  # status InProgress
    assert sorted(report.kept_human_edits) == sorted(items_of()) and report.succeeded == []
    assert all("status QualityCheck" in i.reason for i in report.items)


def test_another_folder_cannot_replace_drafts_in_quality_check_it_did_not_upload(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    _, out = make_run(tmp_path / "a")
    run_upload(tmp_path / "a", QC)
    shutil.copytree(tmp_path / "a" / "input", tmp_path / "b" / "input")
    shutil.copytree(out / "superannotate", tmp_path / "b" / "output" / "superannotate")
    shutil.copy(out / "run.json", tmp_path / "b" / "output" / "run.json")  # no uploads.json: no record
    redraft(tmp_path / "b" / "output")

    report = run_upload(tmp_path / "b", QC)
    assert sorted(report.kept_human_edits) == sorted(items_of()) and report.succeeded == []
    assert first_texts(sa_server) == {FIRST: "hello 0", SECOND: "hello 1", THIRD: "hello 2"}


def test_a_quality_check_a_person_gave_is_theirs_even_when_the_run_now_gives_it(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    """Only the status this folder's last upload gave (recorded in uploads.json) is the folder's own."""
    _, out = make_run(tmp_path)
    run_upload(tmp_path, options())  # InProgress
    sa_server.set_status(PROJECT, FIRST, "QualityCheck")  # a person checked the draft as it stands
    redraft(out)

    report = run_upload(tmp_path, QC)
    assert report.kept_human_edits == [FIRST] and sorted(report.succeeded) == sorted([SECOND, THIRD])
    assert first_texts(sa_server)[FIRST] == "hello 0"
