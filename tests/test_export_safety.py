"""`preannotate export` on real folders: it replaces only what an export made, unchanged, and cleans up after a kill."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from support.media import read_sample, write_wav16
from support.pulled_runs import ANNOTATION, make_pulled_run

from preannotate.correction.dataset import export_dataset
from preannotate.correction.destination import MARKER
from preannotate.errors import CorrectionError, DestinationError
from preannotate.options import DatasetExportOptions

CLI = [sys.executable, "-m", "preannotate"]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    fox = read_sample("en/quick_brown_fox")
    return make_pulled_run(tmp_path, {"fox.wav": (fox, [(0.0, 1.2, "The quick brown fox"), (1.2, 2.8, "jumps.")])})


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def as_before_marker(dest: Path) -> None:
    """Makes an export look like one made before the marker: no marker, and its audiofolder table metadata.csv."""
    (dest / MARKER).unlink()
    jsonl, csv = dest / "metadata.jsonl", dest / "metadata.csv"
    rows = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    csv.write_text("file_name,transcription\n" + "".join(f"{r['file_name']},{r['transcription']}\n" for r in rows))
    written = (dest / "export.json").stat().st_mtime_ns
    os.utime(csv, ns=(written, written))
    jsonl.unlink()


def recordings(folder: Path) -> Path:
    """A folder of someone's own files."""
    (folder / "day1").mkdir(parents=True)
    write_wav16(folder / "day1" / "interview.wav", read_sample("en/hello_world"))
    (folder / "notes.txt").write_text("who said what\n")
    return folder


def test_cli_export_refuses_a_folder_it_did_not_make(run_dir: Path, tmp_path: Path) -> None:
    dest = recordings(tmp_path / "recordings")
    before = snapshot(dest)
    proc = subprocess.run([*CLI, "export", "-o", str(run_dir), "--dest", str(dest)], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"refusing to replace {dest}: it is not empty and was not made by `preannotate export`" in proc.stderr
    assert "nothing was deleted" in proc.stderr
    assert snapshot(dest) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".recordings")] == []


@pytest.mark.parametrize("which", ["input", "output", "parent", "file", "symlink"])
def test_export_refuses_the_run_folders_and_what_is_above_them(run_dir: Path, tmp_path: Path, which: str) -> None:
    (tmp_path / "a-file").write_text("keep me")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    dest = {"input": tmp_path / "in", "output": run_dir, "parent": tmp_path, "file": tmp_path / "a-file"}
    dest["symlink"] = tmp_path / "link"
    reason = {"input": r"it is the input \(media\) folder", "output": "it is the run's output folder"}
    reason.update(parent="it holds the run's output folder", file="is a file", symlink="is a symbolic link")
    before = snapshot(tmp_path)
    with pytest.raises(CorrectionError, match=reason[which]):
        export_dataset(run_dir, DatasetExportOptions(dir=str(dest[which])), ANNOTATION)
    assert snapshot(tmp_path) == before


