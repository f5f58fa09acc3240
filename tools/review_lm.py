"""A language model's rival words: confident errors that sound like a likelier word (tools/review_variants.py).

Most of the errors the flags still miss are real words the draft model is sure of that sound almost like
the reference's word: "the history of riding" (writing), "a spoon on fresh cream" (of), "the moat carried
us" (boat). Whisper's own decoder chose them, so its probabilities cannot see them. An n-gram language model
trained on other text can: the classic real-word error detection (Mays, Damerau and Mercer, 1991) asks
whether a word one sound away from the heard one makes the sentence much likelier.

`lm_rival`, of one chunk: for each of its words that both CMU's pronouncing dictionary and CMU's generic
US English trigram model know (both ship in the pocketsphinx wheel on PyPI, BSD), the rivals are the
dictionary's other words within one phone substitution, insertion or deletion of one of its
pronunciations (homophones too); a word's gain is the highest rival's log probability of the chunk's words
around it, the word and the next two given their two previous words, minus the word's own, in nats (0 if
no rival does better). The feature is the chunk's highest gain. Only the chunk's words are its context.
`lm_surprise` (reported, chooses nothing): the chunk's highest -log P(word | two previous words).

Decision rule, fixed on 2026-12-03 before either feature was computed on any speech:
A. The variant `lm` (review_model_slowed.json's recipe, SLOWED_FEATURES, plus `lm_rival`, fitted on both
   models' checked training rows) replaces the shipped model for checked drafts only if, against the
   slowed recipe refitted on the same rows in the same run,
   1. on the pooled held-out espeak-ng splits base's AUC is higher by at least 0.010, and tiny.en's lower
      by at most 0.005;
   2. on the same rows both models keep recall >= 0.8 at precision >= 0.6;
   3. on the held-out flite and festival voices base's AUC is lower by at most 0.005.
B. The variant `plain lm` (review_model.json's recipe, MODEL_FEATURES, plus `lm_rival`, fitted on both
   models' training rows) replaces the shipped model for unchecked drafts (tiny.en's under `auto`) only if,
   against that recipe refitted on the same rows in the same run,
   1. held out, tiny.en's AUC is higher by at least 0.010, and base's lower by at most 0.005;
   2. held out, each model that meets recall >= 0.8 at precision >= 0.6 with the refitted recipe keeps it;
   3. on the held-out voices tiny.en's AUC is lower by at most 0.005.
A and B are decided apart. A model with `lm_rival` is used for English transcripts only (the others keep
the model without it). The benchmark set's and real speech's figures are reported and choose nothing.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

from pocketsphinx import NGramModel, get_model_path

from preannotate.chunking import Chunk

MODEL = Path(get_model_path()) / "en-us"
LOG_BASE = math.log(1.0001)  # pocketsphinx's log probabilities are in units of log(1.0001)
UNKNOWN = -(2**28)  # what the model gives a word outside its vocabulary (-536870912 at base 1.0001)
STRIP = '.,!?;:"()[]-…'


class Rivals:
    """CMU's trigram model and pronouncing dictionary, with each word's rivals one phone apart."""

    def __init__(self, folder: Path = MODEL) -> None:
        self.lm = NGramModel.readfile(str(folder / "en-us.lm.bin"))
        self.prons: dict[str, list[tuple[str, ...]]] = {}
        self.words: dict[tuple[str, ...], set[str]] = {}
        for line in (folder / "cmudict-en-us.dict").read_text(encoding="utf-8").splitlines():
            head, *phones = line.split()
            word = head.split("(")[0]
            if self.logp(word, ()) is None:
                continue
            self.prons.setdefault(word, []).append(tuple(phones))
            self.words.setdefault(tuple(phones), set()).add(word)
        self.phones = sorted({p for pron in self.words for p in pron})

    def logp(self, word: str, history: tuple[str, ...]) -> float | None:
        """Log P(word | history, the last word last); None for a word the model does not know."""
        score = self.lm.prob([word, *reversed(history[-2:])])
        return None if score <= UNKNOWN else score * LOG_BASE

    @functools.cache  # noqa: B019 (one instance per process, kept for its life)
    def rivals(self, word: str) -> tuple[str, ...]:
        """The dictionary's words within one phone of one of `word`'s pronunciations (not `word`)."""
        found: set[str] = set()
        for pron in self.prons.get(word, ()):
            for i in range(len(pron) + 1):
                found |= self.words.get(pron[:i] + pron[i + 1 :], set()) if i < len(pron) else set()
                for p in self.phones:
                    found |= self.words.get(pron[:i] + (p,) + pron[i:], set())
                    if i < len(pron):
                        found |= self.words.get(pron[:i] + (p,) + pron[i + 1 :], set())
        found.discard(word)
        return tuple(sorted(found))

    def around(self, words: list[str], i: int, word: str) -> float:
        """Log P of `word` at position i and of the two words after it, each given its two previous words."""
        seq = [*words[:i], word, *words[i + 1 :]]
        total = 0.0
        for j in range(i, min(i + 3, len(seq))):
            score = self.logp(seq[j], tuple(seq[max(j - 2, 0) : j]))
            total += 0.0 if score is None else score  # an unknown neighbour weighs the same for every rival
        return total

    def features(self, chunk: Chunk) -> dict[str, float]:
        """`lm_rival` and `lm_surprise` of a chunk (module docstring)."""
        words = [w.word.strip().lower().strip(STRIP) for w in chunk.words]
        gain, surprise = 0.0, 0.0
        for i, word in enumerate(words):
            own = self.logp(word, tuple(words[max(i - 2, 0) : i])) if word in self.prons else None
            if own is None:
                continue
            surprise = max(surprise, -own)
            base = self.around(words, i, word)
            gain = max([gain, *(self.around(words, i, r) - base for r in self.rivals(word))])
        return {"lm_rival": gain, "lm_surprise": surprise}
