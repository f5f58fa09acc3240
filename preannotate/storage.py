"""Writing files so that a crash never leaves a half-written one behind, nor a full disk a traceback."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import json
import os
import re
import secrets
import socket
import stat
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import DiskFullError, OutputWriteError, StateFileError

# A writer of this tool finishes a file in seconds: a temporary file an hour old was left by a killed
# process, while a younger one may still be written by a live one (another run, a notebook, an older
# version of the tool that takes no lock). Never 0: that would delete files being written.
STALE_TEMP_S = 3600.0
# Every folder under an output folder the tool writes with `atomic_writer` (transcripts, checks, speaker turns,
# exports, upload ledger and its copies, pull, report, backups); searched recursively for temporary files left behind.
OUTPUT_FOLDERS = (
    "transcripts", "checks", "speakers", "subtitles", "superannotate", "uploaded", "corrected", "correction", "backups"
)  # fmt: skip
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# Writes that fail this way fail for every file after: read-only, no permission, a file where a folder
# must be (or the reverse), a name too long, a link loop, a failing disk.
UNWRITABLE_ERRNOS = frozenset(
    {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG,
     errno.ELOOP, errno.EIO}
)  # fmt: skip
NOT_A_FOLDER = "a file stands where a folder must be"
# `.<name>.<host tag>-<pid>-<random>.tmp`: who wrote a temporary file, so that one of a dead process
# can go at once (the random part is hex: no '-' or '.').
_TEMP_NAME = re.compile(r"^\..*\.([0-9a-f]{8})-(\d+)-[^.-]*\.tmp$")
# Older versions wrote `.<name>.<random>.tmp` (mkstemp: 8 of a-z, 0-9 and _), `<name>` a file name with its
# extension. A hidden `.tmp` file of any other shape is the user's (an output folder may be the input folder,
# where an editor's `.notes.txt.a1b2c3.tmp` is theirs): never removed.
_OLD_TEMP_NAME = re.compile(r"^\.[^.].*\.[^.]+\.[a-z0-9_]{8}\.tmp$")


def expand_home(path: str | Path) -> Path:
    """`path` with a leading `~` (or `~user`) expanded, as a shell does; `./~` stays a folder named `~`.

    Not `Path(path).expanduser()`: `Path` drops the `./` of `./~` first, which then reads as the home folder.
    A `Path` has lost it already: expand the text as written, before it becomes a `Path`.
    """
    return Path(os.path.expanduser(os.fspath(path)))


def host_tag() -> str:
    """Eight hex digits naming this machine in temporary file names (a pid means nothing elsewhere)."""
    return f"{zlib.crc32(socket.gethostname().encode()):08x}"


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (a pid owned by another user counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, under another user
        return True
    return True


def raise_if_disk_full(error: OSError, folder: str | Path) -> None:
    """Raises DiskFullError in place of `error` when it says the disk or the quota is full.

    Args:
        error: What a write, mkdir or rename raised.
        folder: The folder being written, named in the message.
    """
    if error.errno in FULL_ERRNOS:
        raise DiskFullError(
            f"cannot write in {folder}: {error.strerror or 'no space left'}; free some space there "
            "and run again (finished files are kept, nothing is half-written)"
        ) from error


def raise_if_unwritable(error: OSError, path: str | Path, temporary: str | None = None) -> None:
    """Raises DiskFullError or OutputWriteError in place of `error` when no later write would succeed either.

    Args:
        error: What creating, writing or renaming a file of the output raised.
        path: The file being written, named in the message.
        temporary: Its temporary file, never named in the message (the error may name it).
    """
    path = Path(path)
    raise_if_disk_full(error, path.parent)
    if error.errno in UNWRITABLE_ERRNOS:
        where = error.filename if error.filename not in (None, temporary, str(path)) else None
        what = NOT_A_FOLDER if error.errno in (errno.EEXIST, errno.ENOTDIR) else error.strerror
        detail = f"{what}: {where}" if where else what
        raise OutputWriteError(
            f"cannot write {path}: {detail}; make it writable (or write elsewhere) and run again "
            "(finished files are kept, nothing is half-written)"
        ) from error


@contextlib.contextmanager
def atomic_writer(path: str | Path, binary: bool = False, sync: bool = True) -> Iterator[IO]:
    """Opens a temporary file beside `path` that replaces it only once the block ends without error.

    Readers see either the old file or the whole new one, never a partial write;
    a failed or interrupted write leaves the old file and no temporary file.

    Args:
        path: The file to write.
        binary: Write bytes instead of UTF-8 text.
        sync: fsync the file before the rename. A run's transcripts and exports skip it: its journal
            syncs the whole file system once a second instead (`preannotate.journal`).

    Raises:
        DiskFullError: The disk or quota is full (the temporary file is removed).
        OutputWriteError: The folder or the file cannot be written (see `raise_if_unwritable`).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _new_temp(path)
    except OSError as e:
        raise_if_unwritable(e, path)
        raise
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding=ENCODING, errors=ERRORS, newline="") as f:
            with contextlib.suppress(FileNotFoundError):  # a replaced file keeps the permissions its owner chose
                os.fchmod(fd, path.stat().st_mode & 0o7777)
            yield f
            f.flush()
            if sync:
                os.fsync(f.fileno())
        _replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise_if_disk_full(e, path.parent)
        raise


