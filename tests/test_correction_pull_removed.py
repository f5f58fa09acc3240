"""A correction already pulled stays in the dataset when its item leaves the SuperAnnotate project.

An item the annotators corrected can be deleted from the project (or moved out of it) after a pull, or
SuperAnnotate can answer without its annotation. Its last pulled correction, still in `corrected/`, must stay
listed in pulled.json (`missing`, `missing_since`), so that `report` and `export` keep using it, and each says
so; a file changed by hand since is kept aside, not listed as the pull's own. Runs are uploaded with the real
SDK to the loopback server, edited there as annotators would, and pulled with the real command line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from support.correction_runs import ANNOTATION, PROJECT, annotate, make_run, run_cli, set_text, upload
from support.sa_server import SuperAnnotateServer

from preannotate.correction import compare_run
from preannotate.correction.dataset import export_dataset
from preannotate.correction.pull import INTERRUPTED, NO_ANNOTATION, NOT_IN_PROJECT, load_pull
from preannotate.errors import CorrectionInputError
from preannotate.options import CorrectionOptions, DatasetExportOptions

TALK = "talk.wav"


def pull(out: Path, *args: str):
    return run_cli("pull", "-o", str(out), "--set", "superannotate.backoff_seconds=0", *args)


def entries(out: Path) -> dict[str, dict]:
    """pulled.json's items by name, as written."""
    return {i["item"]: i for i in json.loads((out / "pulled.json").read_text(encoding="utf-8"))["items"]}


def remove(server: SuperAnnotateServer, item: str) -> dict:
    """Deletes the item and its annotation from the project, as a manager would; returns the annotation."""
    annotation = server.annotation(PROJECT, item)
    with server.state.lock:
        pid = server.project(PROJECT)["id"]
        del server.state.items[pid][item]
        del server.state.annotations[(pid, item)]
    return annotation


def pulled_and_removed(server: SuperAnnotateServer, root: Path) -> tuple[Path, Path, dict]:
    """A run corrected (talk.wav and fox.wav Completed, hello.wav removed before any pull) and pulled, then
    talk.wav deleted from the project; returns the input and output folders and talk.wav's pulled entry."""
    inp, out = make_run(root)
    upload(inp, out)
    annotate(server)
    assert pull(out).returncode == 1  # hello.wav: removed before it was ever pulled
    first = entries(out)[TALK]
    assert first["file"] and first["status"] == "Completed" and first.get("missing") is None
    remove(server, TALK)
    return inp, out, first


