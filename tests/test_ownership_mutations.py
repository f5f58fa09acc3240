"""Ownership checks that a mutation audit found no test for: each test fails if its check is disabled.

Every destructive step of the tool (upload over an item, pull over corrected/, export over a dataset folder,
report over correction/) must first prove that what it replaces is its own. The audit disabled each such check
in turn and ran the tests that cover it; the checks below survived that, so each gets a test of its own, on
real files and against the real SDK talking to the loopback SuperAnnotate server (tests/support/sa_server.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support.correction_runs import run_cli
from support.media import read_sample, write_wav16
from support.pulled_runs import ANNOTATION, fox_run, long_run, snapshot
from support.sa_server import SuperAnnotateServer
from support.upload_runs import items_of, make_run, options, redraft, run_upload, video_json

from preannotate import quality
from preannotate.correction.calibrate_model import MODEL_FILE
from preannotate.correction.dataset import export_dataset
from preannotate.correction.destination import MARKER
from preannotate.correction.pull_kept import keep_changed
from preannotate.correction.report_kept import keep_foreign, write_owned
from preannotate.errors import DestinationError
from preannotate.options import DatasetExportOptions

PROJECT = "Podcasts"
FIRST, SECOND, THIRD = items_of()


# --- upload: an item this folder uploaded, since replaced by someone else's item of the same name ------------------


def test_an_uploaded_item_someone_replaced_with_other_audio_is_kept_even_with_overwrite(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    """The ledger's entry names the audio the item was uploaded with: it vouches for that audio only.

    Someone deleted this folder's item and attached a recording of their own under the same name, then
    transcribed it. Even `overwrite_human_edits`, which replaces people's work after a backup, must not put this
    run's draft (of other audio) on it. Mutant killed: a ledger entry vouching for the item whatever it plays.
    """
    _, out = make_run(tmp_path)
    run_upload(tmp_path, options())
    sa_server.delete_item(PROJECT, FIRST)
    sa_server.add_item(PROJECT, FIRST, "https://other-team.example/private/meeting-0412.wav", status="Completed")
    sa_server.set_annotation(PROJECT, FIRST, video_json(FIRST, [(0.0, 3.0, "their own transcript")]))
    theirs = sa_server.annotation(PROJECT, FIRST)
    redraft(out)

    report = run_upload(tmp_path, options(overwrite_human_edits=True))
    assert sa_server.annotation(PROJECT, FIRST) == theirs
    assert sa_server.items(PROJECT)[FIRST]["status"] == "Completed"
    kept = next(i for i in report.items if i.item == FIRST)
    assert kept.status == "skipped" and "not this run's item" in kept.reason, kept.reason
    assert FIRST not in report.overwritten_human_edits and FIRST in report.kept_human_edits
    assert sorted(report.succeeded) == sorted([SECOND, THIRD])


# --- export: a marker that does not list the export's files is no proof -------------------------------------------


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return fox_run(tmp_path)


def refused(run_dir: Path, dest: Path, match: str) -> None:
    before = snapshot(dest)
    with pytest.raises(DestinationError, match=match):
        export_dataset(run_dir, DatasetExportOptions(dir=str(dest), sample_rate=8000), ANNOTATION)
    assert snapshot(dest) == before


def test_an_export_whose_marker_lists_its_files_wrongly_is_not_replaced(run_dir: Path, tmp_path: Path) -> None:
    """A damaged file list proves nothing: the folder, with a file someone added, is kept.

    Mutant killed: a marker whose `files` is malformed taken as "no changes".
    """
    dest = tmp_path / "dataset"
    export_dataset(run_dir, DatasetExportOptions(dir=str(dest)), ANNOTATION)
    marker = json.loads((dest / MARKER).read_text())
    marker["files"] = {name: "not a size and hash" for name in marker["files"]}
    (dest / MARKER).write_text(json.dumps(marker))
    (dest / "REVIEW_NOTES.txt").write_text("my hand review notes\n")
    refused(run_dir, dest, rf"{MARKER} \(changed\); nothing was deleted")
    assert (dest / "REVIEW_NOTES.txt").read_text() == "my hand review notes\n"


def test_a_folder_with_a_marker_but_no_file_list_nor_export_json_is_not_replaced(run_dir: Path, tmp_path: Path) -> None:
    """A format-1 marker says an export was here, but without export.json nothing says what it wrote.

    Mutant killed: such a folder taken as an unchanged export, and replaced with everything in it.
    """
    dest = tmp_path / "dataset"
    export_dataset(run_dir, DatasetExportOptions(dir=str(dest)), ANNOTATION)
    marker = json.loads((dest / MARKER).read_text())
    del marker["files"]
    marker["format"] = 1
    (dest / MARKER).write_text(json.dumps(marker))
    (dest / "export.json").unlink()
    (dest / "my_curated_list.csv").write_text("clip,keep\n")
    refused(run_dir, dest, r"export\.json \(missing or changed\); nothing was deleted")
    assert (dest / "my_curated_list.csv").is_file()


def test_a_file_added_while_the_export_hashes_its_old_folder_is_not_swapped_away(run_dir: Path, tmp_path: Path) -> None:
    """The check before the swap lists the folder before and after hashing it: a file added meanwhile is seen.

    A person saves notes into the old export while the new one is checked before the swap (hashing a large
    clip takes a while). A thread of this test plays that person: it waits until the old folder's large file is
    opened for the second time (the check before the swap; the first is the check before any work) and writes
    the notes then. Mutant killed: the check forgetting what changed during the hashing.
    """
    dest = tmp_path / "dataset"
    export_dataset(run_dir, DatasetExportOptions(dir=str(dest)), ANNOTATION)
    big = dest / "clips" / "big.wav"  # a large clip the export listed: hashing it takes a moment
    with big.open("wb") as f:
        f.truncate(256 << 20)  # sparse: no disk space
    digest = hashlib.sha256()
    with big.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    marker = json.loads((dest / MARKER).read_text())
    marker["files"]["clips/big.wav"] = {"size": big.stat().st_size, "sha256": digest.hexdigest()}
    (dest / MARKER).write_text(json.dumps(marker, indent=2))
    notes, stop = dest / "REVIEW_NOTES.txt", threading.Event()

    def person() -> None:  # writes the notes while the check before the swap hashes big.wav
        openings, was_open = 0, False
        while not stop.is_set():
            now_open = any(_links_to(fd, big) for fd in os.listdir("/proc/self/fd"))
            if now_open and not was_open:
                openings += 1
                if openings == 2:
                    notes.write_text("my hand review notes\n")
                    return
            was_open = now_open
            time.sleep(0.0005)

    thread = threading.Thread(target=person)
    thread.start()
    try:
        with pytest.raises(DestinationError, match=r"REVIEW_NOTES\.txt \(changed during the check\)"):
            export_dataset(run_dir, DatasetExportOptions(dir=str(dest), sample_rate=8000), ANNOTATION)
    finally:
        stop.set()
        thread.join()
    assert notes.read_text() == "my hand review notes\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dataset")] == []


def _links_to(fd: str, path: Path) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{fd}") == str(path)
    except OSError:
        return False


# --- pull and report: a file kept aside is never replaced by the next one kept in the same second ------------------


def test_files_kept_aside_in_the_same_second_never_replace_each_other(tmp_path: Path) -> None:
    """Two hand edits of one item moved aside at the same pull time both stay in corrected-kept/.

    Pulls name the folder after their time to the second; two pulls within one second (a script, a retry)
    keep their files in the same folder. Mutant killed: `free_name` returning a taken name.
    """
    out, at = tmp_path / "out", "2025-01-02T03:04:05+00:00"
    corrected = out / "corrected" / "talk.wav.json"
    corrected.parent.mkdir(parents=True)
    corrected.write_text('{"first": "hand edit"}')
    assert keep_changed(out, ["talk.wav"], {}, at) == ["talk.wav"]
    corrected.write_text('{"second": "hand edit"}')
    assert keep_changed(out, ["talk.wav"], {}, at) == ["talk.wav"]
    kept = snapshot(out / "corrected-kept")
    assert kept == {
        "20250102T030405Z/talk.wav.json": b'{"first": "hand edit"}',
        "20250102T030405Z/talk.wav.2.json": b'{"second": "hand edit"}',
    }


def test_report_files_kept_aside_in_the_same_second_never_replace_each_other(tmp_path: Path) -> None:
    """As above for `report`: two edits of items.csv kept at the same report time are both kept."""
    folder, at = tmp_path / "correction", "2025-01-02T03:04:05+00:00"
    folder.mkdir()
    data = {"items.csv": b"item,wer\nfox.wav,0.1\n"}
    for notes in ("my notes", "more notes"):  # a report, then a person's edit of its table, then the next report
        write_owned(folder, data, at)
        (folder / "items.csv").write_text(f"item,wer,{notes}\n")
        assert len(keep_foreign(folder, data, at)) == 1
    assert snapshot(tmp_path / "correction-kept") == {
        "20250102T030405Z/items.csv": b"item,wer,my notes\n",
        "20250102T030405Z/items.2.csv": b"item,wer,more notes\n",
    }


# --- calibrate: only a model calibrate wrote, unchanged, is replaced ----------------------------------------------


@pytest.mark.slow  # a fit of the review model on a long run
def test_calibrate_keeps_a_review_model_it_did_not_write(tmp_path: Path) -> None:
    """A model fitted by other means (the shipped one, refitted with tools/fit_review_model.py) is kept.

    Mutants killed: a model without calibrate's seal taken for one of calibrate's older versions (which knew
    no seal) whatever its provenance says; a seal of another command accepted when its hash matches.
    """
    out = long_run(tmp_path)
    default = out / "correction" / MODEL_FILE
    default.parent.mkdir()
    shipped = Path(quality.__file__).parent / "review_model.json"  # fitted by tools/fit_review_model.py
    default.write_bytes(shipped.read_bytes())
    refused = run_cli("calibrate", "-o", str(out))
    assert refused.returncode == 2 and "not a review model that `preannotate calibrate` wrote" in refused.stderr
    assert default.read_bytes() == shipped.read_bytes()

    default.unlink()
    assert run_cli("calibrate", "-o", str(out)).returncode == 0
    model = json.loads(default.read_text())
    model["provenance"]["written_by"]["command"] = "my own fitting script"  # sealed the same way by another tool
    default.write_text(json.dumps(model, indent=2) + "\n")
    before = default.read_bytes()
    refused = run_cli("calibrate", "-o", str(out))
    assert refused.returncode == 2 and "not a review model that `preannotate calibrate` wrote" in refused.stderr
    assert default.read_bytes() == before

    shared = tmp_path / "team" / MODEL_FILE  # the team's model, calibrate's own, reached through a link
    shared.parent.mkdir()
    default.rename(shared)
    model["provenance"]["written_by"]["command"] = "preannotate calibrate"
    shared.write_text(json.dumps(model, indent=2) + "\n")
    default.symlink_to(shared)
    refused = run_cli("calibrate", "-o", str(out))
    assert refused.returncode == 2 and "it is a symbolic link" in refused.stderr, refused.stderr
    assert default.is_symlink() and default.resolve() == shared.resolve()


# --- run: only a record a run of this tool wrote shows an output folder's files are its own ------------------------


@pytest.mark.parametrize(
    ("record", "content"),
    [
        ("journal.jsonl", '{"date": "2025-01-02", "entry": "interviews transcribed by hand"}\n'),  # a diary in JSONL
        ("run.json", '{"files": ["interview.wav"], "by": "our own script"}\n'),  # another tool's record
    ],
)
def test_run_refuses_a_folder_whose_run_record_is_not_a_runs(tmp_path: Path, record: str, content: str) -> None:
    """A journal.jsonl or run.json of someone else's does not make the folder's chunks.csv the run's to overwrite.

    Mutants killed: any JSON object as a journal's first line taken for a run's start; a run.json without the
    run's configuration taken for a run's.
    """
    inp, mine = tmp_path / "in", tmp_path / "project"
    inp.mkdir()
    write_wav16(inp / "hello.wav", read_sample("en/hello_world"))
    mine.mkdir()
    (mine / record).write_text(content, encoding="utf-8")
    (mine / "chunks.csv").write_text("item,text\ninterview,corrected by hand\n", encoding="utf-8")
    before = snapshot(mine)
    offline = ["--set", "model.name=bundled:tiny.en", "--set", "superannotate.dry_run=true", "--no-progress"]
    args = [sys.executable, "-m", "preannotate", "run", "-i", str(inp), "-o", str(mine), *offline]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stderr
    assert f"output folder {mine} holds" in proc.stderr and "chunks.csv" in proc.stderr, proc.stderr
    assert snapshot(mine) == before and sorted(p.name for p in mine.iterdir()) == sorted([record, "chunks.csv"])
