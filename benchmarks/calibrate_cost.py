"""What `preannotate calibrate`'s choice held out (nested cross-validation) costs beside its candidates' scoring.

Synthetic chunks (four words; the lowest word probability decides, with 10% noise, whether annotators changed
the chunk, as in tests/test_calibrate_choice.py) of items of 20 chunks each, through calibrate's own functions:
the candidates scored on five folds by item (`held_out`, what calibrate did before), then the choice among them
held out (`selection_held_out`), in the same process one after the other. Prints both times and their ratio.

    .venv/bin/python benchmarks/calibrate_cost.py [--chunks 2000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from preannotate.chunking import Chunk
from preannotate.correction.calibrate_choice import fitters, folds, held_out, selection_held_out
from preannotate.quality import chunk_features
from preannotate.results import Word

DURATION = 600.0


def synthetic_rows(n: int, seed: int = 1) -> list[tuple[dict, float]]:
    """(features, measured WER) of n four-word chunks whose least sure word mostly decides their errors."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        low = float(rng.uniform(0.02, 0.99))
        probabilities, start = (low, 0.9, 0.95, 0.97), 5.0 + 3.0 * (i % 190)
        words = tuple(Word(f" w{k}", start + 0.3 * k, start + 0.3 * k + 0.25, p) for k, p in enumerate(probabilities))
        mean = float(np.mean(probabilities))
        chunk = Chunk(i, start, words[-1].end, "w0 w1 w2 w3", words, mean, low, avg_logprob=-0.3)
        wrong = (low < 0.45) != (rng.uniform() < 0.1)
        rows.append((chunk_features(chunk, DURATION), 0.25 if wrong else 0.0))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=2000)
    args = parser.parse_args()
    rows = synthetic_rows(args.chunks)
    has_error = np.array([wer > 0 for _, wer in rows])
    items = [f"item{i // 20}" for i in range(len(rows))]
    splits, how = folds(has_error, items, seed=0)
    fit = fitters(0, {})
    started = time.perf_counter()
    scored = {name: held_out(rows, has_error, splits, fitter) for name, fitter in fit.items()}
    candidates = time.perf_counter() - started
    started = time.perf_counter()
    selection = selection_held_out(rows, has_error, items, splits, fit, "auto", seed=0)
    nested = time.perf_counter() - started
    print(f"{len(rows)} chunks, {int(has_error.sum())} with errors, {len(set(items))} items, folds {how}")
    for name, m in scored.items():
        print(f"  {name:<14} held out: recall {m['recall']}, precision {m['precision']}, AUC {m['auc']}")
    if selection is not None and "auc" in selection:
        print(f"  the choice held out: recall {selection['recall']}, precision {selection['precision']}, "
              f"AUC {selection['auc']}, chosen {selection['chosen']}")  # fmt: skip
    print(f"candidates scored: {candidates:.1f} s; the choice held out: {nested:.1f} s ({nested / candidates:.1f}x)")


if __name__ == "__main__":
    main()
