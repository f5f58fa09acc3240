"""Ownership checks that a second mutation audit found no test for: each test fails if its check is disabled.

The rule: a command that deletes, overwrites or re-uploads must prove that what it replaces is its own. These
tests use real files, real processes and real locks. Two checks are made again once a command holds its lock,
against a folder or file changed between the first check and the lock: a named pipe stands where that command
reads (or, for `run`, which refuses a named pipe in place of its journal, the standard library's flock waits on
one), so the first check waits while this test (the other process) changes the folder, and only then goes on.
The window is made wide, not faked: nothing in the package is replaced.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from pathlib import Path

import pytest
from support.lock_processes import dead_pid
from support.media import SAMPLES

from preannotate.correction.calibrate_model import MODEL_FILE, TARGET, Calibration, write_model
from preannotate.errors import DestinationError
from preannotate.lock import LOCK_FILE, output_lock
from preannotate.quality import default_model
from preannotate.storage import STALE_TEMP_S, host_tag, pid_alive

CLI = [sys.executable, "-m", "preannotate"]
OFFLINE = ["--set", "model.name=bundled:tiny.en", "--set", "superannotate.dry_run=true", "--no-progress"]
THEIRS = "item,text\ninterview,corrected by hand\n"  # a project's own chunks.csv


def input_folder(root: Path) -> Path:
    folder = root / "in"
    folder.mkdir()
    shutil.copy(SAMPLES / "en" / "hello_world.wav", folder / "hello_world.wav")
    return folder


def open_writer_when_read(fifo: Path, reader: subprocess.Popen | threading.Thread, timeout: float = 120) -> int:
    """Opens the named pipe for writing once the other side has opened it to read; returns a blocking descriptor."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno != errno.ENXIO:  # ENXIO: nobody reads it yet
                raise
        else:
            os.set_blocking(fd, True)
            return fd
        running = reader.poll() is None if isinstance(reader, subprocess.Popen) else reader.is_alive()
        assert running, "the command ended without reading the pipe"
        assert time.monotonic() < deadline, "the command never read the pipe"
        time.sleep(0.02)


# --- run: the output folder is checked again under the lock ------------------------------------------------------


# The run, stopped at its first flock (taking the lock, after its first check) until the test writes to a named
# pipe. A named pipe in place of the journal no longer holds a run (it is refused at once as no file): the pause is
# made in the standard library's flock instead, the package left as it is.
PAUSED_AT_THE_LOCK = """
import fcntl, sys
from pathlib import Path
real, paused = fcntl.flock, []
def flock(fd, operation):
    if not paused:
        paused.append(True)
        Path({pin!r}).read_bytes()  # waits for the test
    return real(fd, operation)
fcntl.flock = flock
from preannotate.cli import main
sys.exit(main({args!r}))
"""


def test_run_checks_the_output_folder_again_once_it_holds_the_lock(tmp_path: Path) -> None:
    """A folder that held a run's journal when the run looked, and a project's chunks.csv when it took the lock.

    The run's first check reads the journal's first line, a run's; the run then waits as it takes the lock while
    this process (another writer) moves the journal away and puts its own chunks.csv in the folder. The check
    under the lock must see the folder as it is now.
    Mutant killed: the check of `_start` (under the lock) removed.
    """
    inp, out, pin = input_folder(tmp_path), tmp_path / "project", tmp_path / "pin"
    out.mkdir()
    journal = out / "journal.jsonl"
    journal.write_text('{"t": "start", "started_at": "2025-01-02T03:04:05+00:00"}\n', encoding="utf-8")
    os.mkfifo(pin)
    args = ["run", "-i", str(inp), "-o", str(out), *OFFLINE]
    code = PAUSED_AT_THE_LOCK.format(pin=str(pin), args=args)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        fd = open_writer_when_read(pin, proc)
        journal.unlink()  # the run's journal goes; the project's own file comes, before the run takes the lock
        (out / "chunks.csv").write_text(THEIRS, encoding="utf-8")
        os.close(fd)
        _, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2, stderr
    assert f"output folder {out} holds chunks.csv" in stderr and "Traceback" not in stderr, stderr
    assert (out / "chunks.csv").read_text(encoding="utf-8") == THEIRS
    assert sorted(p.name for p in out.iterdir()) == sorted(["chunks.csv", LOCK_FILE])  # no journal, no run.json
    assert (out / LOCK_FILE).read_text() == ""  # released in order


