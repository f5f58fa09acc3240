"""The journal's records: what each line holds, read back and played into a run's report (see the package)."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from ..report import FileResult, RunReport
from ..storage import read_regular_bytes

log = logging.getLogger(__name__)

JOURNAL_FILE = "journal.jsonl"
RUN_FILE = "run.json"
EXPORTED = {"t": "exported"}  # appended once run.json holds the exported chunks' results
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


_SAID: set[tuple[str, int, str]] = set()  # damaged lines warned of in this process


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
        except (ValueError, RecursionError):  # RecursionError: nested too deep for the parser
            last = number == len(lines) or not any(rest.strip() for rest in lines[number:])
            what = "its last line is torn (a killed write)" if last else f"line {number} is damaged"
            if (where, number, line) not in _SAID:  # one command reads its journal several times
                _SAID.add((where, number, line))
                log.warning("%s: %s; that line is ignored", where, what)
            continue
        records.append(record)
    return records


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of the journal at `path`; [] when it is missing or unreadable.

    Raises:
        StateFileError: A named pipe, a folder or another file that is not regular stands there.
    """
    try:
        raw = read_regular_bytes(path).decode("utf-8", errors="replace")
        text = raw.replace("\r\n", "\n").replace("\r", "\n")  # as a text-mode read gives it
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
