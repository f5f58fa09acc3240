"""Reading the events of a SuperAnnotate Video annotation back into timed texts.

Pure functions: an annotation dict in, `Event`s and per-item messages out. The same reader
serves the uploaded drafts and the annotators' corrected annotations, so both sides of a
comparison are read by one set of rules (see docs/superannotate-format.md). Each attribute
group's value is read from all of an event's keyframes (`keyframes.py`); given the draft, a
value the annotator changed wins over the draft's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeGuard

from ..errors import CorrectionError
from ..options import AnnotationOptions
from ..sa_format import NEEDS_REVIEW, OK, US_PER_SECOND
from .keyframes import Disagreement, Value, read_group


@dataclass(frozen=True)
class Event:
    """One timed text of an item.

    Attributes:
        index: Position among the item's kept events, in time order, from 0.
        start_us: Start in integer microseconds (SuperAnnotate's unit, kept exact).
        end_us: End in integer microseconds, above start_us.
        text: The text of the free-text group, stripped, never empty.
        needs_review: The Review value (True, False), None when the event carries none.
        review_reasons: The Review reason values, sorted; None when the event carries none.
        speaker: The Speaker value; None when the event carries none (a run without speakers).
    """

    index: int
    start_us: int
    end_us: int
    text: str
    needs_review: bool | None = None
    review_reasons: tuple[str, ...] | None = None
    speaker: str | None = None

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
        disagreements: The kept events' attribute groups whose keyframes disagree.
    """

    events: tuple[Event, ...]
    duration_us: int | None
    notes: tuple[str, ...] = ()
    disagreements: tuple[Disagreement, ...] = ()


@dataclass(frozen=True)
class _Group:
    """An attribute group the reader fills an `Event` field from."""

    field: str
    name: str
    multiple: bool  # a checklist: several values per keyframe
    convert: Callable[[Value], Any]  # the settled value -> the Event field


@dataclass(frozen=True)
class _Draft:
    """One draft event's times and its groups' values, for reading the corrected event made from it."""

    start: int
    end: int
    values: dict[str, Value | None]


def _review_flag(value: Value) -> bool | None:
    return True if NEEDS_REVIEW in value else False if OK in value else None


def _groups(options: AnnotationOptions) -> tuple[_Group, ...]:
    """Every group read from an event; a new one is one more line here and an Event field."""
    groups: tuple[tuple[str, str | None, bool, Callable[[Value], Any]], ...] = (
        ("text", options.text_group, False, lambda v: v[0]),
        ("needs_review", options.review_group, False, _review_flag),
        ("review_reasons", options.reason_group, True, tuple),
        ("speaker", options.speaker_group, False, lambda v: v[0]),
    )
    # A group named None is switched off in the options.
    return tuple(
        _Group(field, name, multiple, convert) for field, name, multiple, convert in groups if name is not None
    )


def parse_annotation(
    annotation: Any,
    options: AnnotationOptions,
    duration_us: int | None = None,
    draft: Any = None,
    textless: bool = False,
) -> ParsedAnnotation:
    """Reads the events of the options' class from a Video annotation.

    Events without text are left out, events ending after the audio are cut at its end, and
    events entirely outside it are left out; each gets a note. Each group's value is read from
    every keyframe (`keyframes.settle`): with `draft`, a corrected event is matched to the draft
    event it came from (same start and end, else the one overlapping it most) and a value that
    differs from that event's beats one equal to it; without, the latest keyframe wins.

    Args:
        annotation: The annotation as downloaded or uploaded.
        options: Class and group names.
        duration_us: The audio's length; `metadata.duration` when None.
        draft: The annotation as uploaded, when `annotation` is its correction; ignored if malformed.
        textless: Keep events without text (text ""): the boundaries an item uploaded without text was given,
            against which its annotator's events are compared.

    Returns:
        The events, the notes about the ones left out or cut, and the keyframe disagreements.

    Raises:
        CorrectionError: The annotation is not an object with metadata and an instance list.
    """
    instances = _instances(annotation)
    declared = annotation["metadata"].get("duration")
    if duration_us is None and _is_int(declared) and declared > 0:
        duration_us = declared
    drafts = _draft_events(draft, options)
    events, notes, disagreements = [], [], []
    for n, instance in enumerate(instances):
        event, note, found = _read_instance(n, instance, options, duration_us, drafts, textless)
        if note:
            notes.append(f"event {n}: {note}")
        if event is not None:
            events.append(event)
            disagreements.extend(found)
    events.sort(key=lambda e: (e.start_us, e.end_us))
    indexed = tuple(replace(e, index=i) for i, e in enumerate(events))
    return ParsedAnnotation(indexed, duration_us, tuple(notes), tuple(disagreements))


def _instances(annotation: Any) -> list:
    if not isinstance(annotation, dict) or not isinstance(annotation.get("metadata"), dict):
        raise CorrectionError("not an annotation object with metadata")
    instances = annotation.get("instances")
    if not isinstance(instances, list):
        raise CorrectionError("its instances are not a list")
    return instances


def _read_instance(
    n: int, instance: Any, options: AnnotationOptions, duration_us: int | None, drafts: dict | None, textless: bool
) -> tuple[Event | None, str, list[Disagreement]]:
    times, note = _event_times(instance, options)
    if times is None:
        return None, note, []
    start, end = times
    source = _match(drafts, start, end) if drafts is not None else None
    values: dict[str, Any] = {}
    found: list[Disagreement] = []
    for group in _groups(options):
        known = source.values.get(group.field) if source is not None else None
        value, disagreement = read_group(instance.get("parameters"), n, group.name, group.multiple, known)
        values[group.field] = None if value is None else group.convert(value)
        found.extend([disagreement] if disagreement else [])
    if not values["text"] and not textless:
        return None, f"{_span(start, end)} has no text: left out", []
    values["text"] = values["text"] or ""
    start, end, where = _within(start, end, duration_us)
    if where == "outside":
        return None, f"{_span(*times)} lies outside the audio (0-{_seconds(duration_us)}): left out", []
    note = f"{_span(*times)} ends after the audio: cut at {_seconds(end)} s" if where else ""
    return Event(0, start, end, **values), note, found


def _event_times(instance: Any, options: AnnotationOptions) -> tuple[tuple[int, int] | None, str]:
    """(start, end) of an event of the class, or None and why it is left out."""
    meta = instance.get("meta") if isinstance(instance, dict) else None
    if not isinstance(meta, dict) or meta.get("type") != "event":
        return None, "not an event: left out"
    if meta.get("className") != options.class_name:
        return None, f"class {meta.get('className')!r} is not {options.class_name!r}: left out"
    start, end = meta.get("start"), meta.get("end")
    if not (_is_int(start) and _is_int(end)) or start < 0 or end <= start:
        return None, f"times {start!r}..{end!r} are not integer microseconds with 0 <= start < end: left out"
    return (start, end), ""


def _draft_events(draft: Any, options: AnnotationOptions) -> dict[tuple[int, int], _Draft] | None:
    """The draft's events of the class by (start, end), with their groups' values; None without a usable draft."""
    if draft is None:
        return None
    try:
        instances = _instances(draft)
    except CorrectionError:
        return None  # a malformed draft is reported where it is compared; here it only means no draft values
    drafts = {}
    for instance in instances:
        times, _ = _event_times(instance, options)
        if times is not None and times not in drafts:
            parameters = instance.get("parameters")
            values = {g.field: read_group(parameters, 0, g.name, g.multiple, None)[0] for g in _groups(options)}
            drafts[times] = _Draft(*times, values)
    return drafts


def _match(drafts: dict[tuple[int, int], _Draft], start: int, end: int) -> _Draft | None:
    """The draft event with the same times, else the one overlapping [start, end) most, else None."""
    same = drafts.get((start, end))
    if same is not None:
        return same
    best = max(drafts.values(), key=lambda d: min(end, d.end) - max(start, d.start), default=None)
    return best if best is not None and min(end, best.end) > max(start, best.start) else None


def _within(start: int, end: int, duration_us: int | None) -> tuple[int, int, str]:
    """Cuts a span to the audio: (start, end, '' | 'cut' | 'outside')."""
    if duration_us is None or end <= duration_us:
        return start, end, ""
    if start >= duration_us:
        return start, end, "outside"
    return start, duration_us, "cut"


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _seconds(us: int | None) -> str:
    return "?" if us is None else f"{us / US_PER_SECOND:.3f}"


def _span(start: int, end: int) -> str:
    return f"{_seconds(start)}-{_seconds(end)} s"
