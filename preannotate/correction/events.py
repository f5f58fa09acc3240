"""Reading the events of a SuperAnnotate Video annotation back into timed texts.

Pure functions: an annotation dict in, `Event`s and per-item messages out. The same reader
serves the uploaded drafts and the annotators' corrected annotations, so both sides of a
comparison are read by one set of rules (see docs/superannotate-format.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import CorrectionError
from ..options import AnnotationOptions
from ..sa_format import NEEDS_REVIEW, OK, US_PER_SECOND


@dataclass(frozen=True)
class Event:
    """One timed text of an item.

    Attributes:
        index: Position among the item's kept events, in time order, from 0.
        start_us: Start in integer microseconds (SuperAnnotate's unit, kept exact).
        end_us: End in integer microseconds, above start_us.
        text: The text of the free-text group, stripped, never empty.
        needs_review: The draft's Review value (True, False), None when the event carries none.
    """

    index: int
    start_us: int
    end_us: int
    text: str
    needs_review: bool | None = None

    @property
    def start(self) -> float:
        """Start in seconds."""
        return self.start_us / US_PER_SECOND

    @property
    def end(self) -> float:
        """End in seconds."""
        return self.end_us / US_PER_SECOND

    @property
    def duration(self) -> float:
        """Seconds from start to end."""
        return (self.end_us - self.start_us) / US_PER_SECOND


@dataclass(frozen=True)
class ParsedAnnotation:
    """The events of one annotation and what was wrong with it.

    Attributes:
        events: The usable events, ordered by start then end, re-indexed from 0.
        duration_us: `metadata.duration`, when it is a positive integer.
        notes: One message per event left out or repaired (never fatal).
    """

    events: tuple[Event, ...]
    duration_us: int | None
    notes: tuple[str, ...] = ()


def parse_annotation(annotation: Any, options: AnnotationOptions, duration_us: int | None = None) -> ParsedAnnotation:
    """Reads the events of the options' class from a Video annotation.

    Events without text are left out, events ending after the audio are cut at its end, and
    events entirely outside it are left out; each gets a note.

    Args:
        annotation: The annotation as downloaded or uploaded.
        options: Class and group names.
        duration_us: The audio's length; `metadata.duration` when None.

    Returns:
        The events and the notes about the ones left out or cut.

    Raises:
        CorrectionError: The annotation is not an object with metadata and an instance list.
    """
    if not isinstance(annotation, dict) or not isinstance(annotation.get("metadata"), dict):
        raise CorrectionError("not an annotation object with metadata")
    instances = annotation.get("instances")
    if not isinstance(instances, list):
        raise CorrectionError("its instances are not a list")
    declared = annotation["metadata"].get("duration")
    if duration_us is None and _is_int(declared) and declared > 0:
        duration_us = declared
    events, notes = [], []
    for n, instance in enumerate(instances):
        event, note = _read_instance(instance, options, duration_us)
        if note:
            notes.append(f"event {n}: {note}")
        if event is not None:
            events.append(event)
    events.sort(key=lambda e: (e.start_us, e.end_us))
    indexed = tuple(Event(i, e.start_us, e.end_us, e.text, e.needs_review) for i, e in enumerate(events))
    return ParsedAnnotation(indexed, duration_us, tuple(notes))


def _read_instance(instance: Any, options: AnnotationOptions, duration_us: int | None) -> tuple[Event | None, str]:
    meta = instance.get("meta") if isinstance(instance, dict) else None
    if not isinstance(meta, dict) or meta.get("type") != "event":
        return None, "not an event: left out"
    if meta.get("className") != options.class_name:
        return None, f"class {meta.get('className')!r} is not {options.class_name!r}: left out"
    start, end = meta.get("start"), meta.get("end")
    if not (_is_int(start) and _is_int(end)) or start < 0 or end <= start:
        return None, f"times {start!r}..{end!r} are not integer microseconds with 0 <= start < end: left out"
    attributes = _attributes(instance.get("parameters"))
    texts = _values(attributes, options.text_group)
    if not texts:
        return None, f"{_span(start, end)} has no text: left out"
    start, end, where = _within(start, end, duration_us)
    if where == "outside":
        return None, f"{_span(meta['start'], meta['end'])} lies outside the audio (0-{_seconds(duration_us)}): left out"
    note = f"{_span(meta['start'], meta['end'])} ends after the audio: cut at {_seconds(end)} s" if where else ""
    if len(set(texts)) > 1:
        note = "; ".join(filter(None, [note, f"{_span(start, end)} has {len(set(texts))} texts: the first is used"]))
    return Event(0, start, end, texts[0], _review(attributes, options.review_group)), note


def _attributes(parameters: Any) -> list[dict]:
    """Every attribute of every timestamp, in timestamp order."""
    found: list[dict] = []
    for parameter in parameters if isinstance(parameters, list) else []:
        stamps = parameter.get("timestamps") if isinstance(parameter, dict) else None
        for stamp in sorted(_dicts(stamps), key=lambda s: s.get("timestamp") if _is_int(s.get("timestamp")) else 0):
            found.extend(_dicts(stamp.get("attributes")))
    return found


def _values(attributes: Sequence[dict], group: str | None) -> list[str]:
    values = [a.get("name") for a in attributes if group is not None and a.get("groupName") == group]
    return [v.strip() for v in values if isinstance(v, str) and v.strip()]


def _review(attributes: Sequence[dict], group: str | None) -> bool | None:
    values = _values(attributes, group)
    if NEEDS_REVIEW in values:
        return True
    return False if OK in values else None


def _within(start: int, end: int, duration_us: int | None) -> tuple[int, int, str]:
    """Cuts a span to the audio: (start, end, '' | 'cut' | 'outside')."""
    if duration_us is None or end <= duration_us:
        return start, end, ""
    if start >= duration_us:
        return start, end, "outside"
    return start, duration_us, "cut"


def _dicts(value: Any) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _seconds(us: int | None) -> str:
    return "?" if us is None else f"{us / US_PER_SECOND:.3f}"


def _span(start: int, end: int) -> str:
    return f"{_seconds(start)}-{_seconds(end)} s"
