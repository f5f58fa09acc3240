"""Writing the journal: a line per finished file, made durable in groups of at most a second (see the package)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import IO, Any

from ..lock import LOCK_FILE
from ..report import RunReport
from ..storage import ENCODING, ERRORS, raise_if_unwritable, sync_file_system, write_text_atomic
from .records import JOURNAL_FILE, start_record

log = logging.getLogger(__name__)

_VOUCHING = ("written", "exported")  # lines saying that files written before them are whole
# A power cut loses at most this many seconds of journal lines (and of the transcripts they name: redone).
SYNC_INTERVAL_S = 1.0


class Journal:
    """An open journal: each record is one line, written through to the operating system before `append` returns.

    A SIGKILL therefore loses no line. Durability against a power cut is committed in groups: at most
    `interval` seconds after a line, one `storage.sync_file_system` call makes it durable together with
    every transcript and export the run wrote meanwhile without an fsync of its own. A `written` or
    `exported` line (what run.json and the exports hold) is appended only after such a commit, and
    committed at once.
    """

    def __init__(self, path: Path, handle: IO[str], interval: float = SYNC_INTERVAL_S) -> None:
        self.path = path
        self.interval = interval
        self._handle = handle
        self._lock = threading.Lock()  # the commit timer's thread and the run's
        self._dirty = False
        self._synced = time.monotonic()
        self._timer: threading.Timer | None = None
        self._made = False  # this run created the journal: there was none
        self._files = 0  # `file` records appended
        self._final: tuple[int, ...] | None = None  # the file as `close` left it (`_identity`)

    @classmethod
    def start(cls, report: RunReport, stored: dict[str, dict[str, Any]] | None = None) -> Journal:
        """Replaces the output folder's journal by a new one that starts with the report as planned.

        Raises:
            DiskFullError: The disk or quota is full.
        """
        path = Path(report.output_dir) / JOURNAL_FILE
        existed = os.path.lexists(path)
        write_text_atomic(path, json.dumps(start_record(report, stored or {}), ensure_ascii=False) + "\n")
        try:
            handle = open(path, "a", encoding=ENCODING, errors=ERRORS)  # noqa: SIM115 (held open until close)
        except OSError as e:
            raise_if_unwritable(e, path)
            raise
        journal = cls(path, handle)
        journal._made = not existed
        return journal

    @property
    def durable(self) -> bool:
        """Whether every line appended so far is committed (would outlive a power cut)."""
        return not self._dirty

    def append(self, record: dict[str, Any]) -> None:
        """Appends one record; it is durable within `interval` seconds (a `written` or `exported` one at once).

        Raises:
            DiskFullError: The disk or quota is full.
        """
        line = json.dumps(record, ensure_ascii=False) + "\n"
        vouches = record.get("t") in _VOUCHING
        with self._lock:
            if record.get("t") == "file":
                self._files += 1
            try:
                if vouches:  # what it vouches for (run.json, the exports) is durable before it is
                    self._commit(files=True)
                self._handle.write(line)
                self._handle.flush()
                self._dirty = True
                if vouches or time.monotonic() - self._synced >= self.interval:
                    self._commit()
                elif self._timer is None:
                    self._timer = threading.Timer(self.interval, self._commit_later)
                    self._timer.daemon = True
                    self._timer.start()
            except OSError as e:
                raise_if_unwritable(e, self.path)
                raise

    def close(self) -> None:
        """Commits what is left and closes the journal file.

        Raises:
            DiskFullError: The disk or quota is full.
        """
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            timer.join()
        with self._lock:
            try:
                self._commit()
            except OSError as e:
                raise_if_unwritable(e, self.path)
                raise
            finally:
                with contextlib.suppress(OSError, ValueError):  # ValueError: closed already
                    self._final = _identity(os.fstat(self._handle.fileno()))
                self._handle.close()

    def discard_unused(self) -> bool:
        """Removes the journal of a run that stopped before it journaled any file, if nothing else is in its folder.

        A run that fails before its first file (the Ray cluster cannot be joined...) would otherwise leave a
        folder that looks like a run's. Only the journal this run created where there was none is removed, while
        it is still that file as `close` left it and the folder holds nothing else but the lock file: what
        the run wrote besides (a transcript, run.json) needs the journal that vouches for it. Call after `close`.

        Returns:
            Whether the journal was removed.
        """
        if not self._made or self._files or self._final is None:
            return False
        try:
            others = {p.name for p in self.path.parent.iterdir()} - {JOURNAL_FILE, LOCK_FILE}
            if others or _identity(self.path.lstat()) != self._final:
                return False
            self.path.unlink()
        except OSError:  # gone or unreadable: leave what is there
            return False
        return True

    def _commit(self, files: bool = False) -> None:
        """Makes every line so far durable, after the files the run wrote meanwhile (one file system flush).

        Args:
            files: Flush even without a new line: files were written since the last commit.
        """
        if not (self._dirty or files) or self._handle.closed:
            return
        sync_file_system(self._handle.fileno())  # the transcripts and exports the lines name, the lines too
        os.fsync(self._handle.fileno())  # cheap after that; what makes the lines durable where sync(2) is lazy
        self._dirty, self._synced = False, time.monotonic()

    def _commit_later(self) -> None:
        with self._lock:
            if self._timer is not threading.current_thread():
                return  # cancelled by close meanwhile
            self._timer = None
            try:
                self._commit()
            except OSError as e:  # the next append or close commits again and raises it
                log.warning("%s: cannot make the last lines durable yet (%s)", self.path, e.strerror or e)


def _identity(st: os.stat_result) -> tuple[int, ...]:
    """What tells one file from another at a path: a freed inode is soon reused, so its size and mtime too."""
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns
