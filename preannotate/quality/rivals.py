"""A language model's rival words: a heard word one sound away from a much likelier one (`lm_rival`).

Many errors a draft model is sure of are real words that sound almost like the right one: "the history of
riding" (writing), "the moat carried us" (boat). Whisper's decoder chose them, so its own probabilities
cannot see them; an n-gram model trained on other text can. This is the classic real-word error detection
(Mays, Damerau and Mercer, 1991): is there a word one phone away that makes the words around it much
likelier? The language model and dictionary are CMU's generic US English trigram model and pronouncing
dictionary, shipped in the pocketsphinx wheel (BSD). English only: the review models fitted with it are used
for English transcripts alone. tools/review_lm.py holds the rule that chose it, on held-out speech.
"""

from __future__ import annotations

import functools
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from ..chunking import Chunk
from ..errors import ModelError

log = logging.getLogger(__name__)

LOG_BASE = math.log(1.0001)  # pocketsphinx's log probabilities are in units of log(1.0001)
UNKNOWN = -(2**28)  # what the model gives a word outside its vocabulary (-536870912 at base 1.0001)
STRIP = '.,!?;:"()[]-…'  # a word's punctuation, as Whisper attaches it; apostrophes stay (beauty's)
FOLDER: Path | None = None  # where `shipped_rivals` loads from; None: pocketsphinx's own model folder


class Rivals:
    """CMU's trigram model and pronouncing dictionary, with each word's rivals one phone apart."""

    def __init__(self, folder: Path | None = None) -> None:
        """Loads the model and dictionary (about 0.5 s and 80 MB).

        Args:
            folder: A folder with `en-us.lm.bin` and `cmudict-en-us.dict`; None: pocketsphinx's own.

        Raises:
            ImportError: pocketsphinx is not installed.
            OSError: The dictionary cannot be read.
            ValueError: The language model cannot be read.
        """
        from pocketsphinx import NGramModel, get_model_path  # deferred: runs without English never load it

        folder = folder or Path(get_model_path()) / "en-us"
        self.lm = NGramModel.readfile(str(folder / "en-us.lm.bin"))
        self.prons: dict[str, list[tuple[str, ...]]] = {}
        self.words: dict[tuple[str, ...], list[str]] = {}
        for line in (folder / "cmudict-en-us.dict").read_text(encoding="utf-8").splitlines():
            head, *phones = line.split()
            word = head.split("(")[0]  # "word(2)" is the word's second pronunciation
            if self.logp(word, ()) is None:
                continue
            pron = tuple(sys.intern(p) for p in phones)  # 39 phones shared, not a string per sound: half the memory
            self.prons.setdefault(word, []).append(pron)
            self.words.setdefault(pron, []).append(word)
        self.phones = sorted({p for pron in self.words for p in pron})

    def logp(self, word: str, history: Sequence[str]) -> float | None:
        """Log P(word | its two previous words, the last one last); None for a word the model lacks."""
        score = self.lm.prob([word, *reversed(history[-2:])])  # pocketsphinx: the word, then its history backwards
        return None if score <= UNKNOWN else score * LOG_BASE

    @functools.cache  # noqa: B019 (one instance per process, kept for its life)
    def rivals(self, word: str) -> tuple[str, ...]:
        """The dictionary's words within one phone of one of `word`'s pronunciations (not `word`)."""
        found: set[str] = set()
        for pron in self.prons.get(word, ()):
            for i in range(len(pron) + 1):
                if i < len(pron):
                    found.update(self.words.get(pron[:i] + pron[i + 1 :], ()))
                for p in self.phones:
                    found.update(self.words.get(pron[:i] + (p,) + pron[i:], ()))
                    if i < len(pron):
                        found.update(self.words.get(pron[:i] + (p,) + pron[i + 1 :], ()))
        found.discard(word)
        return tuple(sorted(found))

    def around(self, words: Sequence[str], i: int, word: str) -> float:
        """Log P of `word` at position i and of the two words after it, each given its two previous words."""
        seq = [*words[:i], word, *words[i + 1 :]]
        total = 0.0
        for j in range(i, min(i + 3, len(seq))):
            score = self.logp(seq[j], seq[max(j - 2, 0) : j])
            total += 0.0 if score is None else score  # an unknown neighbour weighs the same for every rival
        return total

    def gains(self, words: Sequence[str]) -> list[float | None]:
        """Each word's gain: its best rival's log probability of the words around it minus its own (>= 0).

        Args:
            words: Normalized words (`normalized`), in order: the context is these words alone.

        Returns:
            One gain per word in nats; None for a word the model or the dictionary does not know.
        """
        out: list[float | None] = []
        for i, word in enumerate(words):
            if word not in self.prons:
                out.append(None)
                continue
            own = self.around(words, i, word)
            out.append(max([0.0, *(self.around(words, i, r) - own for r in self.rivals(word))]))
        return out


@functools.cache
def shipped_rivals() -> Rivals | None:
    """CMU's model and dictionary from the installed pocketsphinx, loaded once per process.

    Returns:
        The loaded rivals; None, with a warning, when they cannot be loaded (English drafts are then assessed
        by the review model without them).
    """
    try:
        return Rivals(FOLDER)
    except (ImportError, OSError, ValueError) as e:
        log.warning("the language model of the English review flags cannot be loaded (%s): English drafts without"
                    " a check are assessed by the review model without it", e)  # fmt: skip
        return None


def normalized(chunk: Chunk) -> list[str]:
    """The chunk's words as the dictionary spells them: lower case, outer punctuation off."""
    return [w.word.strip().lower().strip(STRIP) for w in chunk.words]


def lm_rival(chunk: Chunk, rivals: Rivals | None = None) -> float:
    """The chunk's highest rival gain (`Rivals.gains`), in nats; 0 when no known word has a likelier rival.

    Raises:
        ModelError: `rivals` is None and the shipped model cannot be loaded (`shipped_rivals`).
    """
    rivals = rivals or shipped_rivals()
    if rivals is None:
        raise ModelError("the language model of the English review flags cannot be loaded (see the warning)")
    gains = rivals.gains(normalized(chunk))
    return max([0.0, *(g for g in gains if g is not None)])
