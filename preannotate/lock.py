"""One command at a time per output folder: a lock file that names its holder.

`run`, `upload`, `pull`, `report` and `export` hold `<output>/.preannotate.lock` while they work
(`batch` holds its `--out`'s, `calibrate` those of the runs it reads; a path replaced outside a run, an
export's `--dest` or a model file, has a lock folder of its own beside it: `lock_beside`),
with `fcntl.flock`: the kernel releases it when the holder ends, however it ends, so a lock left by
a killed process is simply taken over. The file holds the holder's pid, host, command and start
time for the message the second process gets. The lock is reentrant within a process (a notebook
or `run_pipeline` may call other locked functions), and taking it first removes stale temporary
files from the folder, since no other run can be writing them.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from .errors import InputError, LockError
from .storage import NOT_A_FOLDER, expand_home, host_tag, raise_if_disk_full, remove_output_temps

log = logging.getLogger(__name__)
LOCK_FILE = ".preannotate.lock"
READ_TRIES = 20  # the holder writes its details just after locking: a reader may come in between
READ_PAUSE_S = 0.05
# As the output files (read and written by a team's group under its umask): a lock file other users of a
# shared folder cannot open would leave their commands unlocked.
LOCK_MODE = 0o666
MAKE_TRIES = 50  # folders made and removed by other processes meanwhile: give up after this many rounds
# Folders where locking cannot work (read-only, or a file system without locks): the command goes on
# unlocked, as before, rather than refusing to read a run it cannot harm.
_UNLOCKABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOLCK, errno.EOPNOTSUPP})
# A file system without hard links (FAT, some network shares): the lock file is created in place instead.
_NO_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS})

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class _Held:
    fd: int
    count: int
    created: tuple[Path, ...]  # the folders taking the lock made (the output folder and missing parents), deepest first
    made_file: bool  # the lock file was not there before


_held: dict[str, _Held] = {}
_registry = threading.Lock()


@contextlib.contextmanager
def output_lock(
    folder: str | Path, command: str, existing: bool = False, sweep: bool = True, remove: bool = False
) -> Iterator[None]:
    """Holds the output folder's lock for the block (creating the folder if needed).

    Args:
        folder: The run's output folder.
        command: What this process does there (`run`, `export`...), shown to a second process.
        existing: The folder must be there already (a command that works on a finished run): a mistyped
            folder then gets an error that says so, not one about a file missing inside it.
        sweep: Remove stale temporary files of this tool from the folder and its run sub-folders on taking
            it. False for a folder that is not an output folder (calibrate's `--out` in a folder of the
            user's): a name that looks like one of ours there is no proof that it is ours.
        remove: The folder is there only for the lock (`lock_beside`): released, the lock file and
            the folder go, even those a killed holder left, unless something else was put in the folder.

    Raises:
        InputError: `existing` and there is no such folder, or the folder cannot be made or used (a file
            is in its place, the name is too long, a loop of links).
        LockError: Another process holds it; the message names its pid, host, command and start.
        DiskFullError: The lock file cannot be written for lack of space.
    """
    here = expand_home(folder)
    if existing and not here.is_dir():
        raise InputError(f"output folder {folder} does not exist: give the -o of a `preannotate run`")
    try:
        key = str(here.resolve())
    except (OSError, RuntimeError) as e:  # RuntimeError: a loop of symbolic links
        raise InputError(f"cannot use {folder} as the output folder: {e}") from None
    with _registry:
        if key in _held:
            _held[key].count += 1
        else:
            held = _acquire(Path(key), command, sweep)
            if held is None and remove:  # going on unlocked: no empty lock folder left beside the user's files
                _remove_folders([Path(key)])
            if held is not None and remove and Path(key) not in held.created:  # as if this process had made it
                held = _Held(held.fd, held.count, (Path(key), *held.created), True)
            if held is not None:
                _held[key] = held
    try:
        yield
    finally:
        with _registry:
            if key in _held:
                _held[key].count -= 1
                if _held[key].count == 0:
                    _release(Path(key), _held.pop(key))


def locked(command: str, existing: bool = False) -> Callable[[F], F]:
    """Decorates a function whose first argument is a RunConfig to hold its output folder's lock.

    `existing`: the folder must be there already (see `output_lock`).
    """

    def wrap(function: F) -> F:
        @functools.wraps(function)
        def inner(config, *args, **kwargs):
            with output_lock(config.output.dir, command, existing):
                return function(config, *args, **kwargs)

        return inner  # type: ignore[return-value]

    return wrap


def _acquire(folder: Path, command: str, sweep: bool) -> _Held | None:
    created: list[Path] = []
    try:
        fd, made_file = _open_locked(folder / LOCK_FILE, command, created)
    except LockError:  # refused: nothing of this process stays (a folder now holding the holder's lock stays)
        _remove_folders(created)
        raise
    except OSError as e:
        raise_if_disk_full(e, folder)
        if e.errno not in _UNLOCKABLE:  # a file where the folder must be, a name too long...
            what = NOT_A_FOLDER if e.errno in (errno.EEXIST, errno.ENOTDIR) else e.strerror or str(e)
            where = f" ({e.filename})" if e.filename and e.filename != str(folder) else ""
            raise InputError(f"cannot use {folder} as the output folder: {what}{where}") from None
        log.warning("cannot lock %s (%s): going on without a lock", folder, e.strerror or e)
        return None
    if not made_file:  # a new lock file holds this process's details from the start (see `_create_locked`)
        try:
            _take_over(fd, folder)
            _write_holder(fd, command)
        except OSError as e:
            _unlock(fd)
            raise_if_disk_full(e, folder)
            raise
    if sweep:
        with contextlib.suppress(OSError):  # a folder it cannot search holds no temps of ours
            remove_output_temps(folder)
    return _Held(fd, 1, tuple(created), made_file)


def _make_folders(folder: Path) -> list[Path]:
    """Makes `folder` and its missing parents; returns those this call made, deepest first.

    Only a folder whose `mkdir` succeeded here counts: another process making it at the same moment
    (a second command started at once) makes it theirs, not ours. A holder releasing may remove the folders it
    made at any moment (`_release`): one gone between another process's making and this one's look is made again.
    """
    made: list[Path] = []
    for _ in range(MAKE_TRIES):
        missing = []
        here = folder
        while not here.exists() and here.parent != here:
            missing.append(here)
            here = here.parent
        try:
            for path in reversed(missing):
                if _make_folder(path):
                    made.insert(0, path)
            return made
        except FileNotFoundError:  # a folder was removed meanwhile: start again from what is there
            continue
    raise FileNotFoundError(errno.ENOENT, "folders kept disappearing while being made", str(folder))


def _make_folder(path: Path) -> bool:
    """Makes one folder: True, or False when another process made it first.

    Raises:
        FileExistsError: A file is there.
        FileNotFoundError: It was there and is gone again (`_make_folders` starts again), or a parent is.
    """
    try:
        path.mkdir()
        return True
    except FileExistsError:
        if path.is_dir():
            return False
        if os.path.lexists(path):
            raise
        raise FileNotFoundError(errno.ENOENT, "removed while being made", str(path)) from None


def _remove_folders(created: list[Path]) -> None:
    """Removes the folders this process made, deepest first, if they are still empty."""
    for made in created:
        try:
            made.rmdir()  # refuses a folder someone put something in meanwhile (the holder's lock file)
        except OSError:
            return


def _open_locked(path: Path, command: str, created: list[Path]) -> tuple[int, bool]:
    """Opens and locks the lock file, or raises LockError naming the holder.

    Args:
        path: The lock file.
        command: This process's command, written into a lock file it creates.
        created: Extended with the folders this call made (see `_make_folders`).

    Returns:
        The file's descriptor, and whether this call created the file.
    """
    while True:
        created[:0] = _make_folders(path.parent)  # again, in case a holder removed it (see `_release`)
        try:
            fd = _open_existing(path)
        except FileNotFoundError:
            try:
                made = _create_locked(path, command)
            except FileNotFoundError:  # a holder releasing removed the folder meanwhile: make it again
                continue
            if made is None:  # another process put its lock file there first: lock that one
                continue
            return made, True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise LockError(_busy_message(path.parent, holder), _who(holder)) from None
        except OSError:
            os.close(fd)
            raise
        # The previous holder may have removed the file between our open and our lock: then we
        # hold a lock nobody else can see, and must lock the file now on disk instead.
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd, False
        except FileNotFoundError:
            pass
        _unlock(fd)


def _open_existing(path: Path) -> int:
    """Opens a lock file there already: for writing, or read-only when another user made it and may not share it.

    `flock` needs no write access, so a teammate's lock file (made 0644 under umask 022, or by versions before
    LOCK_MODE) still locks; only the holder's details are not written then (`_write_holder`).
    """
    try:
        return os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except PermissionError:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)


def _create_locked(path: Path, command: str) -> int | None:
    """Creates the lock file already locked and naming this process, or None when another process made it first.

    The file is made under a temporary name, locked, written and only then linked into place, so that no
    other process ever sees a lock file that is empty or unlocked, and a process refused in a race leaves
    no file behind: created with `O_EXCL` and locked after, the lock file of a process that lost the race
    for its lock stayed, empty, kept as a stranger's by the winner.
    """
    tmp = path.parent / f".{path.name}.{host_tag()}-{os.getpid()}-{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, LOCK_MODE)
    linked = False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody else knows the file: never refused
        _write_holder(fd, command)
        try:
            os.link(tmp, path)
            linked = True
        except OSError as e:
            if not isinstance(e, FileExistsError) and e.errno not in _NO_LINKS:
                raise
            no_links = not isinstance(e, FileExistsError)
        else:
            return fd
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if not linked:
            _unlock(fd)
    return _create_in_place(path, command) if no_links else None


def _create_in_place(path: Path, command: str) -> int | None:
    """Where the file system has no hard links: the lock file created with `O_EXCL`, then locked and written.

    A process that loses the race between the two leaves the file to the one that locked it (as before).
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, LOCK_MODE)
    except FileExistsError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # another process opened and locked it first: it is theirs now
        os.close(fd)
        return None
    try:  # or it locked it first and released it by removing it (see `_release`): ours is no lock file now
        if os.fstat(fd).st_ino != os.stat(path).st_ino:
            _unlock(fd)
            return None
    except FileNotFoundError:
        _unlock(fd)
        return None
    try:
        _write_holder(fd, command)
    except OSError:
        _unlock(fd)
        raise
    return fd


