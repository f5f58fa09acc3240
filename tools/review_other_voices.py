"""The review model on speech from other synthesizers (flite, festival), and whether fitting on it helps.

    .venv/bin/python tools/review_other_voices.py             # the shipped models on both voice splits
    .venv/bin/python tools/review_other_voices.py --compare   # also the pre-registered refit comparison

The shipped models never heard flite or festival (tools/fit_review_model.py fits on espeak-ng speech), so
both voice splits (72 files; `VOICE_SPLITS`) are held-out speech for them. `--compare` refits the recipe
twice on the same runs, without and with `train_voices` (fit_review_model.py `--other-voices off|fit`), and
scores both on the real speech of benchmarks/review_model.py (run it first: its runs are read, not made)
and on the benchmark set. The rule, fixed before the voices were transcribed (commit 78dc0f1): the refit
with them would be shipped only if its real-speech AUC beat the other's for tiny.en (review model) and base
(checked model); it did not (docs/review-flags.md).
Needs flite and festival (tools/review_speech.py says which packages).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools"), str(ROOT / "benchmarks")]

import fit_review_model as F  # noqa: E402
from review_checked import CHECKER, checked_records  # noqa: E402

from preannotate.quality import ReviewModel, evaluate_review_model  # noqa: E402
from preannotate.quality.model import CHECKED_PATH, DEFAULT_PATH, checked_model, default_model  # noqa: E402

SHOWN = ("chunks", "flagged", "recall", "precision", "auc", "recall_95", "precision_95")


def shipped_on_voices(work: Path) -> None:
    """Prints the shipped models' flags on each voice split and both pooled, per Whisper model."""
    manifests = {s: F.build_audio(work, s, n) for s, n in F.file_counts(F.VOICE_SPLITS).items()}
    records, _ = F.collect(work, manifests, list(F.MODELS))
    checked = checked_records(records, work / "runs")
    for model in F.MODELS:
        for name, splits in [*((s, [s]) for s in manifests), ("both", list(manifests))]:
            rows = [r for s in splits for r in records[s, model]]
            alone = evaluate_review_model(default_model(), F._rows(rows))
            with_check = evaluate_review_model(checked_model(), F._rows([r for s in splits for r in checked[s, model]]))
            errors = sum(r["errors"] > 0 for r in rows)
            print(f"{model} {name}: {errors} of {len(rows)} chunks with errors")
            print(f"  review model: {_shown(alone)}")
            print(f"  checked by {CHECKER[model]}: {_shown(with_check)}")


def compare(work: Path) -> None:
    """Refits without and with train_voices (same runs) and prints both on real speech and the benchmark set."""
    from dataset import build_set
    from real_speech import build_real_set
    from review_model import score_run

    bench = ROOT / "runs" / "bench_review"
    sets = {
        "real speech": ({e["file"]: e["text"] for e in build_real_set(bench / "real", bench / "downloads")}, "real-"),
        "benchmark set": ({e["file"]: e["text"] for e in build_set(bench / "set")}, ""),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("off", "fit"):
            out = Path(tmp) / mode
            F.main(["--work", str(work), "--other-voices", mode, "--no-benchmark", "--out", str(out)])
            review, checked = ReviewModel.load(out / DEFAULT_PATH.name), ReviewModel.load(out / CHECKED_PATH.name)
            for name, (references, prefix) in sets.items():
                for model in F.MODELS:
                    scores = score_run(bench / f"{prefix}{model.split(':')[-1]}", references, review, None, checked)
                    flag = "checked_model" if model == "bundled:base" else "review_model"  # as `auto` drafts
                    print(f"RESULT --other-voices {mode}, {name}, {model} ({flag}): {_shown(scores[flag])}")


def _shown(metrics: dict) -> str:
    return ", ".join(f"{k} {metrics.get(k)}" for k in SHOWN)


def main() -> None:
    """Scores the shipped models on the voice splits, and with --compare the two refits."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "review_model")
    parser.add_argument("--compare", action="store_true", help="refit without and with train_voices and score both")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("preannotate").setLevel(logging.WARNING)
    shipped_on_voices(args.work)
    if args.compare:
        compare(args.work)


if __name__ == "__main__":
    main()
