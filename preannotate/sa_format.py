"""SuperAnnotate Video/Audio annotation JSON for one item, and the class definition it needs.

The format (see docs/superannotate-format.md): `{"metadata": {"name", "duration"},
"instances", "tags"}`, all times integer microseconds, one `event` instance per chunk
with one parameter whose first and last timestamps (the chunk's start and end) carry
the attributes, so the text shows for the whole event.

Quality signals travel as two attribute groups next to the free-text group: attribute
values belong to each event (an item tag could only flag the whole file), show on it in
the editor and come back in every downloaded annotation:

- `Review` (single choice, values `needs_review` and `ok`): every chunk carries one,
  so both the doubtful and the confident chunks can be listed.
- `Review reason` (multiple choice, one value per reason in `REVIEW_REASONS`): the
  reasons a chunk was flagged; none for an `ok` chunk.

Choice groups only accept values their class defines, so `annotation_classes` lists
them all; the numbers behind a flag (probabilities, log probability, compression
ratio, temperature) stay in chunks.csv and chunks.jsonl. Either group can be left out
with `annotation.review_group: null` / `annotation.reason_group: null`.

A third, free-text group (`Doubtful words`) lists the words the review model doubts,
`word (p=0.05), other (p=0.31)`: the editor shows an event's text attributes next to its
text, while markers inside the text would have to be deleted by the annotator and would
leak into the corrected transcript if forgotten.

When the run has speakers (`speakers.mode`), a single-choice group (`Speaker`) holds each
chunk's speaker, the one thing about it an annotator fixes in one click. Its values are made
with the class (`speaker_values`): the run's speakers and, for diarization's `SPEAKER_NN`
names, at least SPEAKER_01 to SPEAKER_08, so a later run with a few more speakers fits the
class and an annotator can pick a speaker diarization missed.

Items routed away from drafts (`preannotate.routing`: `from_scratch`, `control`) get the
same events without the text attribute: the boundaries, `needs_review` and the route as
the review reason (`transcribe_from_scratch` or `control`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from .chunking import CONTROL, REVIEW_REASONS, TRANSCRIBE_FROM_SCRATCH, Chunk
from .options import AnnotationOptions
from .routing import DRAFT, FROM_SCRATCH

NEEDS_REVIEW = "needs_review"
OK = "ok"
US_PER_SECOND = 1_000_000
SPEAKER_VALUES_FLOOR = 8  # SPEAKER_01..SPEAKER_08 are always values of the Speaker group
_DIARIZED = re.compile(r"SPEAKER_(\d+)")


def microseconds(seconds: float) -> int:
    """Seconds as integer microseconds, rounded half up (monotone: never reorders two times)."""
    return int(math.floor(seconds * US_PER_SECOND + 0.5))


def annotation_classes(options: AnnotationOptions, speakers: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The annotation class the JSON uses, with its attribute groups, for the uploader to create.

    Args:
        options: Class name, colour and group names.
        speakers: The speakers the run's chunks carry; none (a run without speakers) leaves the
            speaker group out.

    Returns:
        One class definition with keys `name`, `color`, `type` (`object`) and
        `attribute_groups` (each with `name`, `group_type` and `attributes`), the shape of
        SuperAnnotate's classes.json and of `create_annotation_class`'s arguments.
    """
    groups: list[dict[str, Any]] = [{"name": options.text_group, "group_type": "text", "attributes": []}]
    if options.review_group is not None:
        values = [{"name": NEEDS_REVIEW}, {"name": OK}]
        groups.append({"name": options.review_group, "group_type": "radio", "attributes": values})
    if options.reason_group is not None:
        values = [{"name": reason} for reason in REVIEW_REASONS]
        groups.append({"name": options.reason_group, "group_type": "checklist", "attributes": values})
    if options.doubtful_group is not None:
        groups.append({"name": options.doubtful_group, "group_type": "text", "attributes": []})
    names = speaker_values(speakers)
    if options.speaker_group is not None and names:
        attributes = [{"name": s} for s in names]
        groups.append({"name": options.speaker_group, "group_type": "radio", "attributes": attributes})
    return [{"name": options.class_name, "color": options.class_color, "type": "object", "attribute_groups": groups}]