def test_export_replaces_only_new_empty_and_export_made_folders(run_dir: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dataset"
    export_dataset(run_dir, DatasetExportOptions(dir=str(dest)), ANNOTATION)  # a new folder
    marker = json.loads((dest / MARKER).read_text())
    first = snapshot(dest)
    assert marker["format"] == 2 and marker["files"].keys() == first.keys() - {MARKER}
    assert all(
        v == {"size": len(first[k]), "sha256": hashlib.sha256(first[k]).hexdigest()} for k, v in marker["files"].items()
    )
    export_dataset(run_dir, DatasetExportOptions(dir=str(dest), sample_rate=8000), ANNOTATION)  # its own
    assert snapshot(dest).keys() == first.keys() and snapshot(dest) != first
    as_before_marker(dest)  # an export made before the marker: only export files, and export.json
    export_dataset(run_dir, DatasetExportOptions(dir=str(dest)), ANNOTATION)
    assert (dest / MARKER).is_file() and not (dest / "metadata.csv").exists()
    as_before_marker(dest)
    (dest / "mine.txt").write_text("added by hand")
    with pytest.raises(CorrectionError, match="nothing was deleted"):
        export_dataset(run_dir, DatasetExportOptions(dir=str(dest)), ANNOTATION)
    assert (dest / "mine.txt").read_text() == "added by hand"
    empty = tmp_path / "empty"
    empty.mkdir()
    export_dataset(run_dir, DatasetExportOptions(dir=str(empty)), ANNOTATION)
    assert (empty / "metadata.jsonl").is_file() and (empty / MARKER).is_file()


def test_cli_export_refuses_its_folder_with_files_added_by_hand(run_dir: Path, tmp_path: Path) -> None:
    """The audit's case: notes and a folder added to an export survive the next export, which says so."""
    dest, args = run_dir / "dataset", [*CLI, "export", "-o", str(run_dir)]
    subprocess.run(args, capture_output=True, check=True)
    (dest / "REVIEW_NOTES.txt").write_text("my hand review notes\n")
    (dest / "extra").mkdir()
    (dest / "extra" / "fixed.csv").write_text("x\n")
    before = snapshot(dest)
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"refusing to replace {dest}: it is not as the export that made it left it: " in proc.stderr
    assert "REVIEW_NOTES.txt (added), extra/ (added); nothing was deleted. To keep these changes, move" in proc.stderr
    assert snapshot(dest) == before
    assert [p.name for p in run_dir.iterdir() if p.name.startswith(".dataset")] == []


def assert_refused(run_dir: Path, dest: Path, match: str, **options: object) -> None:
    """An export into `dest` is refused with a message matching `match`, and leaves `dest` as it was."""
    before = snapshot(dest)
    with pytest.raises(DestinationError, match=match):
        export_dataset(run_dir, DatasetExportOptions(dir=str(dest), **options), ANNOTATION)  # type: ignore[arg-type]
    assert snapshot(dest) == before


def edit_same_size(path: Path) -> None:
    """Changes one byte: only the content tells."""
    data = bytearray(path.read_bytes())
    data[-2] ^= 1
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("change", ["text edited", "clip edited", "clip deleted", "clip replaced by a folder"])
def test_export_refuses_its_folder_once_edited_or_pruned(run_dir: Path, tmp_path: Path, change: str) -> None:
    dest = tmp_path / "dataset"
    export_dataset(run_dir, DatasetExportOptions(dir=str(dest)), ANNOTATION)
    clip = sorted((dest / "clips").iterdir())[0]
    name, kind = clip.relative_to(dest).as_posix(), "changed"
    if change == "text edited":
        edit_same_size(dest / "metadata.jsonl")
        name = "metadata.jsonl"
    elif change == "clip edited":
        edit_same_size(clip)
    elif change == "clip deleted":
        clip.unlink()
        kind = "missing"
    else:
        clip.unlink()
        clip.mkdir()
    assert_refused(run_dir, dest, rf"left it: {re.escape(name)} \({kind}\); nothing was deleted", sample_rate=8000)
    assert clip.parent.is_dir()


def test_a_copy_of_an_export_is_replaced_only_while_unchanged(run_dir: Path, tmp_path: Path) -> None:
    """A dataset curated in a copy of an export keeps the marker: the curation is what is protected."""
    dest, copy = tmp_path / "dataset", tmp_path / "curated"
    export_dataset(run_dir, DatasetExportOptions(dir=str(dest)), ANNOTATION)
    shutil.copytree(dest, copy)
    export_dataset(run_dir, DatasetExportOptions(dir=str(copy)), ANNOTATION)  # the same files: nothing to lose
    clips = sorted((copy / "clips").iterdir())
    clips[0].unlink()
    lines = (copy / "metadata.jsonl").read_text().splitlines(keepends=True)
    (copy / "metadata.jsonl").write_text("".join(line for line in lines if clips[0].name not in line))
    assert_refused(run_dir, copy, rf"metadata.jsonl \(changed\), clips/{clips[0].name} \(missing\);")


def test_a_refusal_names_a_few_changes_and_counts_the_rest(run_dir: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dataset"
    export_dataset(run_dir, DatasetExportOptions(dir=str(dest)), ANNOTATION)
    for n in range(8):
        (dest / f"take-{n}.txt").write_text(f"take {n}\n")
    named = ", ".join(f"take-{n}.txt \\(added\\)" for n in range(5))
    with pytest.raises(DestinationError, match=f"left it: {named} and 3 more; nothing was deleted"):
        export_dataset(run_dir, DatasetExportOptions(dir=str(dest)), ANNOTATION)
    assert len(list(dest.glob("take-*.txt"))) == 8


OLD_CHANGES = {  # a change to an export that listed no files -> what the refusal names
    "notes added": r"notes.txt \(added\)",
    "text edited": r"metadata.csv \(changed\)",
    "clip deleted": r"clips/ \(1 clips where its export wrote 2\)",
    "table deleted": r"segments.csv \(missing\)",
}


@pytest.mark.parametrize("change", OLD_CHANGES)
@pytest.mark.parametrize("marker", ["format 1", "none"])
def test_exports_that_list_no_files_are_checked_by_names_count_and_times(
    run_dir: Path, tmp_path: Path, marker: str, change: str
) -> None:
    """A marker of the previous version (no file list), or none (exports made before it): made a minute ago."""
    dest = tmp_path / "dataset"

    def older_export() -> None:
        export_dataset(run_dir, DatasetExportOptions(dir=str(dest)), ANNOTATION)
        as_before_marker(dest)
        if marker == "format 1":
            old = {"format": 1, "made_by": "preannotate export", "created_at": "2024-01-01T00:00:00Z", "pid": 1}
            (dest / MARKER).write_text(json.dumps({**old, "host": "elsewhere"}, indent=2) + "\n")
        for path in dest.rglob("*"):
            mtime = path.stat().st_mtime_ns - 60 * 10**9
            os.utime(path, ns=(mtime, mtime))

    older_export()
    export_dataset(run_dir, DatasetExportOptions(dir=str(dest)), ANNOTATION)  # unchanged: replaced
    assert "files" in json.loads((dest / MARKER).read_text())
    older_export()
    if change == "notes added":
        (dest / "notes.txt").write_text("who said what\n")
    elif change == "text edited":
        edit_same_size(dest / "metadata.csv")
    else:
        (dest / ("segments.csv" if change == "table deleted" else "clips/fox.wav-0001.wav")).unlink()
    assert_refused(run_dir, dest, f"left it: {OLD_CHANGES[change]}; nothing was deleted")


def test_export_checks_its_folder_again_before_the_swap(run_dir: Path, tmp_path: Path) -> None:
    """Notes written into the old export while the new one is made are not swapped away."""
    dest = tmp_path / "dataset"
    export_dataset(run_dir, DatasetExportOptions(dir=str(dest)), ANNOTATION)
    first = snapshot(dest)
    killed = stage_and_wait(dest)  # a killed export's leftover: the next one removes it once under way
    killed.kill()
    killed.wait()

    class WriteNotes(logging.Handler):  # someone at work in the folder meanwhile
        def emit(self, record: logging.LogRecord) -> None:
            (dest / "REVIEW_NOTES.txt").write_text("my hand review notes\n")

    logger = logging.getLogger("preannotate.correction.destination")
    handler, level = WriteNotes(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with pytest.raises(DestinationError, match=r"REVIEW_NOTES.txt \(added\); nothing was deleted"):
            export_dataset(run_dir, DatasetExportOptions(dir=str(dest), sample_rate=8000), ANNOTATION)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert snapshot(dest) == {**first, "REVIEW_NOTES.txt": b"my hand review notes\n"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dataset")] == []


def stage_and_wait(dest: Path) -> subprocess.Popen:
    """A real process that starts an export's staging folder for `dest` and keeps working on it."""
    code = f"""
        import time
        from pathlib import Path
        from preannotate.correction.destination import new_staging
        staging = new_staging(Path({str(dest)!r}))
        (staging / "clips").mkdir()
        print(staging, flush=True)
        time.sleep(600)
    """
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True)
    assert Path(proc.stdout.readline().strip()).is_dir()
    return proc


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.mark.slow  # three exports of 29 minutes of audio in subprocesses
def test_killed_export_leaves_no_partial_folder_on_the_next_run(tmp_path: Path) -> None:
    speech = np.tile(read_sample("en/quick_brown_fox"), 200)  # 9.6 min: an export that takes a while
    spec = [(t, t + 2.5, f"take {n}") for n, t in enumerate(np.arange(0.0, len(speech) / 16000 - 3, 3.0))]
    out = make_pulled_run(tmp_path, {f"long{i}.wav": (speech, spec) for i in range(3)})
    dest, parent = tmp_path / "export" / "dataset", tmp_path / "export"
    args = [*CLI, "export", "-o", str(out), "--dest", str(dest), "--sample-rate", "44100"]
    live = stage_and_wait(dest)  # another export to the same folder, still working
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(parent.glob(f".dataset.partial-{proc.pid}/clips/*")):
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partials = {f".dataset.partial-{pid}" for pid in (proc.pid, live.pid)}
    assert {p.name for p in parent.iterdir()} == partials | {".dataset.export-lock"}  # killed mid-export
    foreign = parent / f".dataset.partial-{dead_pid()}"  # the same name pattern, someone else's files
    recordings(foreign)
    try:
        done = subprocess.run([*args[:-2], "--sample-rate", "8000"], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        names = {p.name for p in parent.iterdir()}
        assert names == {"dataset", f".dataset.partial-{live.pid}", foreign.name}, names
        assert (dest / "metadata.jsonl").is_file() and (dest / MARKER).is_file()
    finally:
        live.kill()
        live.wait()
    subprocess.run([*args[:-2], "--sample-rate", "8000"], capture_output=True, timeout=600, check=True)
    assert {p.name for p in parent.iterdir()} == {"dataset", foreign.name}
    assert (foreign / "notes.txt").is_file()


@pytest.mark.parametrize("where", ["a mistyped folder", "a folder of other files"])
def test_an_input_whose_media_cannot_be_read_leaves_the_earlier_dataset(run_dir: Path, tmp_path: Path, where) -> None:
    dest = tmp_path / "dataset"
    export_dataset(run_dir, DatasetExportOptions(dir=str(dest)), ANNOTATION)
    before = snapshot(dest)
    assert any(name.startswith("clips/") for name in before)
    wrong = tmp_path / "no-such-folder" if where == "a mistyped folder" else recordings(tmp_path / "elsewhere")
    with pytest.raises(CorrectionError, match=r"no item's source media could be read \(1 tried; the first: fox.wav"):
        export_dataset(run_dir, DatasetExportOptions(dir=str(dest)), ANNOTATION, input_dir=wrong)
    assert snapshot(dest) == before  # was: replaced by a dataset of no clips, every item failing
