"""Real second processes for lock tests: a holder that keeps an output folder's lock until told, and a starter."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The start of a second process's code that stops it at its first flock until the test writes to the named pipe
# {pin}: the package is left as it is, the pause is made in the standard library's call. Format with pin=.
PAUSE_AT_FIRST_FLOCK = """
    import fcntl, os, sys
    from pathlib import Path
    real, paused = fcntl.flock, []
    def flock(fd, operation):
        if not paused:
            paused.append(True)
            print("paused", flush=True)
            Path({pin!r}).read_bytes()  # waits for the test
        return real(fd, operation)
    fcntl.flock = flock
"""

# Holds the folder's lock until a line arrives on its stdin; prints "held" once it holds it. Format with out=.
HOLDER = """
    import sys
    from preannotate.lock import output_lock
    with output_lock({out!r}, "upload"):
        print("held", flush=True)
        sys.stdin.readline()
"""


def start_python(code: str) -> subprocess.Popen:
    """Runs `code` (indented as in a test module) in a new Python with this checkout first on the path."""
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env=environ,
    )  # fmt: skip


def release(holder: subprocess.Popen) -> int:
    """Tells a `HOLDER` process to let go; returns its exit code."""
    assert holder.stdin is not None
    holder.stdin.write("done\n")
    holder.stdin.flush()
    return holder.wait(timeout=60)


def kill_left(*procs: subprocess.Popen | None) -> None:
    """Kills whichever of the processes is still running (a test that failed half-way)."""
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()


def start_race(code: str, out: Path, pin: Path) -> tuple[subprocess.Popen, subprocess.Popen]:
    """Starts `code` (built on PAUSE_AT_FIRST_FLOCK; formatted with pin= and out=) and, once it is paused at its
    first flock, a HOLDER of `out`'s lock; returns both once the holder holds it. `pin` becomes a named pipe:
    `go_on(pin)` lets the first process go on. Both processes are killed if either fails to start.
    """
    os.mkfifo(pin)
    first = start_python(code.format(pin=str(pin), out=str(out)))
    holder = None
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "paused"
        holder = start_python(HOLDER.format(out=str(out)))
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    except BaseException:
        kill_left(first, holder)
        raise
    return first, holder


def go_on(pin: Path) -> None:
    """Lets a process paused by PAUSE_AT_FIRST_FLOCK on the named pipe `pin` go on."""
    with open(pin, "wb"):
        pass


def dead_pid() -> int:
    """The pid of a process of this machine that has ended (a killed writer's, for stale temporary files)."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(gone.stdout)
