"""Timing repairs for chunking: consistent unit times, Whisper's stretched words, chunk spans.

Everything here works on `Unit`s, the pieces chunks are made of (a word, a
segment, or a piece of a segment's text), and returns new values: nothing is
changed in place.
"""

from __future__ import annotations

import bisect
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .errors import ChunkingError
from .results import Segment, Word

# Sentence-final punctuation of many scripts, and what may close a sentence after it.
SENTENCE_ENDS = frozenset(".?!…。！？؟।॥։჻።፧።᙮᠃᠉⳹⳾⸮꓿꘎꘏꛳꛷︒﹒﹖﹗．｡")
CLAUSE_ENDS = frozenset(",;:，、；：،؛—–")
CLOSERS = "\"'”’»)]}」』》）"

MIN_CHUNK_DURATION = 0.02  # seconds: one Whisper frame; a shorter chunk is widened into silence when there is room
MIN_POSITIVE = 0.001  # seconds: a chunk that cannot get this long is merged into a neighbour
MIN_WORD_CAP = 0.2  # seconds: no word is cut shorter than this
MIN_RATE_WORDS = 5  # fewer timed words give no reliable speaking rate: their times are kept
EDGE_GAP = 0.1  # seconds: a silence at least this long next to a word makes the word an edge word

_LETTERS = re.compile(r"\w")


@dataclass(frozen=True)
class Unit:
    """An indivisible piece of a chunk.

    Attributes:
        text: The text with its leading separator (Whisper's words start with a space).
        start: Start in seconds.
        end: End in seconds.
        segment: Index of the transcript segment it comes from.
        words: The model's words it carries (unchanged), empty for a segment without words.
    """

    text: str
    start: float
    end: float
    segment: int
    words: tuple[Word, ...] = ()


