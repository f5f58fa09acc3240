"""An item whose status moves while a pull reads it is not stored with the status listed first.

A pull lists the items' statuses once, then downloads their annotations a hundred at a time: on a large project
minutes later. An annotator who reopens a Completed item in between (status Returned, the rework half done) had
the rework stored as Completed, and `export`, which takes Completed items, published it as training data. Each
batch's statuses are now listed again after its download; an item whose status moved is left to the next pull,
and the correction an earlier pull stored for it stays listed as it was. The real SDK against the loopback
server; the annotator acts just before the download, as they may at any point of a long pull.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.correction_runs import PROJECT, make_run, run_cli, set_text, upload
from support.sa_server import SuperAnnotateServer

from preannotate.superannotate.client import UploadSession

TALK = "talk.wav"
REWORK = "HALF-DONE REWORK"


def pull(out: Path, *args: str):
    return run_cli("pull", "-o", str(out), "--set", "superannotate.backoff_seconds=0", *args)


def entries(out: Path) -> dict[str, dict]:
    return {i["item"]: i for i in json.loads((out / "pulled.json").read_text(encoding="utf-8"))["items"]}


def edit(server: SuperAnnotateServer, text: str, status: str) -> None:
    annotation = server.annotation(PROJECT, TALK)
    set_text(annotation, 0, text)
    server.set_annotation(PROJECT, TALK, annotation)
    server.set_status(PROJECT, TALK, status)


def pull_while_reopened(server: SuperAnnotateServer, out: Path, *args: str):
    """A pull during which, before its download of talk.wav, an annotator reopens it and starts the rework."""
    real = UploadSession.get_annotations

    def annotator_first(self, project, names):
        if TALK in names and server.items(PROJECT)[TALK]["status"] == "Completed":
            edit(server, REWORK, "Returned")
        return real(self, project, names)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(UploadSession, "get_annotations", annotator_first)
        return pull(out, *args)


def completed(server: SuperAnnotateServer, root: Path) -> Path:
    """A run uploaded, and talk.wav corrected and Completed; returns the output folder."""
    inp, out = make_run(root)
    upload(inp, out)
    edit(server, "Finished text.", "Completed")
    return out


def export_text(out: Path, dest: Path) -> str:
    result = run_cli("export", "-o", str(out), "--dest", str(dest))
    assert result.returncode == 0, result.stderr
    return (dest / "metadata.jsonl").read_text(encoding="utf-8")


def test_a_completed_item_reopened_during_its_first_pull_is_left_to_the_next(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    out = completed(sa_server, tmp_path)
    result = pull_while_reopened(sa_server, out, "--status", "Completed")
    talk = entries(out)[TALK]
    assert (
        talk["file"] is None and "status changed while the pull read it (Completed, then Returned)" in talk["problem"]
    )
    assert not (out / "corrected" / f"{TALK}.json").exists() and result.returncode == 1
    pull(out)  # the status stands still now: the next pull gets it, as it is
    talk = entries(out)[TALK]
    assert talk["status"] == "Returned" and talk["problem"] is None
    assert REWORK in (out / "corrected" / f"{TALK}.json").read_text(encoding="utf-8")


def test_a_reopened_item_keeps_its_earlier_pulled_correction_and_the_rework_is_not_exported(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    out = completed(sa_server, tmp_path)
    pull(out)
    first = entries(out)[TALK]
    assert first["status"] == "Completed" and first["file"]
    kept = (out / first["file"]).read_bytes()
    pull_while_reopened(sa_server, out)
    talk = entries(out)[TALK]
    assert talk["status"] == "Completed" and talk["file"] == first["file"] and talk["sha256"] == first["sha256"]
    assert "status changed while the pull read it" in talk["missing"]
    assert (out / first["file"]).read_bytes() == kept
    exported = export_text(out, tmp_path / "dataset")
    assert "Finished text." in exported and REWORK not in exported
