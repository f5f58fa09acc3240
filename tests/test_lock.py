"""The output folder's lock: two real runs at once, a lock left by a killed process, nesting."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from support.media import SAMPLES

from preannotate.errors import LockError
from preannotate.lock import LOCK_FILE, output_lock

CLI = [sys.executable, "-m", "preannotate"]
SHORT = ("hello_world", "counting", "quick_brown_fox")


def input_folder(root: Path) -> Path:
    folder = root / "in"
    folder.mkdir()
    for name in SHORT:
        shutil.copy(SAMPLES / "en" / f"{name}.wav", folder / f"{name}.wav")
    return folder


def run_args(inp: Path, out: Path) -> list[str]:
    return ["run", "-i", str(inp), "-o", str(out), "--set", "model.name=bundled:tiny.en", "--no-progress"]


def check_run_is_whole(out: Path) -> None:
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert {f["status"] for f in run["files"]} == {"ok"}, run["files"]
    assert sorted(p.name for p in (out / "transcripts").iterdir()) == sorted(f"{n}.wav.json" for n in SHORT)
    for path in (out / "transcripts").iterdir():
        assert "text" in json.loads(path.read_text(encoding="utf-8"))
    assert not list(out.rglob("*.tmp"))


def hold_lock(folder: Path) -> subprocess.Popen:
    """A real process that takes the lock and waits; returns once it holds it."""
    code = f"""
        import sys, time
        from preannotate.lock import output_lock
        with output_lock({str(folder)!r}, "upload"):
            print("held", flush=True)
            time.sleep(600)
    """
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_two_runs_at_once_one_is_refused(tmp_path: Path, tiny_model) -> None:
    inp, out = input_folder(tmp_path), tmp_path / "out"
    procs = [subprocess.Popen([*CLI, *run_args(inp, out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]  # fmt: skip
    results = [(p.pid, *p.communicate(timeout=600), p.returncode) for p in procs]
    codes = sorted(code for *_, code in results)
    assert codes == [0, 2], results
    (winner, *_), (_, _, stderr, _) = sorted(results, key=lambda r: r[3])
    assert "Traceback" not in stderr
    assert f"{out} is in use by `preannotate run` (pid {winner} on host {socket.gethostname()}, started " in stderr
    check_run_is_whole(out)
    assert (out / LOCK_FILE).read_text() == ""  # released in order


def test_lock_of_a_killed_process_is_taken_over(tmp_path: Path, tiny_model) -> None:
    inp, out = input_folder(tmp_path), tmp_path / "out"
    holder = hold_lock(out)
    held = json.loads((out / LOCK_FILE).read_text())
    assert held["pid"] == holder.pid and held["command"] == "upload"
    refused = subprocess.run([*CLI, *run_args(inp, out)], capture_output=True, text=True, timeout=600)
    assert refused.returncode == 2 and f"`preannotate upload` (pid {holder.pid} " in refused.stderr
    assert not (out / "run.json").exists()  # the refused run did nothing
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    proc = subprocess.run([*CLI, *run_args(inp, out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert f"taking over the lock of `preannotate upload` (pid {holder.pid} " in proc.stderr
    check_run_is_whole(out)
    stopped = subprocess.run([*CLI, *run_args(tmp_path / "missing", tmp_path / "new")], capture_output=True, text=True)
    assert stopped.returncode == 2 and "does not exist" in stopped.stderr
    assert not (tmp_path / "new").exists()  # the lock left no empty folder behind


def test_lock_is_reentrant_in_a_process_and_exclusive_between_processes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    probe = f"from preannotate.lock import output_lock\nwith output_lock({str(out)!r}, 'pull'): pass"
    with output_lock(out, "run"):
        with output_lock(out, "export"):  # a notebook's call inside run_pipeline's
            pass
        other = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
        assert other.returncode == 1 and "LockError" in other.stderr and f"(pid {os.getpid()} " in other.stderr
    other = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert other.returncode == 0, other.stderr


def test_second_holder_in_another_process_gets_lock_error(tmp_path: Path) -> None:
    holder = hold_lock(tmp_path)
    try:
        started = time.monotonic()
        with (
            pytest.raises(LockError, match=rf"`preannotate upload` \(pid {holder.pid} on host "),
            output_lock(tmp_path, "export"),
        ):
            pass
        assert time.monotonic() - started < 5  # refused at once, not after waiting
    finally:
        holder.kill()
        holder.wait()
    with output_lock(tmp_path, "export"):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["command"] == "export"
