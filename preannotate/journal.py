"""The run's journal: one JSON line per finished file, appended (and synced in groups), from which run.json is rebuilt.

Rewriting run.json after every file costs time in the number of files (8.6 ms at 300 files, 519 ms
at 20,000); appending one line costs the same at any size. A run writes `<output>/journal.jsonl`:

    {"t": "start", "report": {...}, "files": [...], "stored": {...}}   the plan: every file's result
    {"t": "file", "file": {...}, "stored": {...}}                      one finished file (replaces its result)
    {"t": "set", "report": {...}}                                       fields set later (model, versions...)
    {"t": "written"}                                                    run.json was written from this state
    {"t": "exported"}                                                   ... after the exports were written

run.json is written at the end of each stage as before. A journal whose last record is not
`written` belongs to a run that was killed: the next run, or a command that reads run.json,
rebuilds run.json from it first. `stored` holds what resuming needs to trust a transcript without
reading it: the key it was made with, its media file's state and its own size and mtime.

Each line reaches the operating system before `append` returns, so a killed process loses none. For a
power cut, lines, transcripts and exports are made durable together, at most a second after a line, by
one flush of the file system (`Journal`), instead of one fsync per file (transcript, exports and journal
line were four to six per file). A power cut can then lose the last second's lines and files; the next
run redoes what they named: a transcript missing, empty or of another size or mtime than journaled is
read and checked, or transcribed again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import IO, Any

from .errors import LockError
from .lock import LOCK_FILE, output_lock
from .naming import MediaFile
from .report import FileResult, RunReport
from .storage import ENCODING, ERRORS, raise_if_unwritable, read_json, sync_file_system, write_text_atomic

log = logging.getLogger(__name__)

JOURNAL_FILE = "journal.jsonl"
RUN_FILE = "run.json"
EXPORTED = {"t": "exported"}  # appended once run.json holds the exported chunks' results
_VOUCHING = ("written", "exported")  # lines saying that files written before them are whole
# A power cut loses at most this many seconds of journal lines (and of the transcripts they name: redone).
SYNC_INTERVAL_S = 1.0
_NOT_STATE = ("output_dir", "files", "journal", "_index")  # RunReport fields that are not run.json state


def report_state(report: RunReport) -> dict[str, Any]:
    """The report's top-level fields besides its files (config, model, versions...), as JSON-ready values."""
    return {f.name: getattr(report, f.name) for f in dataclasses.fields(report) if f.name not in _NOT_STATE}