# --- run: a dangling link is one of the names a run would overwrite ----------------------------------------------


def test_run_refuses_a_folder_whose_chunks_csv_is_a_dangling_link(tmp_path: Path) -> None:
    """The project's chunks.csv is a link to its share, not mounted now: the run must not replace the link.

    Mutant killed: `_present` counting only names that exist (a dangling link does not).
    """
    inp, out = input_folder(tmp_path), tmp_path / "project"
    out.mkdir()
    share = tmp_path / "share-not-mounted" / "podcasts" / "chunks.csv"
    (out / "chunks.csv").symlink_to(share)
    args = [*CLI, "run", "-i", str(inp), "-o", str(out), *OFFLINE]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stderr
    assert f"output folder {out} holds chunks.csv" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert (out / "chunks.csv").is_symlink() and os.readlink(out / "chunks.csv") == str(share)
    assert [p.name for p in out.iterdir()] == ["chunks.csv"]  # refused before the lock: no lock file either


# --- calibrate: the model file is checked again under the lock, and by its format ---------------------------------


def calibration() -> Calibration:
    """A real calibration result: the shipped model, as if refitted (write_model only writes it)."""
    counts = {"chunks": 40, "with_error": 20, "left_out": 0}
    return Calibration(default_model(), counts, {"refitted": None, "uploaded": None, "shipped": None})


def test_write_model_checks_the_model_file_again_once_it_holds_the_lock(tmp_path: Path) -> None:
    """The model file was calibrate's when write_model looked, and a person's model when it took the lock.

    The first check reads the file: a named pipe there makes it wait mid-read while this process replaces the
    file with the team's hand-tuned model, then answers with a model calibrate wrote. Replacing the team's model
    must be refused. Mutant killed: the check of `write_model` under the lock removed.
    """
    own = write_model(calibration(), tmp_path / "earlier" / MODEL_FILE)  # a model calibrate wrote, sealed
    sealed = own.read_bytes()
    team = tmp_path / "team"
    team.mkdir()
    path = team / MODEL_FILE
    os.mkfifo(path)
    hand_tuned = json.loads(sealed)
    hand_tuned["threshold"] = 0.05  # tuned by hand: no longer what calibrate wrote
    hand_tuned = (json.dumps(hand_tuned, indent=2) + "\n").encode("utf-8")
    raised: list[BaseException] = []

    def write() -> None:
        try:
            write_model(calibration(), path)
        except BaseException as e:  # noqa: BLE001  (the test asserts on it)
            raised.append(e)

    writer = threading.Thread(target=write)
    writer.start()
    fd = open_writer_when_read(path, writer)
    path.unlink()
    path.write_bytes(hand_tuned)  # the team's model, put there before write_model takes the lock
    os.write(fd, sealed)
    os.close(fd)
    writer.join(timeout=120)
    assert not writer.is_alive()
    assert len(raised) == 1 and isinstance(raised[0], DestinationError), raised
    assert "it was changed since `preannotate calibrate` wrote it" in str(raised[0]), raised[0]
    assert path.read_bytes() == hand_tuned
    assert sorted(p.name for p in team.iterdir()) == [MODEL_FILE]  # its lock (beside the model) went with it


