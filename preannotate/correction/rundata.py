"""Reading what a run left behind: its files, the drafts as uploaded, and the chunks' quality data."""

from __future__ import annotations

import json
import logging
import math
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from ..errors import CorrectionInputError, UploadError
from ..journal import read_run as read_run_json
from ..journal import run_record_problem
from ..naming import plain_item_problem
from ..sa_format import microseconds
from ..spreadsheet import raw_frame
from ..storage import read_json
from ..superannotate import Ledger
from ..superannotate.ledger import LedgerEntry, annotation_sha256

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
ANNOTATIONS_DIR = "superannotate"
MATCH_US = 1000  # chunks.csv rounds times to the millisecond
CSV_TEXT_COLUMNS = ("item", "text", "review_reason")
# predicted_wer: the review model's, in runs made since it exists; older runs' records lack it (None).
QUALITY_FIELDS: tuple[str, ...] = ("mean_word_probability", "min_word_probability", "avg_logprob", "needs_review")
QUALITY_FIELDS += ("review_reason", "predicted_wer")


@dataclass(frozen=True)
class Draft:
    """The annotation an item's correction started from.

    Attributes:
        annotation: The annotation as uploaded, or None when it cannot be found.
        note: Where it came from when not from the ledger's copy, or why it is missing.
    """

    annotation: Any
    note: str | None = None


def read_run(output_dir: Path) -> dict[str, Any]:
    """`<output>/run.json` as a dict.

    Raises:
        CorrectionInputError: It is missing or not a run record (the folder is not a run's: bad input).
    """
    data = read_run_json(output_dir)  # rebuilt from the journal if the run was killed
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise CorrectionInputError(f"{output_dir / RUN_FILE} {run_record_problem(output_dir)}: not a run folder")
    return data