def speaker_values(speakers: Iterable[str]) -> list[str]:
    """The Speaker group's values for a run's speakers; empty when it has none.

    Diarization names speakers SPEAKER_01, SPEAKER_02, ... per item, so every run's values are
    SPEAKER_01 to SPEAKER_08 at least (more when an item has more speakers): a project's class
    then fits later runs, and an annotator can give a chunk a speaker diarization did not find.
    Other names (speakers named by the user) are the values as found, sorted (digit runs as numbers).
    """
    found = {s for s in speakers if s}
    if not found:
        return []
    numbers = [int(m.group(1)) for s in found if (m := _DIARIZED.fullmatch(s))]
    if len(numbers) == len(found):
        found |= {f"SPEAKER_{n:02d}" for n in range(1, max(SPEAKER_VALUES_FLOOR, *numbers) + 1)}
    return sorted(found, key=_natural)


def _natural(name: str) -> list:
    """Sort key putting SPEAKER_9 before SPEAKER_10: the digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def sa_annotation(
    item: str, duration: float, chunks: list[Chunk], options: AnnotationOptions, route: str = DRAFT
) -> dict[str, Any]:
    """Builds the Video annotation of one item: one event per chunk.

    Args:
        item: The item's name in the project (`metadata.name`).
        duration: The audio's length in seconds.
        chunks: The item's chunks, ordered and within [0, duration].
        options: Class and attribute group names.
        route: `draft` (events with text), or `from_scratch` / `control` (events without text).

    Returns:
        The JSON-ready annotation.
    """
    return {
        "metadata": {"name": item, "duration": microseconds(duration)},
        "instances": [_event(chunk, options, route) for chunk in chunks],
        "tags": [],
    }


def _event(chunk: Chunk, options: AnnotationOptions, route: str) -> dict[str, Any]:
    start = microseconds(chunk.start)
    end = max(microseconds(chunk.end), start + 1)  # chunks last at least 1 ms; this only guards rounding
    attributes = _attributes(chunk, options) if route == DRAFT else _textless_attributes(route, chunk, options)
    # Separate copies: the SDK adds keys to the dicts it is given.
    stamps = [{"timestamp": t, "attributes": [dict(a) for a in attributes]} for t in (start, end)]
    return {
        "meta": {"type": "event", "className": options.class_name, "start": start, "end": end},
        "parameters": [{"start": start, "end": end, "timestamps": stamps}],
    }


def _attributes(chunk: Chunk, options: AnnotationOptions) -> list[dict[str, str]]:
    attributes = [{"groupName": options.text_group, "name": chunk.text}]
    if options.review_group is not None:
        attributes.append({"groupName": options.review_group, "name": NEEDS_REVIEW if chunk.needs_review else OK})
    if options.reason_group is not None:
        reasons = [r for r in chunk.review_reason.split(";") if r]
        attributes.extend({"groupName": options.reason_group, "name": r} for r in reasons)
    if options.doubtful_group is not None and chunk.doubtful_words:
        attributes.append({"groupName": options.doubtful_group, "name": doubtful_list(chunk)})
    return [*attributes, *_speaker(chunk, options)]


def _speaker(chunk: Chunk, options: AnnotationOptions) -> list[dict[str, str]]:
    """The chunk's speaker, when the run has speakers and the group is on."""
    if options.speaker_group is None or not chunk.speaker:
        return []
    return [{"groupName": options.speaker_group, "name": chunk.speaker}]


def _textless_attributes(route: str, chunk: Chunk, options: AnnotationOptions) -> list[dict[str, str]]:
    """An event the annotator types from scratch: no text, flagged, with the route as its reason."""
    attributes = _speaker(chunk, options)
    if options.review_group is not None:
        attributes.append({"groupName": options.review_group, "name": NEEDS_REVIEW})
    if options.reason_group is not None:
        reason = TRANSCRIBE_FROM_SCRATCH if route == FROM_SCRATCH else CONTROL
        attributes.append({"groupName": options.reason_group, "name": reason})
    return attributes


def doubtful_list(chunk: Chunk) -> str:
    """The Doubtful words value: `word (p=0.05), other (p=0.31)`, in the order they are spoken."""
    return ", ".join(f"{word} (p={probability:.2f})" for _, word, probability in chunk.doubtful_words)
