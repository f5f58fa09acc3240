"""Whether the words a language model finds a likelier rival for are listed among the doubtful words.

`lm_rival` (preannotate/quality/rivals.py) already raises a chunk's predicted WER; the annotator is also shown
which words to look at (`doubtful_words`: those under the word threshold, and the check's words heard
otherwise). A word one phone away from a far likelier word ("moat" where "boat" fits) is such a word too,
and the draft model's probability for it is often high.

The gain threshold G is set on the training splits' words alone (both models' drafts, the review model's
word threshold, 0.67, and `Rivals.gains` with the chunk's words as context, as a run computes it): the
smallest G, in steps of 0.25 nats, at which the training words above the word threshold whose gain is at
least G are wrong at least half the time, over at least 20 such words (a listed word is then at least as
often wrong as right). No such G: nothing is listed, and the rule below fails.

Decision rule, fixed on 2026-12-03 before any word's gain was computed on any speech:
U. English drafts without a check list the words with gain >= G too (beside those under the word threshold)
   only if, on the held-out splits' words of each model (tiny.en and base, each alone), the listing's recall
   of the wrong words rises by at least 0.03 and its precision falls by at most 0.02.
C. Checked drafts list them too only if, on the same words with each model's draft checked by the other
   model's run (as fitted), the listing of either kind now (under the threshold or heard otherwise) gains
   recall by at least 0.03 with precision lower by at most 0.02, for each model.
U and C are decided apart. The benchmark set's and real speech's words are reported and choose nothing.

Outcome (2026-12-03): both fail, so nothing more is listed. G = 5.75 nats (18,379 training words above the
threshold); held out, U: tiny.en recall 0.728 -> 0.734 at precision 0.579 -> 0.578, base 0.729 -> 0.740 at
0.565 -> 0.563; C: tiny.en 0.925 -> 0.927 at 0.586 -> 0.584, base 0.916 -> 0.916 at 0.506 -> 0.504. Words
whose rival is that much likelier are few (21 and 29 more listed), and the chunk's flag already reads them.

    .venv/bin/python tools/review_lm_words.py     # needs tools/fit_review_model.py's runs; about a minute
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

import fit_review_model as F  # noqa: E402
from review_checked import checked_words  # noqa: E402

from preannotate.quality.evaluate import flag_metrics  # noqa: E402
from preannotate.quality.model import default_model  # noqa: E402
from preannotate.quality.rivals import Rivals, normalized  # noqa: E402

STEP = 0.25  # nats between the candidate thresholds
MIN_WORDS = 20  # training words listed at G, at least
RECALL_GAIN, PRECISION_LOSS = 0.03, 0.02  # the rule's margins


def word_rows(records: list[dict], rivals: Rivals, runs: Path, word_threshold: float) -> list[dict]:
    """Every word of the records' chunks: wrong, under the threshold, heard otherwise by the check, its gain."""
    rows, gains = [], {}
    for r, i, word, heard in checked_words(records, runs):
        gain = gains.setdefault(id(r), rivals.gains(normalized(r["chunk"])))[i]
        rows.append({
            "wrong": i in r["wrong"], "low": word.probability < word_threshold, "heard": heard,
            "gain": gain if gain is not None else 0.0,
        })  # fmt: skip
    return rows


def choose_gain(train: list[dict]) -> float | None:
    """The gain threshold G set on the training words (module docstring).

    Returns:
        The smallest G (steps of STEP) at which training words above the threshold with gain >= G are wrong at
        least half the time, over at least MIN_WORDS of them; None when there is none.
    """
    above = [w for w in train if not w["low"]]
    top = max((w["gain"] for w in above), default=0.0)
    g = STEP
    while g <= top:
        listed = [w["wrong"] for w in above if w["gain"] >= g]
        if len(listed) < MIN_WORDS:
            return None
        if sum(listed) >= len(listed) / 2:
            return g
        g += STEP
    return None


def listing(words: list[dict], gain: float | None, checked: bool) -> tuple[dict, dict]:
    """Recall and precision of the listing now and with the rival words, on `words`."""
    wrong = [w["wrong"] for w in words]
    now = [w["low"] or (checked and w["heard"]) for w in words]
    more = [n or (gain is not None and w["gain"] >= gain) for n, w in zip(now, words)]
    return flag_metrics(wrong, now).to_dict(), flag_metrics(wrong, more).to_dict()


def decide(before: dict, after: dict) -> bool:
    """The rule's margins for one model."""
    return (
        after["recall"] >= before["recall"] + RECALL_GAIN and after["precision"] >= before["precision"] - PRECISION_LOSS
    )


def main() -> None:
    """Sets G on the training words, then prints U's and C's figures and outcomes on the held-out words."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "review_model")
    args = parser.parse_args()
    counts = F.file_counts(F.SPLITS)
    manifests = {split: F.build_audio(args.work, split, n) for split, n in counts.items()}
    records, _ = F.collect(args.work, manifests, list(F.MODELS))
    rivals, threshold, runs = Rivals(), default_model().word_threshold, args.work / "runs"
    train = word_rows(F.pooled(records, "train", list(F.MODELS)), rivals, runs, threshold)
    gain = choose_gain(train)
    print(f"word threshold {threshold}; G = {gain} (training words above the threshold: "
          f"{sum(not w['low'] for w in train)})")  # fmt: skip
    for name, checked in (("U (no check)", False), ("C (checked)", True)):
        outcomes = []
        for model in F.MODELS:
            before, after = listing(word_rows(F.pooled(records, "heldout", [model]), rivals, runs, threshold),
                                    gain, checked)  # fmt: skip
            outcomes.append(decide(before, after))
            print(f"{name} {model}: recall {before['recall']} -> {after['recall']}, precision {before['precision']}"
                  f" -> {after['precision']} ({before['with_error']} wrong words; listed {before['flagged']} ->"
                  f" {after['flagged']})")  # fmt: skip
        print(f"{name}: {'holds' if gain is not None and all(outcomes) else 'fails'}")


if __name__ == "__main__":
    main()
