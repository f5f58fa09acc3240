"""Temporary files left by killed writers, and a full disk, on real files and a real small file system."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from support.media import SAMPLES

from preannotate.lock import output_lock
from preannotate.storage import STALE_TEMP_S, atomic_writer, remove_output_temps

CLI = [sys.executable, "-m", "preannotate"]


def writer_in_the_middle(path: Path) -> subprocess.Popen:
    """A real process stopped halfway through an atomic write of `path`; returns once the temp exists."""
    code = f"""
        import time
        from preannotate.storage import atomic_writer
        with atomic_writer({str(path)!r}) as f:
            f.write("half of it")
            f.flush()
            print("writing", flush=True)
            time.sleep(600)
    """
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    return proc


def temps(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*.tmp")}


def test_stale_temps_go_from_every_output_folder_live_ones_stay(tmp_path: Path) -> None:
    out = tmp_path / "out"
    killed = writer_in_the_middle(out / "subtitles" / "a.wav.srt")
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    live = writer_in_the_middle(out / "correction" / "items.csv")
    try:
        old = out / "uploaded" / "a.wav" / ".0123456789abcdef.json.x1y2z3w4.tmp"  # an older version's name
        young = out / "superannotate" / ".a.wav.json.q9w8e7r6.tmp"
        for path in (old, young, out / "backups" / "b" / ".c.json.k4k4k4k4.tmp"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("partial")
        hour_ago = time.time() - STALE_TEMP_S - 60
        os.utime(old, (hour_ago, hour_ago))
        os.utime(out / "backups" / "b" / ".c.json.k4k4k4k4.tmp", (hour_ago, hour_ago))
        before = temps(out)
        assert len(before) == 5 and any(t.startswith("subtitles/.a.wav.srt.") for t in before)
        with atomic_writer(out / "transcripts" / "a.wav.json") as f:  # this process, writing now
            f.write("{")
            with output_lock(out, "run"):  # taking the lock cleans the folder
                pass
            left = temps(out)
        kept = {t for t in before if t.startswith(("correction/", "superannotate/"))}
        assert left - {t for t in left if t.startswith("transcripts/")} == kept
        assert len(left) == 3  # the live process's, the young one of unknown origin, ours
    finally:
        live.kill()
        live.wait()
    assert json.loads((out / "transcripts" / "a.wav.json").read_text() + "}") == {}
    assert not (out / "subtitles" / "a.wav.srt").exists()
    assert remove_output_temps(out) == 1  # the live writer was killed meanwhile: its temp is stale now
    assert temps(out) == {"superannotate/.a.wav.json.q9w8e7r6.tmp"}  # never by age 0


@pytest.fixture
def small_disk(tmp_path: Path):
    """A real 16 KiB tmpfs: room for a lock file, a transcript and run.json, not for the whole run."""
    mount = tmp_path / "small"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root in a privileged container): {proc.stderr!r}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_stops_the_run_with_one_clear_message(tmp_path: Path, small_disk: Path, tiny_model) -> None:
    inp = tmp_path / "in"
    inp.mkdir()
    for name in ("hello_world", "counting", "quick_brown_fox"):
        shutil.copy(SAMPLES / "en" / f"{name}.wav", inp / f"{name}.wav")
    out = small_disk / "out"
    args = ["run", "-i", str(inp), "-o", str(out), "--set", "model.name=bundled:tiny.en", "--no-progress"]
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr  # processing had begun: "run again to retry" (see cli.EXIT_CODES)
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("preannotate: error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0] and f"cannot write in {out}" in errors[0]
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    for path in out.rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))  # whatever is there is whole
    assert len(list((out / "transcripts").glob("*.json"))) < 3  # it stopped, rather than failing file after file


def test_written_files_get_the_permissions_a_new_file_gets_or_keep_the_old_ones(tmp_path: Path) -> None:
    # mkstemp makes 0600 files: a team's shared output folder would be unreadable to the team.
    old = os.umask(0o022)
    try:
        with atomic_writer(tmp_path / "run.json") as f:
            f.write("{}")
        assert (tmp_path / "run.json").stat().st_mode & 0o777 == 0o644
        os.umask(0o002)
        with atomic_writer(tmp_path / "new.csv") as f:
            f.write("a")
        assert (tmp_path / "new.csv").stat().st_mode & 0o777 == 0o664
        (tmp_path / "run.json").chmod(0o640)  # a replaced file keeps what its owner chose
        with atomic_writer(tmp_path / "run.json", binary=True) as f:
            f.write(b"[]")
        assert (tmp_path / "run.json").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)