def _replace(tmp: str, path: Path) -> None:
    try:
        os.replace(tmp, path)
    except OSError as e:  # e.g. a folder in the file's place: only our rename's errors are about the output
        raise_if_unwritable(e, path, tmp)
        raise


# A file name that is not UTF-8 reaches text as lone surrogates, which UTF-8 cannot encode: written as
# `\udce9`, which in JSON (where such text only stands in strings) is the escape that reads back the same.
ENCODING, ERRORS = "utf-8", "backslashreplace"


def _new_temp(path: Path) -> tuple[int, str]:
    """Creates `.<name>.<host tag>-<pid>-<random>.tmp` beside `path`; returns its descriptor and name.

    Made as open() makes files, 0666 less the umask: mkstemp's 0600 would hide a team's shared output from the team.
    """
    prefix = path.parent / f".{path.name}.{host_tag()}-{os.getpid()}-"
    while True:
        tmp = f"{prefix}{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666), tmp
        except FileExistsError:
            continue
        except OSError as e:  # about `path`: the user never asked for the temporary file, the message names `path`
            raise OSError(e.errno, e.strerror, str(path)) from e


def write_text_atomic(path: str | Path, text: str, sync: bool = True) -> None:
    """Writes text to `path` atomically (see `atomic_writer`; `sync` too)."""
    with atomic_writer(path, sync=sync) as f:
        f.write(text)


def write_json_atomic(path: str | Path, data: Any, sync: bool = True) -> None:
    """Writes `data` as indented UTF-8 JSON, atomically (see `atomic_writer`; `sync` too)."""
    write_text_atomic(path, json_text(data), sync)


def write_text_if_changed(path: str | Path, text: str, sync: bool = True) -> bool:
    """Writes text to `path` atomically unless the file already holds exactly that text.

    A re-run whose items did not change then rewrites (and fsyncs) nothing.

    Args:
        path: The file to write.
        text: Its content.
        sync: fsync it before the rename (see `atomic_writer`).

    Returns:
        True when the file was written.
    """
    try:
        if Path(path).read_bytes() == text.encode("utf-8"):
            return False
    except OSError:  # missing or unreadable: write it
        pass
    write_text_atomic(path, text, sync)
    return True


def sync_file_system(fd: int) -> None:
    """Makes every file written so far on the file system holding `fd` durable, in one call.

    Linux's syncfs(2) flushes that file system only; elsewhere sync(2) flushes them all. Either costs
    one flush for any number of files, where an fsync per file costs one each.

    Raises:
        OSError: The flush failed (ENOSPC, EDQUOT or EIO on some file systems).
    """
    if _SYNCFS is None:
        os.sync()
    elif _SYNCFS(fd) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _syncfs() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (AttributeError, OSError):  # not Linux (macOS has sync only), or no C library to load
        return None


_SYNCFS = _syncfs()


def json_text(data: Any) -> str:
    """`data` as the indented UTF-8 JSON text every JSON file of the tool holds."""
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


# JSON allows these raw in strings, but `str.splitlines()` and JavaScript line readers split on them.
_LINE_BREAKS_JSON_KEEPS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029"})