def run_items(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The run's file records (item, source, language, duration...) by item name.

    run.json may have been edited. A record whose item name is not a plain item name (`../..`,
    `a/b`, empty, not a string) is left out with a warning, so that no path is built from it; one
    whose source is not a relative path inside the input folder keeps no source (its media are
    then unknown) and says why in `problem`.
    """
    items = {}
    for f in run["files"]:
        problem = plain_item_problem(f.get("item")) if isinstance(f, dict) else "entry is not an object"
        if problem:
            log.warning("%s %s: left out", RUN_FILE, problem)
            continue
        source = f.get("source")
        if not isinstance(source, str) or not _inside(source):
            f = {**f, "source": None, "problem": f"{RUN_FILE} source {source!r} of {f['item']} is not a relative path"}
            log.warning("%s", f["problem"])
        items[f["item"]] = f
    return items


def _inside(source: str) -> bool:
    path = PurePosixPath(source.replace("\\", "/"))
    return bool(source) and not path.is_absolute() and ".." not in path.parts


def load_ledger(output_dir: Path) -> Ledger | None:
    """The upload ledger, or None when the run has none or it is unreadable."""
    try:
        return Ledger.load(output_dir)
    except UploadError:
        return None


def draft_for(output_dir: Path, ledger: Ledger | None, target: str, item: str, corrected: Any = None) -> Draft:
    """What was uploaded for the item: the ledger's copy, else the annotation file if it was uploaded as is.

    An upload sent and never confirmed (a stop, or a request failed as a whole, came between) may or may not
    have reached SuperAnnotate, so the item's annotator started from its copy or from an earlier upload's.
    Given the `corrected` annotation, the upload it is nearest to (`nearest_draft`) is the one they saw;
    without it, or on a tie, the confirmed upload, else the newest unconfirmed one.

    Without a ledger entry (the ledger was removed, or items were uploaded by other means), the
    current `superannotate/<item>.json` is used and the note says so.
    """
    entry = ledger.entry(target, item) if ledger is not None else None
    confirmed = _confirmed_draft(output_dir, entry, target, item)
    sent = [] if ledger is None else [
        Draft(copy, f"the upload to {target} was sent and not confirmed: compared with its copy {p.copy}")
        for p in reversed(ledger.sent(target, item)) if (copy := read_json(output_dir / p.copy)) is not None
    ]  # fmt: skip
    if entry is not None and confirmed.annotation is None:
        return confirmed  # lost: no unconfirmed copy can stand in for what perhaps was on SuperAnnotate
    drafts = [confirmed, *sent] if entry is not None else sent
    if not drafts:
        return confirmed
    if corrected is None or len(drafts) == 1:
        return drafts[0]
    chosen = drafts[nearest_draft(corrected, [d.annotation for d in drafts])]
    why = f"nearest the correction of the {len(drafts)} uploads sent to {target} ({len(sent)} not confirmed)"
    return Draft(chosen.annotation, "; ".join(n for n in (chosen.note, why) if n))


def _confirmed_draft(output_dir: Path, entry: LedgerEntry | None, target: str, item: str) -> Draft:
    """The item's confirmed upload to the target (`entry`), else `superannotate/<item>.json`, with a note."""
    current = output_dir / ANNOTATIONS_DIR / f"{item}.json"
    if entry is None:
        annotation = read_json(current)
        note = f"not in the upload ledger for {target}: compared with {ANNOTATIONS_DIR}/{item}.json"
        return Draft(annotation, note if annotation is not None else f"no draft: {note} is missing or unreadable")
    copy = read_json(output_dir / entry.copy)
    if copy is not None:
        return Draft(copy)
    annotation = read_json(current)
    if annotation is not None and annotation_sha256(annotation) == entry.sha256:
        return Draft(annotation, f"the ledger's copy {entry.copy} is missing: used the identical {current.name}")
    return Draft(None, f"no draft: the ledger's copy {entry.copy} is missing and {current.name} differs from it")


def nearest_draft(corrected: Any, drafts: list[Any]) -> int:
    """The index of the draft the corrected annotation shares most with; the first of those tied.

    What annotators see is compared: each event's times and every word of every value at every keyframe, as
    multisets (Jaccard: shared over all), so an annotator's edits cost every draft alike and what they left
    as it was points to the draft it came from.
    """
    seen = _shown(corrected)
    scores = [_jaccard(seen, _shown(draft)) for draft in drafts]
    return scores.index(max(scores))


def _shown(annotation: Any) -> Counter:
    """An annotation's event times and value words (by group), as a multiset; malformed parts count for nothing."""
    found: Counter = Counter()
    for instance in _dicts(annotation.get("instances") if isinstance(annotation, dict) else None):
        meta = instance.get("meta")
        if isinstance(meta, dict):
            found[("times", str(meta.get("start")), str(meta.get("end")))] += 1
        for parameter in _dicts(instance.get("parameters")):
            for stamp in _dicts(parameter.get("timestamps")):
                for value in _dicts(stamp.get("attributes")):
                    found.update((str(value.get("groupName")), word) for word in str(value.get("name")).split())
    return found


def _dicts(value: Any) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _jaccard(a: Counter, b: Counter) -> float:
    union = sum((a | b).values())
    return sum((a & b).values()) / union if union else 1.0


def corrected_problem(annotation: Any, item: str, file: str) -> str | None:
    """Why a pulled annotation (`file`, read as `annotation`) is not the item's correction; None when it may be.

    Missing or damaged, or the annotation of another item (its `metadata.name`): a file copied or
    renamed by hand would pair one item's events with another's audio.
    """
    if annotation is None:
        return f"the pulled annotation {file} is missing or not valid JSON"
    metadata = annotation.get("metadata") if isinstance(annotation, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if isinstance(name, str) and unicodedata.normalize("NFC", name) != unicodedata.normalize("NFC", item):
        return f"the pulled annotation {file} is the annotation of {name!r}, not of {item!r}: pull again"
    return None


def quality_table(output_dir: Path) -> pd.DataFrame:
    """The chunks' quality data from chunks.jsonl (unrounded), else chunks.csv; empty when neither exists.

    Columns: item, start_us, text and QUALITY_FIELDS.
    """
    rows = _jsonl_rows(output_dir / "chunks.jsonl")
    if rows is None:
        try:
            frame = pd.read_csv(output_dir / "chunks.csv", keep_default_na=False, na_values=[""])
        except (OSError, ValueError, pd.errors.ParserError):
            frame = pd.DataFrame()
        rows = raw_frame(frame, CSV_TEXT_COLUMNS).to_dict("records")  # texts as transcribed, not spreadsheet-safe
    records = [_quality_record(r) for r in rows if isinstance(r, dict) and r.get("item") is not None]
    columns = ["item", "start_us", "text", *QUALITY_FIELDS]
    return pd.DataFrame([r for r in records if r is not None], columns=columns)


def jsonl_records(output_dir: Path) -> dict[str, list[dict]]:
    """chunks.jsonl's records (words and signals as chunked) by item; empty without the file."""
    found: dict[str, list[dict]] = {}
    for row in _jsonl_rows(output_dir / "chunks.jsonl") or []:
        if isinstance(row, dict) and isinstance(row.get("item"), str):
            found.setdefault(row["item"], []).append(row)
    return found


def _jsonl_rows(path: Path) -> list[dict] | None:
    try:
        lines = path.read_bytes().splitlines()  # decoded line by line: bytes that are not UTF-8 cost only their line
    except OSError:
        return None
    rows = []
    for line in lines:
        try:
            rows.append(json.loads(line.decode("utf-8")))
        except (ValueError, RecursionError):  # UnicodeDecodeError too
            continue  # a damaged line costs only its chunk's confidence
    return rows


def _quality_record(row: dict) -> dict | None:
    try:
        start_us = microseconds(float(row["start"]))
    except (KeyError, TypeError, ValueError):
        return None
    record = {"item": str(row["item"]), "start_us": start_us, "text": str(row.get("text") or "").strip()}
    for name in QUALITY_FIELDS:
        value = row.get(name)
        record[name] = None if isinstance(value, float) and math.isnan(value) else value
    return record


def quality_lookups(table: pd.DataFrame) -> dict[str, dict[str, list[dict]]]:
    """Every item's quality records grouped by text (for `find_quality`), by item, made in one pass over the table.

    Why: selecting one item's rows scans the whole table, so doing it item by item made a report's
    comparison grow with the square of the run's size (16,000 items: 16,000 scans of 32,000 chunks).
    """
    found: dict[str, dict[str, list[dict]]] = {}
    for record in table.to_dict("records"):
        found.setdefault(record["item"], {}).setdefault(record["text"], []).append(record)
    return found


def find_quality(lookup: dict[str, list[dict]], start_us: int, text: str) -> dict | None:
    """The quality record of the chunk with this text starting within 1 ms of `start_us`, if any.

    Why not by index: chunks.csv is rewritten when a run is re-chunked, while the draft is what
    was uploaded; a record belongs to a draft event only if text and start agree (chunks.csv
    keeps times to the millisecond, chunks.jsonl exactly).
    """
    candidates = [r for r in lookup.get(text.strip(), []) if abs(r["start_us"] - start_us) <= MATCH_US]
    return min(candidates, key=lambda r: abs(r["start_us"] - start_us), default=None)
