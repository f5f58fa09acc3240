"""A chunk of timed words and a check model's words over the same span, for the check's tests."""

from __future__ import annotations

from preannotate.chunking import Chunk
from preannotate.quality.crosscheck import CheckWord
from preannotate.results import Word

WORDS = ("Welcome", "to", "the", "history", "of", "writing.")


def chunk(words: tuple[str, ...] = WORDS, probability: float = 0.97, start: float = 10.0) -> Chunk:
    """A chunk of `words`, 0.4 s apart from `start`, each at `probability`."""
    timed = tuple(Word(f" {w}", start + i * 0.4, start + i * 0.4 + 0.3, probability) for i, w in enumerate(words))
    return Chunk(0, start - 0.2, timed[-1].end + 0.2, " ".join(words), timed, avg_logprob=-0.15)


def heard(words: tuple[str, ...], start: float = 10.0) -> list[CheckWord]:
    """A check's `words` at nearly the times `chunk` gives them."""
    return [CheckWord(start + i * 0.4 + 0.02, start + i * 0.4 + 0.3, f" {w}") for i, w in enumerate(words)]
