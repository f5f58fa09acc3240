"""Uploads never overwrite human work: the real SDK against the loopback server in tests/support/sa_server.py."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from support.sa_server import SuperAnnotateServer
from support.upload_runs import (
    ANNOTATION,
    PREFIX,
    SOURCES,
    items_of,
    make_run,
    options,
    run_upload,
    video_json,
    write_json,
)

from preannotate.cli import main
from preannotate.naming import item_name
from preannotate.superannotate import LEDGER_FILE
from preannotate.superannotate.report import UNCHANGED
from preannotate.superannotate.urls import prefix_url

PROJECT = "Podcasts"
EDITED = item_name(SOURCES[0])


def correct(server: SuperAnnotateServer, item: str, status: str = "Completed", text: str = "Corrected.") -> dict:
    """An annotator fixes the first event's text at every keyframe and sets the status; returns the annotation."""
    annotation = server.annotation(PROJECT, item)
    for stamp in annotation["instances"][0]["parameters"][0]["timestamps"]:
        stamp["attributes"] = [{"groupName": ANNOTATION.text_group, "name": text}]
    server.set_annotation(PROJECT, item, annotation)
    server.set_status(PROJECT, item, status)
    return copy.deepcopy(annotation)


def rechunk(out: Path, item: str) -> None:
    """What a re-run with other chunking options writes: other events for the same item."""
    write_json(out / "superannotate" / f"{item}.json", video_json(item, [(0.0, 1.0, "hello"), (1.0, 4.0, "world")]))


def outcome(report, item: str):
    return next(i for i in report.items if i.item == item)


