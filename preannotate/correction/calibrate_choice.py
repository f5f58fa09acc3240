"""Which model `preannotate calibrate` writes, and how its held-out figures are made.

Two candidates, each scored on chunks it was not fitted on:
- `refitted`: every coefficient fitted on the team's chunks (`quality.fit_review_model`);
- `recalibrated`: the shipped model's score kept, only its mapping to WER and its threshold fitted on them
  (`quality.recalibrate_review_model`): two numbers and a threshold instead of a dozen.

Folds keep each item's chunks together whenever the items allow it: chunks of one recording share its
speaker, room and subject, so a fold that splits them scores a model on chunks much like those it was fitted
on. On the benchmark's real speech a refit scored by chunk folds looked like recall 0.83 (AUC 0.65); with
items kept whole it was 0.67 (AUC 0.58), and 0.49 with one recording held out at a time.

Under `correction.calibration: auto` the candidate with the better held-out ranking (AUC over the pooled
folds) is written; on a tie, the recalibrated one, which has fewer numbers to get wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import CorrectionError
from ..quality import ReviewModel, default_model, fit_review_model, flag_metrics, recalibrate_review_model
from ..quality.evaluate import ranking_auc
from ..quality.features import ENGLISH_FEATURES, MODEL_FEATURES
from ..quality.model import english_model

FOLDS = 5
# Every training split of the cross-validation must keep quality.fit.MIN_CLASS_ROWS (5) chunks with
# and without errors: with 5 folds by chunk a split keeps at least n - ceil(n / 5) of n, so n >= 7; 8 leaves room.
MIN_PER_CLASS = 8  # calibrate fits on no fewer chunks with and without errors
# Each training part must keep quality.fit.MIN_CLASS_ROWS (5) chunks with and without errors to be fitted.
MIN_TRAIN_CLASS = 5
BY_ITEM, BY_CHUNK = "by item", "by chunk"
CANDIDATES = ("refitted", "recalibrated")
Row = tuple[dict[str, float], float]
Split = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Chosen:
    """The model to write, which candidate it is, and both candidates' held-out figures."""

    model: ReviewModel
    method: str
    metrics: dict[str, dict[str, Any] | None]
    folds: str


def fit_best(
    rows: Sequence[Row],
    has_error: np.ndarray,
    items: Sequence[str],
    seed: int,
    provenance: dict,
    mode: str,
    english: bool = False,
) -> Chosen:
    """Scores both candidates held out, then fits the chosen one on every row.

    Args:
        rows: (features, measured WER) per chunk.
        has_error: Whether each chunk's WER is above 0.
        items: Each chunk's item (its recording), to keep an item's chunks in one fold.
        seed: Seed of the fold shuffles and fits.
        provenance: Stored in the model written.
        mode: `correction.calibration`: `auto`, `refit` or `recalibrate`.
        english: Every chunk is English and its features hold `lm_rival`: the English model is the base of the
            recalibrated candidate, and the refit reads `lm_rival` too (`fitters`).

    Raises:
        CorrectionError: The candidate `mode` names, or under `auto` both, cannot be fitted on these chunks.
    """
    splits, how = folds(has_error, items, seed)
    fit = fitters(seed, provenance, english)
    metrics: dict[str, dict[str, Any] | None] = {}
    problems: dict[str, str] = {}
    for name in CANDIDATES:
        try:
            metrics[name] = held_out(rows, has_error, splits, fit[name])
        except (ValueError, KeyError) as e:  # this candidate cannot be fitted on these chunks; the other may
            metrics[name], problems[name] = None, str(e)
    usable = {name: m for name, m in metrics.items() if m is not None}
    method = choose(usable, mode) if len(usable) == len(CANDIDATES) or mode != "auto" else next(iter(usable), "")
    if method not in usable:
        reasons = "; ".join(f"{name}: {why}" for name, why in problems.items())
        raise CorrectionError(f"cannot fit a review model on these corrections ({reasons})")
    try:
        model = fit[method](rows)
    except (ValueError, KeyError) as e:
        raise CorrectionError(f"cannot fit a review model on these corrections: {e}") from e
    return Chosen(model, method, metrics, how)


def fitters(
    seed: int, provenance: dict[str, Any], english: bool = False
) -> dict[str, Callable[[Sequence[Row]], ReviewModel]]:
    """How each candidate is fitted on rows (a shipped model is the base of the recalibrated one).

    English chunks (`english`) start from the model that assessed their drafts, the English one, and keep its
    language model's rival words in the refit; others from review_model.json's recipe.
    """
    base, features = (english_model(), ENGLISH_FEATURES) if english else (default_model(), MODEL_FEATURES)
    return {
        "refitted": lambda rows: fit_review_model(rows, seed=seed, provenance=provenance, feature_names=features),
        "recalibrated": lambda rows: recalibrate_review_model(base, rows, provenance=provenance),
    }