class Spans:
    """Other speakers' speech (their words; a segment's span where it has none), to find turn changes fast."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        spans = sorted(
            (w.start, w.end)
            for s in segments
            for w in (s.words or [Word(s.text, s.start, s.end, 0.0)])
            if w.word.strip()
        )
        self.starts = [start for start, _ in spans]
        self.ends = [end for _, end in spans]

    def inside(self, start: float, end: float) -> bool:
        """True when some span lies wholly within [start, end] (someone else spoke in this pause)."""
        first, last = bisect.bisect_left(self.starts, start), bisect.bisect_right(self.starts, end)
        return any(self.ends[k] <= end for k in range(first, last))


def ends_sentence(text: str) -> bool:
    """True when a text ends with sentence-final punctuation (closing quotes or brackets allowed after it)."""
    stripped = text.rstrip().rstrip(CLOSERS)
    return bool(stripped) and stripped[-1] in SENTENCE_ENDS


def ends_clause(text: str) -> bool:
    """True when a text ends with a comma, semicolon, colon or dash of any script."""
    stripped = text.rstrip().rstrip(CLOSERS)
    return bool(stripped) and stripped[-1] in CLAUSE_ENDS


def sanitize(units: Sequence[Unit], duration: float) -> list[Unit]:
    """Clamps units into [0, duration] and makes them ordered and non-overlapping.

    Starts are made non-decreasing; where a unit runs past the next one's start,
    its end is cut there (rather than pushing the next one later, which would
    move every following unit).
    """
    out: list[Unit] = []
    previous_start = 0.0
    for unit in units:
        start = min(max(unit.start, previous_start, 0.0), duration)
        end = min(max(unit.end, start), duration)
        out.append(replace(unit, start=start, end=end))
        previous_start = start
    for k in range(len(out) - 1):
        if out[k].end > out[k + 1].start:
            out[k] = replace(out[k], end=out[k + 1].start)
    return out


def trim_stretched(units: Sequence[Unit], stretch: float | None) -> list[Unit]:
    """Cuts words that Whisper stretched over an adjacent silence.

    Whisper's alignment gives a pause to the word next to it: the last word of a
    sentence often ends seconds into the silence and the first word after a pause
    starts well before the speech. A word longer than `stretch` times its
    expected length (letters times the file's median seconds per letter, at
    least MIN_WORD_CAP) is cut on the side facing the pause: the start of a word
    that opens a segment, a sentence or follows a silence; the end of one that
    closes them, or a clause (a comma: speakers pause there too); both halves
    equally for a word that does both.
    """
    rate = _seconds_per_letter(units)
    if stretch is None or rate is None:
        return list(units)
    out = list(units)
    for k, unit in enumerate(units):
        cap = max(MIN_WORD_CAP, stretch * rate * _letters(unit.text))
        if unit.end - unit.start <= cap:
            continue
        opens = _opens(units, k)
        closes = _closes(units, k)
        if opens and not closes:
            out[k] = replace(unit, start=unit.end - cap)
        elif opens and closes:
            middle = (unit.start + unit.end) / 2
            out[k] = replace(unit, start=middle - cap / 2, end=middle + cap / 2)
        else:
            out[k] = replace(unit, end=unit.start + cap)
    return out


def _letters(text: str) -> int:
    return max(1, len(_LETTERS.findall(text)))


def _seconds_per_letter(units: Sequence[Unit]) -> float | None:
    rates = [(u.end - u.start) / _letters(u.text) for u in units if u.end > u.start]
    return statistics.median(rates) if len(rates) >= MIN_RATE_WORDS else None


def _opens(units: Sequence[Unit], k: int) -> bool:
    if k == 0:
        return True
    before = units[k - 1]
    return before.segment != units[k].segment or ends_sentence(before.text) or units[k].start - before.end >= EDGE_GAP


def _closes(units: Sequence[Unit], k: int) -> bool:
    if k == len(units) - 1:
        return True
    after = units[k + 1]
    text = units[k].text
    return (
        after.segment != units[k].segment
        or ends_sentence(text)
        or ends_clause(text)
        or after.start - units[k].end >= EDGE_GAP
    )


def place(
    groups: Sequence[Sequence[Unit]], duration: float, before: float = 0.0, after: float = 0.0
) -> list[tuple[list[Unit], float, float]]:
    """Gives each group of sanitized units its span, padded into silence, every span at least MIN_POSITIVE long.

    Padding takes at most `before` seconds before a span and `after` seconds after
    it, never more than half the silence to a neighbour, never outside [0, duration].

    A group that cannot get a positive span (words with equal timestamps at a
    boundary) is merged into its neighbour, which keeps every word in order.

    Raises:
        ChunkingError: The file is too short to hold any chunk.
    """
    merged = [list(g) for g in groups if g]
    spans = [[g[0].start, max(u.end for u in g)] for g in merged]
    for k in range(1, len(spans)):  # units are sanitized, so this only guards against misuse
        spans[k][0] = max(spans[k][0], spans[k - 1][1])
        spans[k][1] = max(spans[k][1], spans[k][0])
    spans = _pad(spans, duration, before, after)
    k = 0
    while k < len(spans):
        low = spans[k - 1][1] if k else 0.0
        high = spans[k + 1][0] if k + 1 < len(spans) else duration
        start, end = spans[k]
        end = min(max(end, start + MIN_CHUNK_DURATION), high)
        start = max(min(start, end - MIN_CHUNK_DURATION), low)
        if end - start >= MIN_POSITIVE:
            spans[k] = [start, end]
            k += 1
        elif len(spans) == 1:
            raise ChunkingError(f"a file of {duration:.3f} s is too short to hold a chunk")
        else:
            other = k - 1 if k else k + 1
            first, second = min(k, other), max(k, other)
            merged[first : second + 1] = [merged[first] + merged[second]]
            spans[first : second + 1] = [[spans[first][0], max(spans[first][1], spans[second][1])]]
            k = max(first - 1, 0)
    return [(g, s, e) for g, (s, e) in zip(merged, spans)]


def _pad(spans: list[list[float]], duration: float, before: float, after: float) -> list[list[float]]:
    out = []
    for k, (start, end) in enumerate(spans):
        room_before = start - spans[k - 1][1] if k else 2 * start  # halved below: the file has no neighbour
        room_after = spans[k + 1][0] - end if k + 1 < len(spans) else 2 * (duration - end)
        out.append([start - min(before, max(room_before, 0) / 2), end + min(after, max(room_after, 0) / 2)])
    return out