def test_write_model_keeps_a_file_of_another_format_that_carries_calibrate_s_provenance(tmp_path: Path) -> None:
    """The team's notes on a calibration, with a copy of its model's provenance, are not a model to replace.

    An older calibrate wrote models without a seal, known by their provenance: only a review model's format makes
    that provenance proof. Mutant killed: the format check of `_replace_problem` removed.
    """
    path = tmp_path / "team" / MODEL_FILE
    path.parent.mkdir()
    notes = {
        "format": "team-calibration-notes",
        "notes": "March refit: flags too many chunks of the phone interviews; keep the shipped model for those.",
        "provenance": {"calibrated_on": ["runs/march"], "target": TARGET},
    }
    path.write_text(json.dumps(notes, indent=2) + "\n", encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(DestinationError, match="not a review model that `preannotate calibrate` wrote"):
        write_model(calibration(), path)
    assert path.read_bytes() == before

    legacy = default_model().to_dict()  # a model an older calibrate wrote, before seals: still replaced
    legacy["provenance"] = dict(notes["provenance"])
    path.write_text(json.dumps(legacy, indent=2) + "\n", encoding="utf-8")
    write_model(calibration(), path)
    assert json.loads(path.read_text())["provenance"]["written_by"]["command"] == "preannotate calibrate"


# --- stale temporary files: another machine's, and folders the tool does not write -------------------------------


def test_a_temp_file_of_another_machine_is_kept_though_a_local_pid_of_that_number_is_dead(tmp_path: Path) -> None:
    """A shared output folder: a young temp of a writer on another machine names a pid that means nothing here.

    Mutant killed: the host tag of `_is_stale` ignored (a dead local pid then condemns another machine's file).
    """
    pid = dead_pid()  # a process of this machine that has ended
    assert not pid_alive(pid)
    other = f"{zlib.crc32(b'render-node-07.team.example'):08x}"
    assert other != host_tag()
    out = tmp_path / "out"
    theirs = out / "transcripts" / f".interview.wav.json.{other}-{pid}-9f3a0c1d.tmp"
    ours = out / "transcripts" / f".hello.wav.json.{host_tag()}-{pid}-5e6b7a8c.tmp"  # this machine's: stale
    theirs.parent.mkdir(parents=True)
    theirs.write_text('{"text": "being written on render-node-07')
    ours.write_text('{"text": "left by a killed run')
    with output_lock(out, "run"):  # taking the lock removes stale temps
        pass
    assert theirs.read_text() == '{"text": "being written on render-node-07'
    assert not ours.exists()


def test_stale_temps_are_searched_in_the_folders_the_tool_writes_only(tmp_path: Path) -> None:
    """An output folder that is the user's media folder: their sub-folders are not searched, the tool's are, deeply.

    Mutants killed: the top-level search made recursive (it would reach the user's recordings/), the search of
    the tool's folders made top-level only (a temp in transcripts/<sub-folder>/ would stay), and an older
    version's name matched at any length of its random part (the user's editor file would go).
    """
    out = tmp_path / "media"
    users = out / "recordings" / "2024" / ".interview.wav.a1b2c3d4.tmp"  # another program's, shaped like ours
    top = out / ".chunks.csv.q9w8e7r6.tmp"  # an older version's temp (mkstemp's 8 characters), left at the top
    deep = out / "transcripts" / "2024" / "march" / ".interview.wav.json.k4k4k4k4.tmp"
    editors = out / ".notes.txt.a1b2c3.tmp"  # the user's at the top: shaped like an old temp but for its length
    for path in (users, top, deep, editors):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("partial")
        hour_ago = time.time() - STALE_TEMP_S - 60
        os.utime(path, (hour_ago, hour_ago))
    with output_lock(out, "run"):
        pass
    assert users.read_text() == "partial" and editors.read_text() == "partial"
    assert not top.exists() and not deep.exists()


# --- the lock file: removed on release only when this process made it ---------------------------------------------


def test_a_lock_file_made_in_a_folder_that_was_there_is_removed_on_release(tmp_path: Path) -> None:
    """A command that stops at once leaves an existing folder as it found it, without a lock file of its own.

    Mutant killed: `made_file` ignored (only a folder the lock made would lose its lock file).
    """
    out = tmp_path / "empty"
    out.mkdir()
    probe = f"from preannotate.lock import output_lock\nwith output_lock({str(out)!r}, 'export'): pass"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert list(out.iterdir()) == []


def test_a_lock_file_left_by_a_killed_holder_is_kept_on_release(tmp_path: Path) -> None:
    """The lock file a killed process left is not this process's: taken over, it is emptied, not removed.

    Mutant killed: `made_file` taken as true (every lock file alone in its folder removed on release).
    """
    out = tmp_path / "run"
    out.mkdir()
    code = f"""
        import time
        from preannotate.lock import output_lock
        with output_lock({str(out)!r}, "upload"):
            print("held", flush=True)
            time.sleep(600)
    """
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    left = json.loads((out / LOCK_FILE).read_text())
    assert left["pid"] == holder.pid and left["host"] == socket.gethostname()
    with output_lock(out, "export"):
        assert json.loads((out / LOCK_FILE).read_text())["command"] == "export"
    assert [p.name for p in out.iterdir()] == [LOCK_FILE]
    assert (out / LOCK_FILE).read_text() == ""  # released in order