def start_record(report: RunReport, stored: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The first record of a journal: the report as planned, and the stored state of its finished files."""
    files = [dataclasses.asdict(f) for f in report.files]
    return {"t": "start", "report": report_state(report), "files": files, "stored": stored}


def stored_state(key: str, source: dict[str, Any], transcript: Path, warnings: list[str]) -> dict[str, Any]:
    """What resuming needs to trust a stored transcript without reading it.

    Args:
        key: The transcript key it was made with.
        source: Its media file's state (path, size, mtime_ns, sha256), as in the transcript's meta.
        transcript: The transcript file (its size and mtime tell whether it changed since).
        warnings: The warnings stored in the transcript's meta.
    """
    st = transcript.stat()
    return {"key": key, "source": source, "transcript": [st.st_size, st.st_mtime_ns], "warnings": list(warnings)}


def parse(text: str, where: str = JOURNAL_FILE) -> list[dict[str, Any]]:
    """The journal's records; a torn or damaged line (a killed write) is left out with a warning.

    Args:
        text: The journal's content.
        where: The journal's path, for the warning.
    """
    records = []
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("t"), str):
                raise ValueError("not a record")
        except ValueError:
            last = number == len(lines) or not any(rest.strip() for rest in lines[number:])
            what = "its last line is torn (a killed write)" if last else f"line {number} is damaged"
            log.warning("%s: %s; that line is ignored", where, what)
            continue
        records.append(record)
    return records


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of the journal at `path`; [] when it is missing or unreadable."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return parse(text, str(path))


@dataclasses.dataclass
class Replayed:
    """A journal played back.

    Attributes:
        report: The run's report as it stood at the journal's last record.
        stored: Item -> stored state of each finished file's transcript.
        finished: The last record is `written` (or `exported`): run.json holds this state (or a later one).
        exported: The run wrote its exports and then run.json with every file's chunks and route.
    """

    report: RunReport
    stored: dict[str, dict[str, Any]]
    finished: bool
    exported: bool = False


# The JSON types of each FileResult field. A journal edited by hand, or damaged, may hold others; taken as they
# are, they would stop the run (or the rebuild of run.json) with a traceback in the summary table or run.json.
_NONE, _NUMBER = type(None), (int, float)
_FILE_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "item": (str,), "source": (str,), "status": (str,), "error": (str, _NONE), "duration": (*_NUMBER, _NONE),
    "language": (str, _NONE), "language_probability": (*_NUMBER, _NONE), "segments": (int,), "chunks": (int,),
    "seconds": _NUMBER, "warnings": (list,), "predicted_wer": (*_NUMBER, _NONE), "doubtful_share": (*_NUMBER, _NONE),
    "route": (str, _NONE),
}  # fmt: skip
_STATUSES = ("ok", "skipped", "failed")


def file_result(data: Any) -> FileResult:
    """A file's result from a journal record, checked field by field.

    Args:
        data: The record's `file` object (or one of the start record's `files`).

    Raises:
        TypeError: A field is missing, unknown or of the wrong type, or the status is not one of the three.
    """
    result = FileResult(**data)
    for name, types in _FILE_FIELD_TYPES.items():
        value = getattr(result, name)
        if isinstance(value, bool) or not isinstance(value, types):  # no field is a bool (JSON true is an int)
            raise TypeError(f"a file's {name} is {type(value).__name__}")
    if result.status not in _STATUSES or not all(isinstance(w, str) for w in result.warnings):
        raise TypeError(f"{result.source}: status {result.status!r} or a warning is not valid")
    return result


def replay(records: list[dict[str, Any]], output_dir: Path) -> Replayed | None:
    """Plays records back into the report they describe; None without a usable start record."""
    if not records or records[0].get("t") != "start":
        return None
    head = records[0]
    try:
        report = RunReport(output_dir, **head["report"])
        report.files = [file_result(f) for f in head["files"]]
        stored = dict(head.get("stored") or {})
        index = {f.source: i for i, f in enumerate(report.files)}
        for record in records[1:]:
            _apply(record, report, index, stored)
    except (KeyError, TypeError, AttributeError) as e:
        log.warning("%s: a record does not fit (%s); the journal is not used", output_dir / JOURNAL_FILE, e)
        return None
    exported = any(record.get("t") == EXPORTED["t"] for record in records)
    return Replayed(report, stored, records[-1].get("t") in ("written", EXPORTED["t"]), exported)


def _apply(record: dict[str, Any], report: RunReport, index: dict[str, int], stored: dict[str, dict]) -> None:
    kind = record["t"]
    if kind == "file":
        result = file_result(record["file"])
        position = index.setdefault(result.source, len(report.files))
        if position == len(report.files):
            report.files.append(result)
        report.files[position] = result
        if "stored" in record:
            stored[result.item] = record["stored"]
    elif kind == "set":
        for name, value in record["report"].items():
            setattr(report, name, value)


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


def rebuild_run_json(output_dir: str | Path) -> Path | None:
    """Writes run.json from the journal of a killed run, unless a live run holds the output folder.

    Returns:
        The path of run.json when it was rebuilt, else None (no journal, a finished one, or a run
        still working there).
    """
    out = Path(output_dir)
    replayed = replay(read_records(out / JOURNAL_FILE), out)
    if replayed is None or replayed.finished:  # the common case needs no lock
        return None
    try:
        with output_lock(out, "read"):
            return _rebuild(out)
    except LockError:  # a run is working there: it writes run.json itself
        return None
    except OSError as e:  # a read-only folder: read what is there
        log.warning("%s: cannot rebuild run.json from %s (%s)", out, JOURNAL_FILE, e.strerror or e)
        return None


def _rebuild(out: Path) -> Path | None:
    replayed = replay(read_records(out / JOURNAL_FILE), out)
    if replayed is None or replayed.finished:
        return None
    path = replayed.report.write()
    with open(out / JOURNAL_FILE, "a+b") as handle:  # later readers leave run.json alone
        handle.seek(0, os.SEEK_END)
        torn = handle.tell() > 0 and (handle.seek(-1, os.SEEK_END) or handle.read(1)) != b"\n"
        handle.write(b"\n" * torn + json.dumps({"t": "written"}).encode() + b"\n")
    log.warning("%s: rebuilt from %s (the run that wrote it was stopped)", path, JOURNAL_FILE)
    return path


def read_run(output_dir: str | Path) -> Any | None:
    """Reads `<output>/run.json`, rebuilding it first from a killed run's journal; None when missing or bad."""
    rebuild_run_json(output_dir)
    return read_json(Path(output_dir) / RUN_FILE)


def previous_run(output_dir: Path) -> Replayed | None:
    """The output folder's last journal played back (rebuilding run.json if that run was killed); None without one."""
    replayed = replay(read_records(output_dir / JOURNAL_FILE), output_dir)
    if replayed is not None and not replayed.finished and rebuild_run_json(output_dir) is not None:
        replayed.finished = True
    return replayed


def reused_result(
    media: MediaFile, prior: FileResult | None, stored: dict[str, Any] | None, key: str, transcript: Path
) -> FileResult | None:
    """A finished file's `skipped` result from the last journal, when nothing it depends on changed.

    Resuming then reads neither the transcript nor the media file (two `stat` calls instead): the
    transcript key, the media file's path, size and mtime, and the transcript's size and mtime must all
    be those journaled. The result is the one reading the transcript would give.

    Args:
        media: The file.
        prior: Its result in the last journal, if any.
        stored: Its transcript's journaled state (`stored_state`), if any.
        key: This run's transcript key.
        transcript: Where its transcript is.

    Returns:
        The result, or None when the transcript must be read (anything differs, or an entry is malformed).
    """
    if prior is None or stored is None or prior.status == "failed" or prior.source != media.source:
        return None
    if not isinstance(media.path, Path):  # a bucket object: its state comes from the listing, not from a stat
        return None
    try:
        source, st, seen = stored["source"], media.path.stat(), transcript.stat()
        same = stored["key"] == key and source["path"] == media.source and isinstance(source["sha256"], str)
        same = same and (source["size"], source["mtime_ns"]) == (st.st_size, st.st_mtime_ns)
        if not same or list(stored["transcript"]) != [seen.st_size, seen.st_mtime_ns]:
            return None
        warnings = [str(w) for w in stored["warnings"]]
    except (OSError, KeyError, TypeError):
        return None
    return FileResult(
        media.item, media.source, "skipped", duration=prior.duration, language=prior.language,
        language_probability=prior.language_probability, segments=prior.segments, warnings=warnings,
    )  # fmt: skip
