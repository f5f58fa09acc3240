"""The output folder's lock in the three races benchmarks/lock_stress.py found, each made to happen at once.

- A holder that made the output folder removes it on release: a second process that had found the folder there
  and the lock file missing then failed to create its lock file in it and stopped with an InputError ("No such
  file or directory") instead of making the folder again and taking the lock.
- Without hard links (FAT), the lock file is created in place and locked after: a process that locked it in
  between and released it by removing it (it had made the folder) left the creator holding a lock on a removed
  file, and a third process could hold the lock at the same time.
- A folder another process had just made (so that this one's `mkdir` failed) and removed again on release
  (before this one looked) stopped this one with an InputError: "a file stands where a folder must be".

Real processes and locks; the OS calls are intercepted only to stop at the moment of the race.
"""

from __future__ import annotations

import errno
import fcntl
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.lock_processes import HOLDER, release, start_python

from preannotate.lock import LOCK_FILE, output_lock

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def probe(out: Path) -> subprocess.CompletedProcess:
    code = f"from preannotate.lock import output_lock\nwith output_lock({str(out)!r}, 'pull'): pass"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=ENV)


def test_a_folder_removed_by_a_releasing_holder_is_made_again(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "new" / "out"
    real_open, removed = os.open, []

    def open_(path, flags, *args, **kwargs):
        if os.fspath(path) == str(out / LOCK_FILE) and not flags & os.O_CREAT and not removed:
            removed.append(True)  # what a holder that made the folders does on release, at this very moment
            out.rmdir()
            out.parent.rmdir()
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)
    with output_lock(out, "run"):
        assert removed and (out / LOCK_FILE).is_file()
        assert probe(out).returncode == 1  # held
    assert not (tmp_path / "new").exists()  # made again by this process: removed on release


# The other process: it makes the folder, then stops before opening the lock file until the test lets it go.
PAUSED = """
    import os
    from pathlib import Path
    real, paused = os.open, []
    def open_(path, flags, *args, **kwargs):
        if os.fspath(path).endswith({lock!r}) and not paused:
            paused.append(True)
            print("paused", flush=True)
            Path({pin!r}).read_bytes()  # waits for the test
        return real(path, flags, *args, **kwargs)
    os.open = open_
    from preannotate.lock import output_lock
    with output_lock({out!r}, "upload"):
        print("held", flush=True)
    print("released", flush=True)
"""


def test_a_lock_file_created_in_place_and_removed_before_it_is_locked_is_not_held(tmp_path: Path, monkeypatch) -> None:
    out, pin = tmp_path / "out", tmp_path / "pin"
    os.mkfifo(pin)
    other = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(PAUSED.format(lock=LOCK_FILE, pin=str(pin), out=str(out)))],
        stdout=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    try:
        assert other.stdout.readline().strip() == "paused"  # it made the folder
        assert out.is_dir()

        def link(*args, **kwargs):
            raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))  # what FAT says

        real_flock, said = fcntl.flock, []

        def flock(fd, operation):
            lock = out / LOCK_FILE
            if not said and lock.exists() and os.fstat(fd).st_ino == lock.stat().st_ino:  # created in place
                with open(pin, "wb"):  # the other process locks it first, and releases it
                    pass
                said.extend([other.stdout.readline().strip(), other.stdout.readline().strip()])
            return real_flock(fd, operation)

        monkeypatch.setattr(os, "link", link)
        monkeypatch.setattr(fcntl, "flock", flock)
        with output_lock(out, "run"):
            assert said == ["held", "released"]
            assert (out / LOCK_FILE).is_file()
            refused = probe(out)
            assert refused.returncode == 1 and f"(pid {os.getpid()} " in refused.stderr
        assert other.wait(timeout=60) == 0
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
    assert not out.exists()


@pytest.mark.parametrize("nested", [False, True])
def test_lock_in_one_process_nests_and_its_threads_share_it(tmp_path: Path, nested: bool) -> None:
    out = tmp_path / "a" / "b" if nested else tmp_path
    with output_lock(out, "run"), output_lock(out, "export"):
        assert probe(out).returncode == 1
    assert probe(out).returncode == 0
    assert list(tmp_path.iterdir()) == []  # the lock file and the folders it made are gone


def test_a_folder_made_and_removed_by_another_process_while_this_one_makes_it_is_made_again(
    tmp_path: Path, monkeypatch
) -> None:
    out, real_mkdir, other = tmp_path / "new", os.mkdir, []

    def mkdir(path, *args, **kwargs):
        if os.fspath(path) == str(out) and not other:  # at this very moment, another command on the same folder
            other.append(start_python(HOLDER.format(out=str(out))))
            assert other[0].stdout.readline().strip() == "held"  # it made the folder and holds its lock
            try:
                real_mkdir(path, *args, **kwargs)
            except FileExistsError:
                assert release(other[0]) == 0  # and it ends, removing the folder it made, before this one looks
                assert not out.exists()
                raise
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    with output_lock(out, "run"):
        assert other and (out / LOCK_FILE).is_file()
        assert probe(out).returncode == 1  # held by this process
    assert not out.exists()  # made by this process in the end: removed on release
