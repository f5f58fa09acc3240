"""Items by upload route, the control arm against the drafts, and the team's measured work times.

A run may hold a control arm: items uploaded with chunk boundaries but no text (route `control`
in run.json), typed from scratch, so that the drafts' effect can be measured instead of modelled.
Edit volume per audio minute is compared always; hours of work per audio hour when the team
supplies per-item work times (`preannotate report --work-times times.csv`, columns item, seconds).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import CorrectionInputError
from .effort import CONTROL, DRAFT, FROM_SCRATCH, SEGMENT_EDITS, ItemEdits

ROUTES = (DRAFT, FROM_SCRATCH, CONTROL)
WORK_TIME_COLUMNS = ("item", "seconds")
SHOWN = 5  # item names shown in a message


def file_route(record: Mapping[str, Any] | None) -> str:
    """The route of a run.json file record; `draft` for runs made before routes existed."""
    route = (record or {}).get("route")
    return route if route in ROUTES else DRAFT


def item_edits(items: pd.DataFrame) -> list[ItemEdits]:
    """The compared items with a known duration, as the effort model reads them."""
    if not len(items):
        return []
    rows = items[items["compared"].astype(bool) & items["audio_seconds"].notna()]
    return [
        ItemEdits(
            item=str(r["item"]),
            route=str(r["route"]),
            audio_seconds=float(r["audio_seconds"]),
            word_edits=int(r["substitutions"] + r["deletions"] + r["insertions"]),
            segment_edits=int(sum(r[k] for k in SEGMENT_EDITS)),
            ref_words=int(r["ref_words"]),
            predicted_wer=None if pd.isna(r.get("predicted_wer")) else float(r["predicted_wer"]),
        )
        for r in rows.to_dict("records")
    ]


def read_work_times(path: str | Path) -> dict[str, float]:
    """Per-item work seconds from a CSV with the columns item and seconds (any case, spaces around names ignored).

    Raises:
        CorrectionError: The file cannot be read, lacks a column or has one twice, holds no row, or a
            row has no item, a duplicate item, more cells than the header, or seconds that are not a
            positive number (the message names the row's line).
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            reader.fieldnames = [(name or "").strip().lower() for name in reader.fieldnames or []]
            _check_header(path, reader.fieldnames)
            times = _work_rows(path, reader)
    except OSError as e:
        raise CorrectionInputError(f"cannot read the work times {path}: {e.strerror or e}") from e
    except (UnicodeDecodeError, csv.Error) as e:
        raise CorrectionInputError(f"{path} is not a UTF-8 CSV: {e}") from e
    if not times:
        raise CorrectionInputError(f"{path} has no work times: one row per item under the header item, seconds")
    if not math.isfinite(sum(times.values())):  # each is finite, their total need not be
        raise CorrectionInputError(f"{path}: the seconds add up beyond any finite number: not work times")
    return times


def _check_header(path: Path, names: list[str]) -> None:
    missing = [c for c in WORK_TIME_COLUMNS if c not in names]
    if missing:
        found = ", ".join(names) or "nothing"
        apart = next((f" (separated by {w}? separate them with commas)" for c, w in _SEPARATORS if c in found), "")
        raise CorrectionInputError(
            f"{path}: no column {', '.join(missing)} (needs item, seconds; found {found}){apart}"
        )
    twice = [c for c in WORK_TIME_COLUMNS if names.count(c) > 1]
    if twice:  # DictReader would silently keep the last one
        raise CorrectionInputError(f"{path}: column {', '.join(twice)} appears twice in the header")


_SEPARATORS = ((";", "semicolons"), ("\t", "tabs"))  # what spreadsheets in some locales save "CSV" with


def check_work_times(path: str | Path, times: Mapping[str, float], items: Iterable[str]) -> None:
    """Refuses work times of which no item is an item of the pull (another run's file, names without extension).

    Args:
        path: The work-times file, for the message.
        times: Its times (`read_work_times`).
        items: The items of the run's pull.

    Raises:
        CorrectionInputError: No item of `times` is among `items`.
    """
    items = sorted(set(items))
    if times and not set(times) & set(items):
        theirs = ", ".join(sorted(times)[:SHOWN]) + (", ..." if len(times) > SHOWN else "")
        ours = (", ".join(items[:SHOWN]) + (", ..." if len(items) > SHOWN else "")) or "none"
        raise CorrectionInputError(
            f"{path}: none of its items is an item of this run's pull ({theirs}; the pull's: {ours}); "
            "the work times of another run? Name each item as in chunks.csv"
        )


def _work_rows(path: Path, reader: csv.DictReader) -> dict[str, float]:
    times: dict[str, float] = {}
    for row in reader:
        where = f"{path} line {reader.line_num}"  # the file's line, past blank lines and quoted line breaks
        if None in row:  # cells beyond the header: a decimal comma (1,5) would otherwise read as 1
            raise CorrectionInputError(f"{where}: more cells than the header's columns (quote a value with a comma)")
        item, seconds = (row.get("item") or "").strip(), (row.get("seconds") or "").strip()
        if not item:
            raise CorrectionInputError(f"{where}: no item name")
        if item in times:
            raise CorrectionInputError(f"{where}: {item} is listed twice")
        try:
            value = float(seconds)
        except ValueError:
            raise CorrectionInputError(f"{where}: seconds {seconds!r} of {item} is not a number") from None
        if not math.isfinite(value) or value <= 0:
            raise CorrectionInputError(f"{where}: seconds {seconds!r} of {item} must be a positive number")
        times[item] = value
    return times


def compare_arms(
    edits: Sequence[ItemEdits], work_times: Mapping[str, float] | None = None, draft_max_wer: float | None = None
) -> dict[str, Any]:
    """Edit volume (and, with work times, hours per audio hour) of the draft and control arms.

    Like is compared with like: control items are drawn whatever their predicted WER, and items above
    `draft_max_wer` get no draft (they are typed from scratch), so the control arm holds only those that
    would have been drafted (`control_left_out` counts the others).

    Args:
        edits: The compared items.
        work_times: Item -> seconds of work; None when the team supplied none.
        draft_max_wer: The run's `annotation.draft_max_wer`; None: every item is drafted.

    Returns:
        `arms`: per route present (draft, control), items, audio minutes, word and boundary edits
        and edits per audio minute, plus with work times the timed items, work hours and hours per
        audio hour; `ratio` (draft hours per audio hour over control's) when both are timed;
        `untimed`: compared items without a work time; `unknown`: work-time items not compared;
        `note`: why something is missing (no control arm); `warnings`: work times that look misread
        (items not compared, less work than audio: minutes or hours given as seconds).
    """

    def drafted_if_not_control(e: ItemEdits) -> bool:
        return draft_max_wer is None or e.predicted_wer is None or e.predicted_wer <= draft_max_wer

    control = [e for e in edits if e.route == CONTROL]
    like = [e for e in control if drafted_if_not_control(e)]
    arms = {DRAFT: _arm([e for e in edits if e.route == DRAFT], work_times), CONTROL: _arm(like, work_times)}
    result: dict[str, Any] = {"arms": arms, "ratio": None, "note": None, "control_left_out": len(control) - len(like)}
    if not arms[CONTROL]["items"]:
        result["note"] = "no control arm: no compared item was uploaded with route control"
    if work_times is not None:
        compared = {e.item for e in edits}
        result["untimed"] = sorted(compared - set(work_times))
        result["unknown"] = sorted(set(work_times) - compared)
        rates = [arms[r].get("hours_per_audio_hour") for r in (DRAFT, CONTROL)]
        if all(rates) and rates[1]:
            result["ratio"] = rates[0] / rates[1]
        result["warnings"] = _work_warnings(result, rates)
    return result


def _work_warnings(result: Mapping[str, Any], rates: list[float | None]) -> list[str]:
    """What in the work times looks misread: items of no compared item, less work than audio."""
    warnings = []
    if result["unknown"]:
        named = ", ".join(result["unknown"][:SHOWN]) + (" ..." if len(result["unknown"]) > SHOWN else "")
        warnings.append(f"{len(result['unknown'])} work time(s) of no compared item, left out: {named}")
    for route, rate in zip((DRAFT, CONTROL), rates):
        if rate is not None and rate < 1:  # no one types, or checks a draft, faster than the audio plays
            warnings.append(
                f"the {route} arm's work times add up to {rate:.3g} hours per audio hour, less than the audio "
                "lasts: are they minutes or hours? The column is seconds"
            )
    return warnings


def _arm(edits: Sequence[ItemEdits], work_times: Mapping[str, float] | None) -> dict[str, Any]:
    minutes = sum(e.audio_seconds for e in edits) / 60
    words, segments = sum(e.word_edits for e in edits), sum(e.segment_edits for e in edits)
    arm: dict[str, float | None] = {
        "items": len(edits),
        "audio_minutes": minutes,
        "word_edits": words,
        "segment_edits": segments,
    }
    arm["edits_per_audio_minute"] = (words + segments) / minutes if minutes > 0 else None
    if work_times is not None:
        timed = [e for e in edits if e.item in work_times]
        audio = sum(e.audio_seconds for e in timed)
        work = sum(work_times[e.item] for e in timed)
        arm.update(timed_items=len(timed), work_hours=work / 3600)
        arm["hours_per_audio_hour"] = work / audio if audio > 0 else None
    return arm


def arms_table(comparison: Mapping[str, Any]) -> pd.DataFrame:
    """The arms side by side: one row per measure, one column per arm."""
    return pd.DataFrame(comparison["arms"])