def test_a_removed_items_correction_stays_listed_reported_and_exported(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    inp, out, first = pulled_and_removed(sa_server, tmp_path)
    stored = (out / "corrected" / f"{TALK}.json").read_bytes()

    again = pull(out)
    assert again.returncode == 1 and "Traceback" not in again.stderr, again.stderr  # hello.wav alone fails
    index = load_pull(out)
    talk = entries(out)[TALK]
    # Before: problem NOT_IN_PROJECT and no file, so report and export left the correction out.
    assert talk == {**first, "missing": NOT_IN_PROJECT, "missing_since": index.pulled_at}
    assert (out / "corrected" / f"{TALK}.json").read_bytes() == stored
    assert "kept 1 from an earlier pull (SuperAnnotate no longer gives it: talk.wav)" in again.stdout, again.stdout
    assert f"talk.wav ({NOT_IN_PROJECT}, since {index.pulled_at})" in again.stderr, again.stderr
    assert index.problems == {"hello.wav": NOT_IN_PROJECT}  # never pulled: still a problem
    assert index.missing == {TALK: NOT_IN_PROJECT} and TALK not in index.pulled and TALK in index.corrections
    assert "0 left out by status, 1 with problems" in again.stdout  # hello.wav counted once

    assert pull(out).returncode == 1  # still gone: kept since the pull that first missed it
    assert entries(out)[TALK]["missing_since"] == index.pulled_at and entries(out)[TALK]["file"]

    result = compare_run(out, ANNOTATION, CorrectionOptions())
    row = result.items.set_index("item").loc[TALK]
    assert row.compared and NOT_IN_PROJECT in row.notes and result.summary["compared"] == 2  # and fox.wav
    assert result.problems == {"hello.wav": NOT_IN_PROJECT}
    reported = run_cli("report", "-o", str(out))
    assert reported.returncode == 0, reported.stderr
    assert "1 item(s) SuperAnnotate no longer gives: the comparison uses the correction" in reported.stderr
    assert f"talk.wav ({NOT_IN_PROJECT}, since {index.pulled_at})" in reported.stderr

    dest = tmp_path / "dataset"
    exported = export_dataset(out, DatasetExportOptions(dir=str(dest), min_duration=0.5), ANNOTATION, inp)
    clips = pd.read_json(dest / "metadata.jsonl", lines=True, dtype=False)["file_name"]
    assert sum(name.startswith("clips/talk.wav-") for name in clips) == 5  # talk.wav's corrected segments
    assert exported.problems == {"hello.wav": NOT_IN_PROJECT}
    assert NOT_IN_PROJECT in exported.notes[TALK][0]
    assert NOT_IN_PROJECT in json.loads((dest / "export.json").read_text())["notes"][TALK][0]


def test_a_hand_edited_file_of_a_removed_item_is_kept_aside_not_listed(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    _, out, _ = pulled_and_removed(sa_server, tmp_path)
    edited = out / "corrected" / f"{TALK}.json"
    mine = json.loads(edited.read_text())
    mine["instances"] = mine["instances"][:2]  # a reviewer's own fix, made in the file
    edited.write_text(json.dumps(mine), encoding="utf-8")
    mine_bytes = edited.read_bytes()

    again = pull(out)
    assert again.returncode == 1 and "1 file(s) in corrected/ were not as the last pull stored them" in again.stderr
    assert "as SuperAnnotate no longer gives their items and the pull lists them no more: talk.wav" in again.stderr
    talk = entries(out)[TALK]
    assert talk["problem"] == NOT_IN_PROJECT and talk["file"] is None and talk["missing"] is None
    assert not edited.exists()
    [kept] = (out / "corrected-kept").rglob("*.json")
    assert kept.name == f"{TALK}.json" and kept.read_bytes() == mine_bytes  # the hand edit, byte for byte


def test_an_item_that_comes_back_is_pulled_as_any_other(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    _, out, _ = pulled_and_removed(sa_server, tmp_path)
    annotation = sa_server.annotation(PROJECT, "fox.wav")  # any annotation of the run, renamed back below
    assert pull(out).returncode == 1 and entries(out)[TALK]["missing"] == NOT_IN_PROJECT

    sa_server.add_item(PROJECT, TALK, "https://media.example.org/a/talk.wav", status="InProgress")
    set_text(annotation, 0, "Back in the project.")
    annotation["metadata"]["name"] = TALK
    sa_server.set_annotation(PROJECT, TALK, annotation)
    back = pull(out)
    assert back.returncode == 1 and "kept" not in back.stdout, back.stdout
    talk = entries(out)[TALK]
    assert (talk["missing"], talk["missing_since"], talk["status"], talk["problem"]) == (None, None, "InProgress", None)
    assert "Back in the project." in (out / talk["file"]).read_text()
    assert not (out / "corrected-kept").exists()  # the file it replaced was the earlier pull's own, unchanged


def test_the_status_filter_applies_to_a_removed_item_in_the_status_its_file_was_pulled_in(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    _, out, first = pulled_and_removed(sa_server, tmp_path)
    assert pull(out, "--status", "InProgress").returncode == 1  # talk.wav, Completed, left out: it keeps its hash
    talk = entries(out)[TALK]
    assert (talk["selected"], talk["file"], talk["status"]) == (False, None, "Completed")
    assert talk["sha256"] == first["sha256"] and talk["missing"] == NOT_IN_PROJECT
    since = talk["missing_since"]
    assert "kept" not in pull(out, "--status", "InProgress").stdout

    assert pull(out, "--status", "Completed").returncode == 1
    talk = entries(out)[TALK]
    assert talk == {**first, "missing": NOT_IN_PROJECT, "missing_since": since}


def test_a_file_pulled_in_another_status_than_last_recorded_is_kept_without_a_status(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    inp, out = make_run(tmp_path)
    upload(inp, out)
    annotate(sa_server)
    assert pull(out).returncode == 1  # count.wav stored InProgress, half-done
    sa_server.set_status(PROJECT, "count.wav", "Completed")
    assert pull(out, "--status", "InProgress").returncode == 1  # left out: pulled.json says Completed now
    remove(sa_server, "count.wav")

    assert pull(out).returncode == 1
    count = entries(out)["count.wav"]
    # Completed would publish the half-done file as finished: its status is not known.
    assert (count["status"], count["file"], count["missing"]) == (None, "corrected/count.wav.json", NOT_IN_PROJECT)
    report = export_dataset(out, DatasetExportOptions(dir=str(tmp_path / "dataset"), min_duration=0.5), ANNOTATION)
    segments = pd.read_csv(tmp_path / "dataset" / "segments.csv")
    assert not segments[segments["item"] == "count.wav"]["exported"].any() and "count.wav" not in report.problems


def test_an_item_whose_annotation_is_no_longer_given_keeps_its_correction(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    _, out, _ = pulled_and_removed(sa_server, tmp_path)
    fox = entries(out)["fox.wav"]
    sa_server.omit_from_download("fox.wav")

    assert pull(out).returncode == 1
    since = load_pull(out).pulled_at
    assert entries(out)["fox.wav"] == {**fox, "missing": NO_ANNOTATION, "missing_since": since}
    sa_server.set_status(PROJECT, "fox.wav", "Returned")  # reopened: the stored Completed file may not stand
    assert pull(out).returncode == 1
    assert entries(out)["fox.wav"] == {**fox, "status": None, "missing": NO_ANNOTATION, "missing_since": since}


def test_an_older_pulled_json_without_the_fields_is_read_and_a_half_marked_item_refused(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    _, out, first = pulled_and_removed(sa_server, tmp_path)
    index = json.loads((out / "pulled.json").read_text())
    for entry in index["items"]:
        del entry["missing"], entry["missing_since"]
    (out / "pulled.json").write_text(json.dumps(index))
    assert load_pull(out).missing == {}
    assert pull(out).returncode == 1 and entries(out)[TALK]["file"] == first["file"]  # kept from the older index

    index = json.loads((out / "pulled.json").read_text())
    next(i for i in index["items"] if i["item"] == TALK)["missing_since"] = None
    (out / "pulled.json").write_text(json.dumps(index))
    with pytest.raises(CorrectionInputError, match=r"items\[0\]: missing and missing_since go together"):
        load_pull(out)


def test_a_removed_items_file_from_a_pull_that_recorded_no_hash_is_kept_aside_with_a_warning(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    """An index written before pulls recorded hashes cannot prove the file is as stored: it is kept aside, named.
    Before, it stayed in corrected/, listed nowhere, and dropped out of report and export without a word."""
    inp, out = make_run(tmp_path)
    upload(inp, out)
    annotate(sa_server)
    pull(out)
    index = json.loads((out / "pulled.json").read_text(encoding="utf-8"))
    for entry in index["items"]:  # as a version before 2026-12-02 wrote it
        for key in ("sha256", "missing", "missing_since"):
            entry.pop(key)
    (out / "pulled.json").write_text(json.dumps(index), encoding="utf-8")
    stored = (out / "corrected" / f"{TALK}.json").read_bytes()
    remove(sa_server, TALK)

    again = pull(out)
    assert "(a pull that recorded no hashes stored them): talk.wav" in again.stderr, again.stderr
    assert entries(out)[TALK]["problem"] == NOT_IN_PROJECT and not (out / "corrected" / f"{TALK}.json").exists()
    [kept] = (out / "corrected-kept").rglob(f"{TALK}.json")
    assert kept.read_bytes() == stored


def test_a_removed_items_file_left_by_a_stopped_pull_stays_listed(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pull stopped while it moved files in lists the items it was replacing as INTERRUPTED, each vouched for by
    its old hash; one of them removed before the next pull lost its listing though its file was the pull's."""
    _, out, first = pulled_and_removed(sa_server, tmp_path)
    sa_server.add_item(PROJECT, TALK, "https://media.example.org/a/talk.wav", "Completed")  # back, for one pull
    sa_server.set_annotation(PROJECT, TALK, json.loads((out / first["file"]).read_text(encoding="utf-8")))
    real = os.replace

    def stop_at_talk(source, target, *args, **kwargs):
        if Path(target) == out / "corrected" / f"{TALK}.json":  # moving in, not staging
            raise KeyboardInterrupt
        return real(source, target, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", stop_at_talk)
        assert pull(out).returncode == 130  # Ctrl-C
    assert entries(out)[TALK]["problem"] == INTERRUPTED
    remove(sa_server, TALK)

    pull(out)
    talk = entries(out)[TALK]
    assert talk["file"] == first["file"] and talk["sha256"] == first["sha256"] and talk["missing"] == NOT_IN_PROJECT
    assert talk["status"] is None  # the interim entry held the stopped pull's status, not the file's


def test_a_removed_items_file_moved_in_before_a_stop_stays_listed(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pull stopped after it moved talk.wav's new annotation in: that file is the pull's own (its download's hash,
    `sha256_moving`), so with the item then removed it stays listed, not kept aside as a hand edit."""
    _, out, _ = pulled_and_removed(sa_server, tmp_path)
    sa_server.add_item(PROJECT, TALK, "https://media.example.org/a/talk.wav", "Completed")  # back, for one pull
    annotation = json.loads((out / "corrected" / f"{TALK}.json").read_text(encoding="utf-8"))
    set_text(annotation, 0, "Reworked once more.")
    sa_server.set_annotation(PROJECT, TALK, annotation)
    real, moved = os.replace, []

    def stop_after_talk(source, target, *args, **kwargs):
        if Path(target).parent == out / "corrected" and moved:  # the next one moving in, after talk.wav
            raise KeyboardInterrupt
        real(source, target, *args, **kwargs)
        moved.extend([Path(target).name] if Path(target) == out / "corrected" / f"{TALK}.json" else [])

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", stop_after_talk)
        assert pull(out).returncode == 130  # Ctrl-C
    assert moved == [f"{TALK}.json"] and "Reworked once more." in (out / "corrected" / f"{TALK}.json").read_text()
    assert entries(out)[TALK]["problem"] == INTERRUPTED
    new = (out / "corrected" / f"{TALK}.json").read_bytes()
    remove(sa_server, TALK)

    again = pull(out)
    talk = entries(out)[TALK]
    assert talk["file"] == f"corrected/{TALK}.json" and talk["missing"] == NOT_IN_PROJECT, again.stderr
    assert (out / "corrected" / f"{TALK}.json").read_bytes() == new and not (out / "corrected-kept").exists()
    assert talk["status"] is None and "sha256_moving" not in talk  # its status unknown; an index as before
