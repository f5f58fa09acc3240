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

Outcome (2026-12-03, `tools/review_variants.py --lm`, AUC to 5 places):
A fails condition 1: held-out base AUC 0.90376 against 0.89709 (+0.0067, short of +0.010); not shipped.
B holds all three: held-out tiny.en AUC 0.95383 against 0.94352 (+0.0103), base 0.89244 against 0.89642
(-0.0040); held out tiny.en 0.993 at 0.909 and base 0.965 at 0.843 (both met with the recipe too); tiny.en
on the held-out voices 0.96329 against 0.94064. So `review_model_english.json` ships (preannotate/quality/
rivals.py; docs/review-flags.md).
"""

from __future__ import annotations

from review_checked import section_text

from preannotate.chunking import Chunk
from preannotate.quality.rivals import Rivals, lm_rival, normalized

ENGLISH_DATA = "review_model.json's rows with lm_rival (tools/review_lm.py)"


class ChunkRivals:
    """`lm_rival` and `lm_surprise` of chunks, with one loaded model (preannotate.quality.rivals)."""

    def __init__(self) -> None:
        self.rivals = Rivals()

    def features(self, chunk: Chunk) -> dict[str, float]:
        """The chunk's `lm_rival` and `lm_surprise` (module docstring)."""
        words = normalized(chunk)
        surprise = [-s for i, w in enumerate(words) if w in self.rivals.prons
                    and (s := self.rivals.logp(w, words[max(i - 2, 0) : i])) is not None]  # fmt: skip
        return {"lm_rival": lm_rival(chunk, self.rivals), "lm_surprise": max([0.0, *surprise])}


def rival_records(records: dict, rivals: Rivals | None = None) -> dict:
    """The chunk records (`fit_review_model.collect`) with `lm_rival` in their features (one model loaded).

    `rivals`: a loaded model to use; None loads one.
    """
    rivals = rivals or Rivals()
    return {
        key: [{**r, "features": {**r["features"], "lm_rival": lm_rival(r["chunk"], rivals)}} for r in rows]
        for key, rows in records.items()
    }


def english_note(model) -> str:
    """The note's section on the model for English drafts without a check, from its provenance."""
    return section_text(model, [
        "## The model for English drafts without a check (`review_model_english.json`)",
        "review_model.json's rows and features with one more, `lm_rival`: the highest gain, in nats, that a word",
        "one phone away from one of the chunk's words brings to the log probability of the words around it under",
        "CMU's US English trigram model (`preannotate/quality/rivals.py`; the model and dictionary ship in the",
        "pocketsphinx wheel). Used for English transcripts without a check (tiny.en's drafts under",
        "`annotation.cross_check: auto`); other languages keep theirs. tools/review_lm.py's rule B",
        "chose it on held-out speech only.",
    ])  # fmt: skip
