"""An upload after the audio moved (a new `url_prefix`) records the URL the project's items still play.

SuperAnnotate keeps the URL an item was attached with; new drafts sent to it do not change it. Recorded with
the new URL, the folder's own items played a URL none of its records held: the next `pull` left their
corrections out as someone else's, and the next upload kept them as someone else's for good. The real SDK
talks to the loopback server.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import replace
from pathlib import Path

from support.correction_runs import PROJECT, make_run, sa_options, send, set_text
from support.sa_server import SuperAnnotateServer

from preannotate.correction import pull_run
from preannotate.correction.pull import load_pull, open_session
from preannotate.superannotate import Ledger
from preannotate.superannotate.unchanged import REMOVED

OLD, MOVED = "https://media.example.org/a", "https://media.example.org/moved"


def send_to(inp: Path, out: Path, prefix: str):
    return send(inp, out, replace(sa_options(), url_prefix=prefix))


def redraft(out: Path, text: str) -> None:
    path = out / "superannotate" / "fox.wav.json"
    annotation = json.loads(path.read_text())
    set_text(annotation, 0, text)
    path.write_text(json.dumps(annotation))


def test_new_drafts_for_items_attached_at_the_old_url_keep_that_url(
    sa_server: SuperAnnotateServer, tmp_path: Path, caplog
) -> None:
    inp, out = make_run(tmp_path)
    assert send_to(inp, out, OLD).succeeded
    redraft(out, "A quick brown fox")  # a second model's draft, after the audio moved
    caplog.set_level(logging.WARNING)
    report = send_to(inp, out, MOVED)
    assert report.succeeded == ["fox.wav"]
    assert sa_server.items(PROJECT)["fox.wav"]["url"] == f"{OLD}/fox.wav"  # SuperAnnotate kept it
    target = report.target or ""
    assert Ledger.load(out).entry(target, "fox.wav").url == f"{OLD}/fox.wav"
    (row,) = [i for i in json.loads((out / "run.json").read_text())["upload"]["items"] if i["item"] == "fox.wav"]
    assert row["url"] == f"{OLD}/fox.wav"
    assert "1 item(s) already in the project keep the audio they were attached with (fox.wav plays" in caplog.text

    sa_server.set_status(PROJECT, "fox.wav", "Completed")
    pull_run(out, PROJECT, open_session(sa_options()))
    fox = {i.item: i for i in load_pull(out).items}["fox.wav"]
    assert fox.problem is None and fox.file, "this run's own item left out as someone else's"

    redraft(out, "The quick brown fox!")  # and again: the upload still knows the item as its own
    sa_server.set_status(PROJECT, "fox.wav", "InProgress")
    again = send_to(inp, out, MOVED)
    assert again.succeeded == ["fox.wav"] and not again.kept_human_edits


def test_items_attached_now_get_the_new_url(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    inp, out = make_run(tmp_path)
    assert send_to(inp, out, OLD).succeeded
    sa_server.delete_item(PROJECT, "fox.wav")  # a manager removed it: the next upload attaches it anew
    redraft(out, "A quick brown fox")
    report = send_to(inp, out, MOVED)
    assert report.succeeded == ["fox.wav"]
    assert sa_server.items(PROJECT)["fox.wav"]["url"] == f"{MOVED}/fox.wav"
    assert Ledger.load(out).entry(report.target or "", "fox.wav").url == f"{MOVED}/fox.wav"


def record_audio(out: Path, digest: str) -> None:
    """What a run writes of the recording each transcript was made from (its source's SHA-256)."""
    for path in (out / "superannotate").glob("*.json"):
        transcript = out / "transcripts" / path.name
        transcript.parent.mkdir(exist_ok=True)
        transcript.write_text(json.dumps({"meta": {"source": {"size": 1, "mtime_ns": 1, "sha256": digest}}}))


def test_a_copied_folder_over_other_recordings_keeps_the_first_folders_items(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    (tmp_path / "a").mkdir()
    inp, out = make_run(tmp_path / "a")
    record_audio(out, "1" * 64)
    assert send_to(inp, out, OLD).succeeded
    assert Ledger.load(out).entry(next(iter(Ledger.load(out).data["targets"])), "fox.wav").audio == f"sha256:{'1' * 64}"
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # runs/b: a copy pointed at other recordings of the same names
    inp, out = tmp_path / "b" / inp.name, tmp_path / "b" / out.name
    record_audio(out, "2" * 64)
    redraft(out, "Words of another recording")
    for overwrite in (False, True):  # never: the draft is of another recording than the item plays
        report = send(inp, out, replace(sa_options(), url_prefix=MOVED, overwrite_human_edits=overwrite))
        assert report.kept_human_edits == ["fox.wav"] and not report.succeeded
        (why,) = [i.reason for i in report.items if i.item == "fox.wav"]
        assert why.startswith(f"not this run's recording: the item plays {OLD}/fox.wav") and "fox.wav" in why
    stamp = sa_server.annotation(PROJECT, "fox.wav")["instances"][0]["parameters"][0]["timestamps"][0]
    assert stamp["attributes"][0]["name"] != "Words of another recording"

    record_audio(out, "1" * 64)  # the same recordings, moved: drafted anew, they go onto the items
    assert send_to(inp, out, MOVED).succeeded == ["fox.wav"]


def test_an_item_removed_from_the_project_is_not_said_unchanged_and_moved_audio_attaches_it_again(
    sa_server: SuperAnnotateServer, tmp_path: Path, caplog
) -> None:
    """Removed items were `unchanged` for good: the README's way to attach moved audio did nothing (helper audit)."""
    inp, out = make_run(tmp_path)
    everything = sorted(sa_server.items(PROJECT)) if send_to(inp, out, OLD).succeeded else []
    sa_server.delete_item(PROJECT, "fox.wav")  # taken out of the work, the same audio
    caplog.set_level(logging.WARNING)
    again = send_to(inp, out, OLD)
    row = {i.item: i for i in again.items}["fox.wav"]
    assert row.status == "skipped" and row.reason.startswith("no longer in the project (removed there?)")
    assert "fox.wav" not in sa_server.items(PROJECT) and "1 item(s) this folder uploaded are no longer" in caplog.text
    assert again.to_dict()["summary"]["unchanged"] == len(everything) - 1
    moved = send_to(inp, out, MOVED)  # the audio moved: removed to be attached anew, as README says
    assert moved.succeeded == ["fox.wav"] and sa_server.items(PROJECT)["fox.wav"]["url"] == f"{MOVED}/fox.wav"


def test_a_deleted_project_is_not_said_unchanged_and_force_upload_makes_it_again(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    inp, out = make_run(tmp_path)
    first = send_to(inp, out, OLD)
    sa_server.delete_project(PROJECT)
    again = send_to(inp, out, OLD)
    assert {i.reason for i in again.items} == {REMOVED} and sa_server.project(PROJECT) is None
    forced = send(inp, out, replace(sa_options(), url_prefix=OLD, force_upload=True))
    assert sorted(forced.succeeded) == sorted(first.succeeded) and sa_server.project(PROJECT) is not None
