"""Reading a run back: its journal played into run.json (rebuilt after a killed run) and resumed files."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from ..errors import LockError
from ..lock import output_lock
from ..naming import MediaFile
from ..report import FileResult
from ..storage import read_json
from .records import JOURNAL_FILE, RUN_FILE, Replayed, read_records, replay

log = logging.getLogger(__name__)


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
