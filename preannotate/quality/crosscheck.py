"""A second model's words against the draft's: which words of a chunk another Whisper model heard otherwise.

A word the draft model is sure of can still be wrong: near-homophones ("riding" for "writing"), a
plural, a preposition. A second, different model often hears those differently, so the words it does
not confirm are a signal of doubt that the draft's own probabilities lack. Pure functions: the check's
words are stored per item by the run's `check` stage (`preannotate.run.check`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from ..chunking import Chunk

_NOT_WORD = re.compile(r"[^\w']+")


class CheckWord(NamedTuple):
    """One word of the check model's transcript, with its time in the file."""

    start: float
    end: float
    word: str


def normalized_words(text: str) -> list[str]:
    """Lower-case words without punctuation: what two models' texts are compared on.

    Deliberately light (no spelling of numbers, no British/American spellings): it must run for
    every chunk of every run without importing openai-whisper's normalizer.
    """
    return [w.strip("'") for w in _NOT_WORD.sub(" ", text.lower()).split() if w.strip("'")]


class Unconfirmed(NamedTuple):
    """What a check says about one chunk.

    Attributes:
        number: Normalized words of the chunk's text the check does not confirm (the review model's feature).
        words: Indices into `chunk.words` of the words holding them (empty for a chunk without words).
    """

    number: int
    words: frozenset[int]


def unconfirmed(chunk: Chunk, check: Sequence[CheckWord]) -> Unconfirmed:
    """The chunk's words that the check model's words over the same time do not confirm.

    The check's words that overlap the chunk's span are aligned with the chunk's words (jiwer);
    every chunk word that is not matched equal counts (substituted or inserted by the draft, as the
    check heard it). Overlap, not the word's middle: Whisper stretches the last word before a pause
    into the pause, so the check's last word often ends well after the draft's chunk and would go
    unheard; a neighbouring chunk's word taken in is only an insertion in the alignment.

    Args:
        chunk: A chunk of the draft.
        check: The check model's words for the whole file, in time order.

    Returns:
        How many normalized words are unconfirmed, and which of the chunk's words hold them.
    """
    import jiwer  # only runs with a check model import it

    tokens = _tokens(chunk)
    if not tokens:
        return Unconfirmed(0, frozenset())
    heard = normalized_words(" ".join(w.word for w in check if overlaps(w, chunk.start, chunk.end)))
    confirmed: set[int] = set()
    if heard:
        alignment = jiwer.process_words(" ".join(t for t, _ in tokens), " ".join(heard)).alignments[0]
        for step in alignment:
            if step.type == "equal":
                confirmed.update(range(step.ref_start_idx, step.ref_end_idx))
    missed = [k for k in range(len(tokens)) if k not in confirmed]
    return Unconfirmed(len(missed), frozenset(i for k in missed if (i := tokens[k][1]) is not None))


def unconfirmed_words(chunk: Chunk, check: Sequence[CheckWord]) -> int:
    """How many of the chunk's normalized words the check does not confirm (`unconfirmed(...).number`)."""
    return unconfirmed(chunk, check).number


def overlaps(word: CheckWord, start: float, end: float) -> bool:
    """Whether a check word overlaps [start, end] (a zero-length word: lies inside it)."""
    return word.start < end and word.end > start or start <= word.start <= end


def _tokens(chunk: Chunk) -> list[tuple[str, int | None]]:
    """The chunk's normalized words, each with the index of the word it comes from (None without words)."""
    if chunk.words:
        return [(t, i) for i, w in enumerate(chunk.words) for t in normalized_words(w.word)]
    return [(t, None) for t in normalized_words(chunk.text)]