def _read_holder(fd: int) -> dict[str, Any] | None:
    for _ in range(READ_TRIES):
        try:
            data = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
            if isinstance(data, dict):
                return data
        except (OSError, ValueError):
            pass
        time.sleep(READ_PAUSE_S)
    return None


def _busy_message(folder: Path, holder: dict[str, Any] | None) -> str:
    return (
        f"{folder} is in use by {_who(holder)}; wait for it to finish (or stop it) and try again, or give another "
        "output folder"
    )


def _who(holder: dict[str, Any] | None) -> str:
    if holder is None:
        return "another preannotate process"
    return (
        f"`preannotate {holder.get('command', '?')}` (pid {holder.get('pid', '?')} on host "
        f"{holder.get('host', '?')}, started {holder.get('started_at', '?')})"
    )


def _take_over(fd: int, folder: Path) -> None:
    """Says so when the lock file still names a holder: one that ended without releasing it."""
    try:
        previous = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "null")
    except ValueError:
        previous = None
    if isinstance(previous, dict):
        log.warning(
            "%s: taking over the lock of `preannotate %s` (pid %s on %s, started %s), which ended without "
            "releasing it",
            folder, previous.get("command"), previous.get("pid"), previous.get("host"), previous.get("started_at"),
        )  # fmt: skip


