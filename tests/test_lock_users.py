"""The output folder's lock between two users of a team's shared folder (real processes under two uids)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest

from preannotate.lock import LOCK_FILE

REPO = Path(__file__).resolve().parent.parent
# The venv's interpreter lives under root's home, which other users cannot enter: the system's runs the lock
# module (standard library only) for them.
SYSTEM_PYTHON = Path("/usr/bin/python3")
TEAM, FIRST, SECOND = 2000, 1001, 1002  # a team's group and two of its members

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not SYSTEM_PYTHON.exists(), reason="acting as two users needs root and /usr/bin/python3"
)


def as_member(uid: int, umask: int):
    def drop() -> None:
        os.setgroups([TEAM])
        os.setgid(TEAM)
        os.setuid(uid)
        os.umask(umask)

    return drop


def lock_as(uid: int, umask: int, folder: Path, hold: bool = False) -> subprocess.Popen:
    """A process of `uid` taking the folder's lock: says `locked` (or `refused`), holds it until stdin closes."""
    code = f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from preannotate.errors import LockError
        from preannotate.lock import output_lock
        try:
            with output_lock({str(folder)!r}, "run"):
                print("locked", flush=True)
                if {hold}:
                    sys.stdin.read()
        except LockError as e:
            print("refused:", e, flush=True)
    """
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    return subprocess.Popen(
        [str(SYSTEM_PYTHON), "-c", textwrap.dedent(code)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, preexec_fn=as_member(uid, umask), env=env, cwd="/tmp",
    )  # fmt: skip


@pytest.fixture
def shared_folder():
    """A team's run folder: group-owned, setgid, writable by the group (pytest's tmp_path is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="preannotate-team-", dir="/tmp"))
    os.chown(folder, 0, TEAM)
    os.chmod(folder, 0o2775)
    (folder / "run.json").write_text("{}")  # a run's files: releasing keeps the lock file, emptied
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize("umask", [0o022, 0o002], ids=["umask-022", "umask-002"])
def test_a_teammates_lock_refuses_and_then_locks(shared_folder: Path, umask: int) -> None:
    holder = lock_as(FIRST, umask, shared_folder, hold=True)
    try:
        assert holder.stdout.readline().strip() == "locked", holder.stderr.read()
        lock = shared_folder / LOCK_FILE
        assert lock.stat().st_uid == FIRST and lock.stat().st_mode & 0o777 == 0o666 & ~umask
        second = lock_as(SECOND, umask, shared_folder)
        said, errors = second.communicate(timeout=60)
        # Before: the teammate's 0644 lock file could not be opened for writing, and the command went on unlocked.
        assert said.startswith("refused:") and "`preannotate run`" in said, (said, errors)
        assert "going on without a lock" not in errors
    finally:
        holder.communicate(timeout=60)
    second = lock_as(SECOND, umask, shared_folder)  # the first one's file, released: the second member locks it
    said, errors = second.communicate(timeout=60)
    assert said.strip() == "locked" and "without a lock" not in errors, (said, errors)
    assert (shared_folder / LOCK_FILE).stat().st_uid == FIRST
