"""Re-uploads replace only what this output folder uploaded: a careless team lead against the loopback server.

Each test re-runs an upload the way a lead would once annotators have started (another model, force, a copy
of the run folder, a resumed upload, new priorities) and checks that people's work is still on SuperAnnotate.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support.sa_server import SuperAnnotateServer
from support.upload_runs import (
    edit,
    items_of,
    make_run,
    options,
    redraft,
    run_upload,
    upload_stopped_at_second_batch,
    video_json,
    write_json,
)

PROJECT = "Podcasts"
FIRST, SECOND, THIRD = items_of()


def state(server: SuperAnnotateServer) -> dict:
    """Every item's annotation and status on the server."""
    return {n: (server.annotation(PROJECT, n), i["status"]) for n, i in server.items(PROJECT).items()}


def reason(report, item: str) -> str:
    return next(i.reason for i in report.items if i.item == item)


def test_a_status_of_the_teams_own_workflow_keeps_the_item(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    """The SDK names statuses after the project's workflow: a team's own status is people's, not the tool's."""
    sa_server.add_workflow_status("Approved", 7)
    _, out = make_run(tmp_path)
    run_upload(tmp_path, options())
    approved = sa_server.annotation(PROJECT, FIRST)
    sa_server.set_status(PROJECT, FIRST, "Approved")  # a reviewer approved the draft as it stands
    redraft(out)

    report = run_upload(tmp_path, options())
    assert sa_server.annotation(PROJECT, FIRST) == approved
    assert sa_server.items(PROJECT)[FIRST]["status"] == "Approved"
    assert report.kept_human_edits == [FIRST] and "status Approved" in reason(report, FIRST)
    assert sorted(report.succeeded) == sorted([SECOND, THIRD])


def test_an_edit_saved_without_a_status_change_survives_force(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    _, out = make_run(tmp_path)
    run_upload(tmp_path, options(keep_status=True))
    edited = edit(sa_server, FIRST, "Fixed by hand.")
    assert sa_server.items(PROJECT)[FIRST]["status"] == "NotStarted"
    redraft(out)

    report = run_upload(tmp_path, options(force_upload=True), force=True)
    assert sa_server.annotation(PROJECT, FIRST) == edited
    assert "changed since this tool's last upload" in reason(report, FIRST)
    assert sorted(report.succeeded) == sorted([SECOND, THIRD])


def test_an_item_deleted_and_recreated_by_someone_else_is_not_replaced(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    _, out = make_run(tmp_path)
    run_upload(tmp_path, options())
    for item in (FIRST, SECOND):  # the same audio under the same name, but their item now
        url = sa_server.items(PROJECT)[item]["url"]
        sa_server.delete_item(PROJECT, item)
        sa_server.add_item(PROJECT, item, url)
    theirs = video_json(SECOND, [(0.0, 3.0, "their own draft")])
    sa_server.set_annotation(PROJECT, SECOND, theirs)
    redraft(out)

    report = run_upload(tmp_path, options(), force=True)
    assert sa_server.annotation(PROJECT, FIRST) is None and sa_server.annotation(PROJECT, SECOND) == theirs
    assert "emptied" in reason(report, FIRST) and "changed since" in reason(report, SECOND)
    assert report.succeeded == [THIRD]


def test_a_copy_of_the_run_folder_replaces_only_its_own_last_upload(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    make_run(tmp_path / "a")
    run_upload(tmp_path / "a", options())
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # ledger and copies included
    for item in (FIRST, SECOND):  # the original uploads other drafts of two items
        write_json(tmp_path / "a" / "output" / "superannotate" / f"{item}.json", video_json(item, [(0, 2, "v2")]))
    assert sorted(run_upload(tmp_path / "a", options()).succeeded) == sorted([FIRST, SECOND])
    from_a = sa_server.annotation(PROJECT, FIRST)
    edited = edit(sa_server, SECOND, "Fixed by hand.")
    redraft(tmp_path / "b" / "output", "third model")

    report = run_upload(tmp_path / "b", options())
    assert sa_server.annotation(PROJECT, FIRST) == from_a  # not what the copy last uploaded: kept
    assert sa_server.annotation(PROJECT, SECOND) == edited
    assert report.succeeded == [THIRD] and sorted(report.kept_human_edits) == sorted([FIRST, SECOND])


def test_a_resumed_upload_with_other_drafts_keeps_what_people_did_meanwhile(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out = make_run(tmp_path)
    upload_stopped_at_second_batch(tmp_path, options(batch_size=1), monkeypatch)
    edited = edit(sa_server, FIRST, "Fixed by hand.")
    redraft(out)

    report = run_upload(tmp_path, options(batch_size=1))
    assert sa_server.annotation(PROJECT, FIRST) == edited
    assert sorted(report.succeeded) == sorted([SECOND, THIRD]) and report.kept_human_edits == [FIRST]


def test_priorities_and_custom_fields_sent_again_touch_no_annotation_or_status(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    _, out = make_run(tmp_path)
    run = json.loads((out / "run.json").read_text())
    for n, record in enumerate(run["files"]):
        record.update(predicted_wer=0.1 * (n + 1), duration=30.0, language="en", doubtful_share=0.0, route="draft")
    write_json(out / "run.json", run)
    run_upload(tmp_path, options(priority="none", custom_fields=False))
    edit(sa_server, FIRST, "Fixed by hand.", status="Completed")
    edit(sa_server, SECOND, "Half done.")
    before, uploads = state(sa_server), dict(sa_server.upload_counts)

    report = run_upload(tmp_path, options(priority="easy_first"))  # the ledger: every item unchanged
    # The completed item is withheld; the one edited in InProgress is not seen without its annotation.
    assert report.metadata["priority_scores"] == 2 and len(sa_server.custom_values(PROJECT)) == 2
    assert list(report.metadata["withheld"]) == [FIRST]
    assert state(sa_server) == before and dict(sa_server.upload_counts) == uploads