def test_force_upload_keeps_a_completed_corrected_item(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    make_run(tmp_path)
    run_upload(tmp_path, options())
    corrected = correct(sa_server, EDITED)
    downloads = sa_server.paths().count("/__assets/api/v4/items/annotations/download")
    assert {i.reason for i in run_upload(tmp_path, options()).items} == {UNCHANGED}  # the ledger alone decides
    assert sa_server.paths().count("/__assets/api/v4/items/annotations/download") == downloads

    report = run_upload(tmp_path, options(), force=True)
    assert sa_server.annotation(PROJECT, EDITED) == corrected
    assert sa_server.items(PROJECT)[EDITED]["status"] == "Completed"
    assert sorted(report.succeeded) == sorted(items_of(SOURCES[1:])) and not report.failed
    kept = outcome(report, EDITED)
    assert kept.status == "skipped" and "status Completed" in kept.reason
    assert report.kept_human_edits == [EDITED] and report.to_dict()["summary"]["kept_human_edits"] == 1
    assert "kept 1 human-edited" in report.summary_line()
    assert sa_server.upload_counts[(PROJECT, EDITED)] == 1


def test_changed_chunking_keeps_corrected_items_and_uploads_untouched_ones(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    _, out = make_run(tmp_path)
    run_upload(tmp_path, options())
    completed = correct(sa_server, EDITED)
    in_progress = item_name(SOURCES[1])  # edited but still InProgress: the annotation differs from the ledger's
    edited = correct(sa_server, in_progress, status="InProgress", text="Half done.")
    for item in items_of():
        rechunk(out, item)

    report = run_upload(tmp_path, options())
    assert sa_server.annotation(PROJECT, EDITED) == completed
    assert sa_server.annotation(PROJECT, in_progress) == edited
    assert "changed since this tool's last upload" in outcome(report, in_progress).reason
    assert report.succeeded == [item_name(SOURCES[2])]  # untouched: replaced by the new chunks
    assert len(sa_server.annotation(PROJECT, item_name(SOURCES[2]))["instances"]) == 2


def test_fresh_output_folder_keeps_human_work_and_replaces_nothing_else(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    make_run(tmp_path / "first")
    run_upload(tmp_path / "first", options())
    corrected = correct(sa_server, EDITED)
    _, out = make_run(tmp_path / "second")  # the same drafts, no ledger
    rechunk(out, item_name(SOURCES[1]))  # a draft the project does not hold: someone else's work, for all we know

    report = run_upload(tmp_path / "second", options())
    assert sa_server.annotation(PROJECT, EDITED) == corrected
    assert "did not upload from this output folder" in outcome(report, item_name(SOURCES[1])).reason
    assert report.succeeded == [item_name(SOURCES[2])]  # holds exactly what would be uploaded
    assert sorted(report.kept_human_edits) == sorted(items_of(SOURCES[:2]))
    assert not (out / "backups").exists()


def test_an_item_of_the_same_name_playing_other_audio_is_not_replaced(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    make_run(tmp_path / "setup", sources=["setup/first.wav"])
    run_upload(tmp_path / "setup", options())  # the project exists
    theirs, presigned = item_name(SOURCES[0]), item_name(SOURCES[1])
    sa_server.add_item(PROJECT, theirs, "https://other-team.example/private/meeting-0412.wav")
    ours = prefix_url(PREFIX, SOURCES[1])
    sa_server.add_item(PROJECT, presigned, f"{ours}?X-Amz-Signature=abc&X-Amz-Expires=3600")  # the same object

    make_run(tmp_path / "run")
    report = run_upload(tmp_path / "run", options())
    kept = outcome(report, theirs)
    assert kept.status == "skipped" and "not this run's item" in kept.reason
    assert "other-team.example/private/meeting-0412.wav" in kept.reason and PREFIX in kept.reason
    assert sa_server.annotation(PROJECT, theirs) is None and sa_server.upload_counts[(PROJECT, theirs)] == 0
    assert sa_server.items(PROJECT)[theirs]["status"] == "NotStarted"
    assert sorted(report.succeeded) == sorted(items_of(SOURCES[1:]))  # a signature changes, the object does not
    assert report.kept_human_edits == [theirs]

    # Overwriting human edits is for this run's own items: a draft of other audio never goes on theirs.
    again = run_upload(tmp_path / "run", options(overwrite_human_edits=True), force=True)
    kept = outcome(again, theirs)
    assert kept.status == "skipped" and "never overwritten" in kept.reason and "--overwrite" not in kept.reason
    assert sa_server.annotation(PROJECT, theirs) is None and sa_server.upload_counts[(PROJECT, theirs)] == 0
    assert again.kept_human_edits == [theirs] and again.overwritten_human_edits == []


def test_a_completed_item_playing_other_audio_is_kept_even_with_overwrite(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    make_run(tmp_path / "setup", sources=["setup/first.wav"])
    run_upload(tmp_path / "setup", options())
    theirs = item_name(SOURCES[0])
    sa_server.add_item(PROJECT, theirs, "https://other-team.example/private/meeting-0412.wav", status="Completed")
    make_run(tmp_path / "run")
    report = run_upload(tmp_path / "run", options(overwrite_human_edits=True))
    assert "not this run's item" in outcome(report, theirs).reason and report.overwritten_human_edits == []
    assert sa_server.upload_counts[(PROJECT, theirs)] == 0 and not (tmp_path / "run" / "output" / "backups").exists()


def test_audio_moved_to_a_new_url_is_still_this_runs_item(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    make_run(tmp_path)
    run_upload(tmp_path, options())
    rechunk(tmp_path / "output", EDITED)  # a re-run with other chunking, after the audio moved to a new bucket
    report = run_upload(tmp_path, options(url_prefix="https://new-bucket.example.org/audio"))
    assert outcome(report, EDITED).status == "succeeded", outcome(report, EDITED)  # the item plays its old URL
    assert sa_server.annotation(PROJECT, EDITED)["instances"][1]["meta"]["start"] == 1_000_000


def test_an_item_emptied_by_someone_is_kept_by_an_output_folder_that_never_uploaded_it(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    make_run(tmp_path / "first")
    run_upload(tmp_path / "first", options())
    emptied = {**sa_server.annotation(PROJECT, EDITED), "instances": []}  # an annotator's verdict: no speech
    sa_server.set_annotation(PROJECT, EDITED, emptied)
    sa_server.set_status(PROJECT, EDITED, "InProgress")
    make_run(tmp_path / "second")  # the same drafts, no ledger: nothing proves the empty item is this tool's

    report = run_upload(tmp_path / "second", options())
    assert sa_server.annotation(PROJECT, EDITED)["instances"] == []
    assert outcome(report, EDITED).reason.startswith("human-edited: status InProgress with an empty annotation; kept")
    assert EDITED in report.kept_human_edits and EDITED not in report.succeeded


def test_an_item_worked_on_whose_annotation_the_download_leaves_out_is_kept(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    make_run(tmp_path / "first")
    run_upload(tmp_path / "first", options())
    corrected = correct(sa_server, EDITED, status="InProgress")
    sa_server.omit_from_download(EDITED)  # an unreadable annotation is no proof of an empty one
    make_run(tmp_path / "second")  # the same drafts, no ledger: only the server can tell

    report = run_upload(tmp_path / "second", options())
    assert sa_server.annotation(PROJECT, EDITED) == corrected
    assert "did not return its annotation" in outcome(report, EDITED).reason
    assert report.kept_human_edits == [EDITED] and sorted(report.succeeded) == sorted(items_of(SOURCES[1:]))


def test_overwrite_human_edits_saves_a_backup_first(sa_server: SuperAnnotateServer, tmp_path: Path, capsys) -> None:
    inp, out = make_run(tmp_path)
    run_upload(tmp_path, options())
    corrected = correct(sa_server, EDITED)
    rechunk(out, EDITED)

    args = ["upload", "-i", str(inp), "-o", str(out), "--set", f"superannotate.project={PROJECT}"]
    args += ["--set", "superannotate.backoff_seconds=0", "--set", "annotation.review_group=null"]
    args += ["--set", "annotation.doubtful_group=null"]  # the groups of ANNOTATION, which made the class
    assert main([*args, "--set", "annotation.reason_group=null"]) == 0
    assert "human-edited: status Completed" in capsys.readouterr().out  # the table names the kept item
    assert sa_server.annotation(PROJECT, EDITED) == corrected

    assert main([*args, "--set", "annotation.reason_group=null", "--overwrite-human-edits"]) == 0
    printed = capsys.readouterr().out
    assert "overwrote 1 human-edited" in printed
    [backup] = (out / "backups").glob(f"*/{EDITED}.json")
    saved = json.loads(backup.read_text())
    assert saved["status"] == "Completed" and saved["annotation"]["instances"] == corrected["instances"]
    assert corrected["metadata"].items() <= saved["annotation"]["metadata"].items()
    assert sa_server.annotation(PROJECT, EDITED)["instances"][0]["meta"]["end"] == 1_000_000  # the new draft
    assert sa_server.items(PROJECT)[EDITED]["status"] == "InProgress"
    run = json.loads((out / "run.json").read_text())["upload"]
    assert run["overwritten_human_edits"] == [EDITED] and run["backups"] == backup.parent.relative_to(out).as_posix()


def test_lost_create_project_answer_means_the_project_exists(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    make_run(tmp_path)
    sa_server.inject("/project", "lost", method="POST")
    report = run_upload(tmp_path, options())
    assert sorted(report.succeeded) == sorted(items_of()) and not report.failed
    assert [p["name"] for p in sa_server.state.projects.values()] == [PROJECT]
    assert sa_server.paths("POST").count("/project") == 1 and not any(f[2] for f in sa_server.state.faults)


@pytest.mark.parametrize(
    "broken",
    [
        '{"format": 1, "targets": {"T": {"items": {"ITEM": ["not", "an", "object"]}}}}',
        '{"format": 1, "targets": {"T": {"items": ["ITEM"]}}}',
        '{"format": 1, "targets": ["T"]}',
        '{"format": 1, "targets": {"T": {"items": {"ITEM": {"sha256": 5}}}}}',
        "[1, 2",
    ],
)
def test_broken_ledger_is_rebuilt_with_a_message(sa_server: SuperAnnotateServer, tmp_path: Path, broken: str) -> None:
    _, out = make_run(tmp_path)
    first = run_upload(tmp_path, options())
    item = item_name(SOURCES[1])
    (out / LEDGER_FILE).write_text(broken.replace("ITEM", item).replace('"T"', json.dumps(first.target)))

    report = run_upload(tmp_path, options())
    assert not report.failed and report.warnings and all(LEDGER_FILE in w for w in report.warnings)
    if '"ITEM":' in broken:  # a broken entry: the message names its item
        assert any(repr(item) in w for w in report.warnings)
    assert sorted(report.succeeded) == sorted(items_of())  # each holds what would be uploaded: safe to redo
    again = run_upload(tmp_path, options())
    assert {i.reason for i in again.items} == {UNCHANGED} and not again.warnings  # the record is whole again
    assert list(out.glob(f"{LEDGER_FILE}.invalid-*"))[0].read_text() == broken.replace("ITEM", item).replace(
        '"T"', json.dumps(first.target)
    )


def test_fresh_output_folder_next_to_the_old_one_uses_no_ledger(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    """A copied output folder without uploads.json behaves like a fresh one: human work is kept."""
    make_run(tmp_path)
    run_upload(tmp_path, options())
    correct(sa_server, EDITED, status="QualityCheck")
    shutil.copytree(tmp_path / "output", tmp_path / "copy" / "output")
    shutil.copytree(tmp_path / "input", tmp_path / "copy" / "input")
    (tmp_path / "copy" / "output" / LEDGER_FILE).unlink()
    report = run_upload(tmp_path / "copy", options())
    assert report.kept_human_edits == [EDITED] and len(report.succeeded) == 2
