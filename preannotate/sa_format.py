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
"""

from __future__ import annotations

import math
from typing import Any

from .chunking import REVIEW_REASONS, Chunk
from .options import AnnotationOptions

NEEDS_REVIEW = "needs_review"
OK = "ok"
US_PER_SECOND = 1_000_000


def microseconds(seconds: float) -> int:
    """Seconds as integer microseconds, rounded half up (monotone: never reorders two times)."""
    return int(math.floor(seconds * US_PER_SECOND + 0.5))


def annotation_classes(options: AnnotationOptions) -> list[dict[str, Any]]:
    """The annotation class the JSON uses, with its attribute groups, for the uploader to create.

    Args:
        options: Class name, colour and group names.

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
    return [{"name": options.class_name, "color": options.class_color, "type": "object", "attribute_groups": groups}]


def sa_annotation(item: str, duration: float, chunks: list[Chunk], options: AnnotationOptions) -> dict[str, Any]:
    """Builds the Video annotation of one item: one event per chunk.

    Args:
        item: The item's name in the project (`metadata.name`).
        duration: The audio's length in seconds.
        chunks: The item's chunks, ordered and within [0, duration].
        options: Class and attribute group names.

    Returns:
        The JSON-ready annotation.
    """
    return {
        "metadata": {"name": item, "duration": microseconds(duration)},
        "instances": [_event(chunk, options) for chunk in chunks],
        "tags": [],
    }


def _event(chunk: Chunk, options: AnnotationOptions) -> dict[str, Any]:
    start = microseconds(chunk.start)
    end = max(microseconds(chunk.end), start + 1)  # chunks last at least 1 ms; this only guards rounding
    attributes = _attributes(chunk, options)
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
    return attributes
