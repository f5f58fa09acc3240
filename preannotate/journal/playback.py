"""Reading a run back: its journal played into run.json (rebuilt after a killed run) and resumed files."""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import LockError
from ..lock import output_lock
from ..naming import MediaFile
from ..report import FileResult
from ..storage import read_json
from .records import JOURNAL_FILE, RUN_FILE, Replayed, read_records, replay

log = logging.getLogger(__name__)


def rebuild_run_json(output_dir: str | Path, damaged: bool = False) -> Path | None:
    """Writes run.json from the journal of a killed run, unless a live run holds the output folder.

    Args:
        output_dir: The run's output folder.
        damaged: run.json is gone or unreadable: rebuilt from a finished run's journal too (the damaged
            file kept aside as `run.json.invalid-<UTC time>`).

    Returns:
        The path of run.json when it was rebuilt, else None (no journal, a finished one, or a run
        still working there).
    """
    out = Path(output_dir)
    replayed = replay(read_records(out / JOURNAL_FILE), out)
    if replayed is None or (replayed.finished and not damaged):  # the common case needs no lock
        return None
    try:
        with output_lock(out, "read"):
            return _rebuild(out, damaged)
    except LockError:  # a run is working there: it writes run.json itself
        return None
    except OSError as e:  # a read-only folder: read what is there
        log.warning("%s: cannot rebuild run.json from %s (%s)", out, JOURNAL_FILE, e.strerror or e)
        return None


def _rebuild(out: Path, damaged: bool) -> Path | None:
    replayed = replay(read_records(out / JOURNAL_FILE), out)
    if replayed is None or (replayed.finished and not (damaged and read_run_record(out) is None)):
        return None
    kept = keep_aside(out / RUN_FILE) if damaged else None
    path = replayed.report.write()
    with open(out / JOURNAL_FILE, "a+b") as handle:  # later readers leave run.json alone
        handle.seek(0, os.SEEK_END)
        torn = handle.tell() > 0 and (handle.seek(-1, os.SEEK_END) or handle.read(1)) != b"\n"
        handle.write(b"\n" * torn + json.dumps({"t": "written"}).encode() + b"\n")
    if damaged:
        was = f"it was unreadable, kept as {kept.name}" if kept else "it was missing"
        log.warning("%s: rebuilt from %s (%s)", path, JOURNAL_FILE, was)
    else:
        log.warning("%s: rebuilt from %s (the run that wrote it was stopped)", path, JOURNAL_FILE)
    return path


def read_run(output_dir: str | Path) -> Any | None:
    """Reads `<output>/run.json`, rebuilding it first from a killed run's journal; None when missing or bad.

    A run.json gone or damaged since its run finished (a full disk, a truncated copy) is rebuilt from the
    journal as well, the damaged file kept aside.
    """
    rebuild_run_json(output_dir)
    if (record := read_run_record(Path(output_dir))) is not None:
        return record
    rebuild_run_json(output_dir, damaged=True)
    return read_json(Path(output_dir) / RUN_FILE)


def stopped_before_exports(output_dir: str | Path) -> bool:
    """Whether the folder's last run stopped (Ctrl-C, a kill) before it wrote its exports.

    Its transcripts may then be newer than the annotation files in `superannotate/`, which still hold the
    drafts of the transcripts they replaced. A folder without a journal (an earlier version's) says no.
    """
    replayed = replay(read_records(Path(output_dir) / JOURNAL_FILE), Path(output_dir))
    return replayed is not None and not replayed.exported


def read_run_record(out: Path) -> dict | None:
    """run.json when it is a run's record (an object with a files list), else None."""
    record = read_json(out / RUN_FILE)
    return record if isinstance(record, dict) and isinstance(record.get("files"), list) else None


def run_record_problem(out: Path) -> str:
    """What is wrong with a run.json `read_run` could neither read nor rebuild, for an error message."""
    path = out / RUN_FILE
    if not (path.exists() or path.is_symlink()):
        return f"is missing (and no {JOURNAL_FILE} rebuilds it)"
    return f"is not a run's record: not valid JSON or no files list (and no {JOURNAL_FILE} rebuilds it)"


def keep_aside(path: Path) -> Path | None:
    """Renames a damaged file to `<name>.invalid-<UTC time>`; returns the new path, or None when it is not there."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    target = path.with_name(f"{path.name}.invalid-{stamp}")
    try:
        path.rename(target)
    except FileNotFoundError:
        return None
    return target


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
