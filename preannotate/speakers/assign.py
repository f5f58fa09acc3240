"""Word → speaker: WhisperX's `assign_word_speakers` rule, applied to every word on its own.

A word gets the speaker whose turns overlap it longest (overlaps of several turns of one speaker add up,
as in WhisperX). A word that overlaps no turn (diarization's voice detection often trims word edges and
short words) gets the speaker of the nearest turn, as WhisperX does with `fill_nearest=True`: a word is
always attributed to someone while any turn exists. Ties go to the speaker whose turn starts first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from preannotate.turns import Turn


class Timed(Protocol):
    """Anything with a start and an end in seconds (a Word, a Segment)."""

    start: float
    end: float


def speaker_of(start: float, end: float, turns: Sequence[Turn]) -> str | None:
    """The speaker of the interval [start, end] among `turns` (None when there are no turns)."""
    if not turns:
        return None
    overlap: dict[str, float] = {}
    for turn in sorted(turns, key=lambda t: t.start):
        shared = min(end, turn.end) - max(start, turn.start)
        if shared > 0:
            overlap[turn.speaker] = overlap.get(turn.speaker, 0.0) + shared
    if overlap:
        return max(overlap, key=lambda s: overlap[s])  # max keeps the first of equals
    return min(turns, key=lambda t: (_gap(start, end, t), t.start)).speaker


def _gap(start: float, end: float, turn: Turn) -> float:
    """Seconds between an interval and a turn that do not overlap (0 when they touch)."""
    return max(turn.start - end, start - turn.end, 0.0)


def assign_speakers(items: Sequence[Timed], turns: Sequence[Turn]) -> list[str | None]:
    """The speaker of each word (or segment), in order; all None when there are no turns."""
    ordered = sorted(turns, key=lambda t: t.start)
    return [speaker_of(item.start, item.end, ordered) for item in items]