def _write_holder(fd: int, command: str) -> None:
    if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:  # another user's lock file (`_open_existing`)
        return
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    record = {"pid": os.getpid(), "host": socket.gethostname(), "command": command, "started_at": started}
    data = (json.dumps(record) + "\n").encode("utf-8")
    os.ftruncate(fd, 0)
    if os.pwrite(fd, data, 0) != len(data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _release(folder: Path, held: _Held) -> None:
    with contextlib.suppress(OSError):
        # A command that stopped at once leaves a folder as it found it: no lock file of its own, no empty folder.
        if (held.created or held.made_file) and _only_lock_file(folder):
            (folder / LOCK_FILE).unlink()
            for made in held.created:  # rmdir refuses a folder someone put something in meanwhile
                made.rmdir()
        else:
            os.ftruncate(held.fd, 0)  # empty: released in order (a holder's details mean it was killed)
    _unlock(held.fd)


def _only_lock_file(folder: Path) -> bool:
    # A contender's lock file in the making (`_create_locked`) is no content: it links itself into place or goes.
    making = f".{LOCK_FILE}."
    return [n for n in (p.name for p in folder.iterdir()) if not (n.startswith(making) and n.endswith(".tmp"))] == [
        LOCK_FILE
    ]


def _unlock(fd: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