def folds(has_error: np.ndarray, items: Sequence[str], seed: int) -> tuple[list[Split], str]:
    """Stratified folds that keep each item's chunks together, or by chunk where the items cannot.

    By chunk when there are fewer items than folds, or when a fold by item would leave its training part
    with fewer than MIN_TRAIN_CLASS chunks with or without errors (a few long items).

    Returns:
        (train indices, test indices) per fold, and BY_ITEM or BY_CHUNK.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    groups = np.asarray(items)
    if len(set(items)) >= FOLDS:
        splits = list(StratifiedGroupKFold(FOLDS, shuffle=True, random_state=seed).split(groups, has_error, groups))
        if all(_fittable(has_error[train]) for train, _ in splits):
            return splits, BY_ITEM
    return list(StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(groups, has_error)), BY_CHUNK


def held_out(
    rows: Sequence[Row], has_error: np.ndarray, splits: list[Split], fit: Callable[[Sequence[Row]], ReviewModel]
) -> dict[str, Any]:
    """One candidate's flags and predicted WER for each chunk from a model fitted without its fold, scored.

    Raises:
        ValueError: A fold cannot be fitted (too few chunks of a kind, no usable relation).
    """
    flagged = np.zeros(len(rows), dtype=bool)
    predicted = np.zeros(len(rows))
    for train, test in splits:
        model = fit([rows[i] for i in train])
        predicted[test] = [model.predict_wer(rows[i][0]) for i in test]
        flagged[test] = predicted[test] > model.threshold
    return scored(has_error, predicted, flagged)


def scored(has_error: np.ndarray, predicted: np.ndarray, flagged: np.ndarray) -> dict[str, Any]:
    """A flag's FlagMetrics dict, with the AUC of the predicted WER that ranks the chunks."""
    auc = ranking_auc(predicted, has_error)
    metrics = flag_metrics(has_error.tolist(), flagged.tolist()).to_dict()
    return {**metrics, "auc": None if auc is None else round(auc, 3)}


def choose(metrics: dict[str, dict[str, Any]], mode: str) -> str:
    """The candidate to write: the one `mode` names, or under `auto` the better held-out AUC (ties: recalibrated)."""
    if mode != "auto":
        return {"refit": "refitted", "recalibrate": "recalibrated"}[mode]
    refit, recalibrated = (metrics[name].get("auc") for name in CANDIDATES)
    if refit is not None and (recalibrated is None or refit > recalibrated):
        return "refitted"
    return "recalibrated"


def _fittable(has_error: np.ndarray) -> bool:
    return min(int(has_error.sum()), int((~has_error).sum())) >= MIN_TRAIN_CLASS


def calibration_summary(calibration: Any, runs: int) -> str:
    """What `preannotate calibrate` prints: the chunks used, and each model's flags on them.

    Args:
        calibration: A `calibrate.Calibration`.
        runs: How many runs it was fitted on.
    """
    rows = calibration.rows
    lines = [f"fitted on {rows['chunks']} chunk(s) from {runs} run(s), {rows['with_error']} with errors"]
    if rows["left_out"]:
        lines[0] += f" ({rows['left_out']} left out: no chunks.jsonl record or measured WER)"
    lines += ["", f"needs_review on chunks with errors (candidates: 5-fold cross-validation {calibration.folds}):"]
    lines.append(f"  {'flags':<34}{'flagged':>8}{'precision':>11}{'recall':>8}{'AUC':>7}  recall, 95% interval")
    names = {
        "uploaded": "as uploaded",
        "shipped": "shipped model",
        "refitted": "refitted (held out)",
        "recalibrated": "shipped, recalibrated (held out)",
    }
    for key, name in names.items():
        m = calibration.metrics.get(key)
        auc = "" if m is None or m.get("auc") is None else f"{m['auc']:.2f}"
        cells = ("n/a",) * 4 if m is None else (m["flagged"], _share(m["precision"]), _share(m["recall"]), _span(m))
        written = "  <- written" if key == calibration.method else ""
        lines.append(f"  {name:<34}{cells[0]:>8}{cells[1]:>11}{cells[2]:>8}{auc:>7}  {cells[3]}{written}")
    return "\n".join(lines)


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _span(metrics: dict) -> str:
    """The recall's 95% interval: with a few dozen chunks with errors, one chunk moves recall by points."""
    pair = metrics.get("recall_95")
    return "n/a" if not pair else f"{_share(pair[0])} to {_share(pair[1])}"
