"""Matching corrected events to the draft chunks they came from.

Pure functions. A draft chunk and a corrected event are linked when their overlap covers at
least `min_overlap` of the shorter of the two; linked chunks and events form groups (the
connected components of those links), and a group's shape says what the annotator did:

    matched    1 chunk  -> 1 event   (text edited, boundaries moved, or untouched)
    split      1 chunk  -> n events
    merged     n chunks -> 1 event
    regrouped  n chunks -> m events  (a stretch re-segmented)
    deleted    1 chunk  -> nothing
    added      nothing  -> 1 event
    moved      1 chunk  -> 1 event with the same text but too little overlap to link by time

Why the share of the shorter span: a split keeps each piece almost wholly inside its chunk
and a merge keeps each chunk inside the new event, so both link fully, while the sliver a
moved boundary pushes into a neighbour stays below the share and links nothing.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .events import Event

MATCHED, SPLIT, MERGED, REGROUPED = "matched", "split", "merged", "regrouped"
DELETED, ADDED, MOVED = "deleted", "added", "moved"
KINDS = (MATCHED, SPLIT, MERGED, REGROUPED, DELETED, ADDED, MOVED)


@dataclass(frozen=True)
class Group:
    """Draft chunks and corrected events that belong together.

    Attributes:
        kind: One of KINDS.
        draft: The draft chunks, in time order (empty for `added`).
        corrected: The corrected events, in time order (empty for `deleted`).
    """

    kind: str
    draft: tuple[Event, ...]
    corrected: tuple[Event, ...]

    @property
    def start_us(self) -> int:
        """The earliest start of any member."""
        return min(e.start_us for e in (*self.draft, *self.corrected))


def default_key(text: str) -> str:
    """Case- and spacing-insensitive text, for pairing moved chunks when no normalizer is given."""
    return " ".join(text.casefold().split())


def align(
    draft: Sequence[Event],
    corrected: Sequence[Event],
    min_overlap: float = 0.5,
    key: Callable[[str], str] = default_key,
) -> list[Group]:
    """Groups draft chunks with the corrected events they became.

    Args:
        draft: The uploaded chunks of one item.
        corrected: The item's events after correction.
        min_overlap: Share of the shorter span an overlap must cover to link two spans, in (0, 1].
        key: Text normalizer; a chunk and an event left unlinked by time but with equal non-empty
            keys are paired as `moved`.

    Returns:
        Every chunk and every event in exactly one group, groups ordered by their earliest start.
    """
    n = len(draft)
    parent = list(range(n + len(corrected)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in overlapping_pairs(draft, corrected, min_overlap):
        parent[root(i)] = root(n + j)
    members: dict[int, tuple[list[Event], list[Event]]] = {}
    for i, chunk in enumerate(draft):
        members.setdefault(root(i), ([], []))[0].append(chunk)
    for j, event in enumerate(corrected):
        members.setdefault(root(n + j), ([], []))[1].append(event)
    groups = [_group(d, c) for d, c in members.values()]
    return sorted(_pair_moved(groups, key), key=lambda g: (g.start_us, g.kind))


def overlapping_pairs(draft: Sequence[Event], corrected: Sequence[Event], min_overlap: float) -> list[tuple[int, int]]:
    """Indices (draft, corrected) of the spans whose overlap links them (see the module docs)."""
    order = sorted(range(len(corrected)), key=lambda j: corrected[j].start_us)
    starts = [corrected[j].start_us for j in order]
    longest = max((e.end_us - e.start_us for e in corrected), default=0)
    pairs = []
    for i, d in enumerate(draft):
        # Only events starting within `longest` before the chunk can reach into it.
        lo = bisect.bisect_right(starts, d.start_us - longest - 1)
        hi = bisect.bisect_left(starts, d.end_us)
        for j in order[lo:hi]:
            c = corrected[j]
            overlap = min(d.end_us, c.end_us) - max(d.start_us, c.start_us)
            shorter = min(d.end_us - d.start_us, c.end_us - c.start_us)
            if overlap > 0 and overlap >= min_overlap * shorter:
                pairs.append((i, j))
    return pairs


def _group(draft: list[Event], corrected: list[Event]) -> Group:
    d, c = tuple(sorted(draft, key=_when)), tuple(sorted(corrected, key=_when))
    if not c:
        kind = DELETED
    elif not d:
        kind = ADDED
    elif len(d) == 1:
        kind = MATCHED if len(c) == 1 else SPLIT
    else:
        kind = MERGED if len(c) == 1 else REGROUPED
    return Group(kind, d, c)


def _pair_moved(groups: list[Group], key: Callable[[str], str]) -> list[Group]:
    """Pairs deleted chunks with added events of the same text, nearest in time first."""
    deleted = [g for g in groups if g.kind == DELETED and key(g.draft[0].text)]
    added = [g for g in groups if g.kind == ADDED and key(g.corrected[0].text)]
    candidates = sorted(
        (abs(d.draft[0].start_us - a.corrected[0].start_us), n, m)
        for n, d in enumerate(deleted)
        for m, a in enumerate(added)
        if key(d.draft[0].text) == key(a.corrected[0].text)
    )
    used_d, used_a, moved = set(), set(), []
    for _, n, m in candidates:
        if n not in used_d and m not in used_a:
            used_d.add(n)
            used_a.add(m)
            moved.append(Group(MOVED, deleted[n].draft, added[m].corrected))
    gone = {id(deleted[n]) for n in used_d} | {id(added[m]) for m in used_a}
    return [g for g in groups if id(g) not in gone] + moved


def _when(event: Event) -> tuple[int, int]:
    return event.start_us, event.end_us