def jsonl_line(record: Any) -> str:
    """`record` as one UTF-8 JSON Lines line (newline included) that every line reader reads as one line.

    U+2028 and U+2029 (line and paragraph separators, valid raw in JSON) are escaped, so the line
    parses to the same value and no reader splits it.
    """
    return json.dumps(record, ensure_ascii=False).translate(_LINE_BREAKS_JSON_KEEPS) + "\n"


def read_json(path: str | Path) -> Any | None:
    """Reads a JSON file; returns None when it is missing or not valid JSON (or nested too deep to parse).

    Raises:
        StateFileError: Something other than a regular file stands there (see `read_regular_bytes`).
    """
    try:
        return json.loads(read_regular_bytes(path).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


# What `refuse_special_file` calls what stands in a file's place.
_KINDS = (
    (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
)  # fmt: skip


def refuse_special_file(path: str | Path, mode: int | None = None) -> None:
    """Raises StateFileError when `path` (or what its link points to) is there and is not a regular file.

    A named pipe would block its reader forever, a device could stream without end, and a folder would fail
    with a traceback: each is named at once, the file left as it is (never opened). A missing file passes.

    Args:
        path: The file about to be read.
        mode: Its `st_mode` when the caller has it (an open file's `fstat`); else `path` is looked at.
    """
    if mode is None:
        try:
            mode = os.stat(path).st_mode
        except OSError:  # missing or not reachable: the read says so as before
            return
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise StateFileError(
            f"{path} is {kind}, not a file this tool wrote: move it aside (or remove it) and run again"
        )


def read_regular_bytes(path: str | Path) -> bytes:
    """The bytes of the regular file at `path`.

    Every state file of an output folder (`run.json`, `journal.jsonl`, `uploads.json`, `pulled.json`) is read
    through here: what is not a regular file is refused before it is opened, and, should one be put there
    between that look and the open, after (the open does not wait for a pipe's writer).

    Raises:
        StateFileError: A named pipe, a socket, a folder or a device stands there.
        OSError: The file is missing or cannot be read.
    """
    refuse_special_file(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with open(fd, "rb", closefd=True) as f:
        refuse_special_file(path, os.fstat(fd).st_mode)
        return f.read()


def remove_stale_temps(
    folder: str | Path, older_than: float = STALE_TEMP_S, recursive: bool = False, target: str | None = None
) -> int:
    """Deletes temporary files that a killed writer left in `folder`.

    A temporary file is stale when it is older than `older_than`, or when its name says it was
    written on this machine by a process that no longer runs. Younger files of live (or unknown)
    writers are kept: another process may be writing them.

    Args:
        folder: Where `atomic_writer` wrote.
        older_than: Seconds; STALE_TEMP_S unless a folder's writers are known to take longer.
        recursive: Search the subfolders too.
        target: Only the temporary files of this file name (`.<target>.<...>.tmp`): in a folder of the
            user's, where only the file this tool writes there proves a temporary file ours.

    Returns:
        How many files were deleted.
    """
    pattern = f".{glob.escape(target)}.*.tmp" if target else ".*.tmp"
    found = Path(folder).rglob(pattern) if recursive else Path(folder).glob(pattern)
    removed = 0
    for tmp in found:
        with contextlib.suppress(OSError):  # another process may rename or remove it meanwhile
            if tmp.is_file() and _is_stale(tmp, older_than):
                tmp.unlink()
                removed += 1
    return removed


def _is_stale(tmp: Path, older_than: float) -> bool:
    match = _TEMP_NAME.match(tmp.name)
    if match is None and not _OLD_TEMP_NAME.match(tmp.name):
        return False  # not a temporary file of this tool
    if time.time() - tmp.stat().st_mtime >= older_than:
        return True
    if match is None or match[1] != host_tag():
        return False
    pid = int(match[2])
    return pid != os.getpid() and not pid_alive(pid)


def remove_output_temps(output_dir: str | Path) -> int:
    """Removes stale temporary files from an output folder and every folder of it the tool writes.

    Returns:
        How many files were deleted.
    """
    out = Path(output_dir)
    removed = remove_stale_temps(out) if out.is_dir() else 0
    for name in OUTPUT_FOLDERS:
        if (out / name).is_dir():
            removed += remove_stale_temps(out / name, recursive=True)
    return removed
