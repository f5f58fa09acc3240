"""Which items annotators get as drafts, and which they transcribe from scratch.

Editing a draft only beats typing below about 30% WER (Gaur et al., W4A 2016, 160
workers), so an item whose predicted WER is above `annotation.draft_max_wer` is uploaded
with its chunk boundaries but no text (`from_scratch`). A control arm of
`superannotate.control_share` of the items gets the same text-less form (`control`), so
a team can measure what typing really costs next to editing.

The control draw is a seeded hash of the item's name alone: the same items are chosen in
every run, adding files never moves another item between arms, and a model refit that
moves an item to another WER band does not either. Being independent of the band and the
language, the draw takes the same share of every (band, language) stratum in expectation;
`strata` counts each stratum's items and control items for run.json, to check the balance.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

DRAFT = "draft"
FROM_SCRATCH = "from_scratch"
CONTROL = "control"
ROUTES = (DRAFT, FROM_SCRATCH, CONTROL)
# Upper edges of the predicted-WER bands the control arm is balanced over and reported by.
WER_BANDS = (0.1, 0.2, 0.3, 0.5)


def route_item(
    item: str, predicted_wer: float | None, draft_max_wer: float | None, control_share: float, seed: int
) -> str:
    """The route of one item.

    Args:
        item: The item's name (unique in the run and the project).
        predicted_wer: The item's predicted WER; None (no speech, no model) is never routed away.
        draft_max_wer: Above this the item is transcribed from scratch; None never.
        control_share: Share of items in the control arm.
        seed: Seed of the control draw.

    Returns:
        `control` when the item is drawn for the control arm (whatever its WER, so the arm covers
        every band), else `from_scratch` above `draft_max_wer`, else `draft`.
    """
    if predicted_wer is None:  # nothing to type: an item without speech would only dilute the arms
        return DRAFT
    if control_share > 0 and control_draw(item, seed) < control_share:
        return CONTROL
    if draft_max_wer is not None and predicted_wer > draft_max_wer:
        return FROM_SCRATCH
    return DRAFT


def control_draw(item: str, seed: int) -> float:
    """A uniform number in [0, 1) fixed by the seed and the item's name (SHA-256, not Python's salted hash)."""
    digest = hashlib.sha256(f"{seed}\0{item}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def wer_band(predicted_wer: float | None) -> str:
    """The band label of a predicted WER, for example `0.1-0.2`; `none` without a prediction."""
    if predicted_wer is None:
        return "none"
    low = 0.0
    for high in WER_BANDS:
        if predicted_wer <= high:
            return f"{low:g}-{high:g}"
        low = high
    return f"{low:g}-1"


def route_counts(routes: Iterable[str | None]) -> dict[str, int]:
    """Items per route, every route listed (0 when none)."""
    found = list(routes)
    return {route: found.count(route) for route in ROUTES}


def strata(rows: Sequence[tuple[str | None, float | None, str | None]]) -> dict[str, dict[str, int]]:
    """Per `language|band` stratum: its items and how many are in the control arm.

    Args:
        rows: (language, predicted WER, route) of each routed item.
    """
    counts: dict[str, dict[str, int]] = {}
    for language, wer, route in rows:
        key = f"{language or 'unknown'}|{wer_band(wer)}"
        stratum = counts.setdefault(key, {"items": 0, "control": 0})
        stratum["items"] += 1
        stratum["control"] += route == CONTROL
    return dict(sorted(counts.items()))
