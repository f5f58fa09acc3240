"""Fitting a `ReviewModel` on chunks with measured WER (scikit-learn, imported only here).

Used by tools/fit_review_model.py for the shipped parameters and meant for
`preannotate calibrate`, which refits on a team's pulled corrections: both pass plain
(features, measured WER) pairs.

The fit, in three steps:
1. A logistic regression on "the chunk has an error" over standardized features, with its
   L2 strength chosen by stratified cross-validation. A feature with a known direction
   (`features.DIRECTIONS`) whose coefficient comes out the wrong way is dropped and the
   rest refitted, so the model stays monotonic in the confidence signals.
2. A one-feature fractional logistic regression maps that score to the expected chunk WER
   (each chunk counts as an error with weight WER and as clean with weight 1 - WER).
3. The review threshold is set on out-of-fold predictions: the highest predicted WER that
   still flags `target_recall` of the chunks with an error.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .evaluate import flag_metrics, ranking_auc
from .features import DIRECTIONS, FEATURE_NAMES, feature_vector
from .model import ReviewModel

DEFAULT_WORD_THRESHOLD = 0.5
MIN_CLASS_ROWS = 5  # chunks with and without errors each needed to fit at all
C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)  # inverse L2 strengths tried by cross-validation


def fit_review_model(
    rows: Iterable[tuple[Mapping[str, float], float]],
    *,
    target_recall: float = 0.8,
    word_threshold: float = DEFAULT_WORD_THRESHOLD,
    feature_names: Sequence[str] = FEATURE_NAMES,
    folds: int = 5,
    seed: int = 0,
    provenance: Mapping[str, Any] | None = None,
) -> ReviewModel:
    """Fits a review model on chunks whose WER was measured.

    Args:
        rows: (features, measured WER) per chunk; WER is clipped to [0, 1].
        target_recall: Share of the chunks with an error the threshold must flag (out of fold).
        word_threshold: Probability under which a word is doubtful (see `fit_word_threshold`).
        feature_names: The features to use, all present in every row.
        folds: Cross-validation folds (fewer when a class has fewer rows).
        seed: Seed of the fold shuffles.
        provenance: Where the rows came from; stored with the fit's own numbers.

    Returns:
        The fitted model.

    Raises:
        ValueError: Too few chunks with or without errors, or no usable relation in the data.
    """
    x, wer = _matrix(rows, feature_names)
    y = wer > 0
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if min(n_pos, n_neg) < MIN_CLASS_ROWS:
        raise ValueError(f"need {MIN_CLASS_ROWS} chunks with and without errors; got {n_pos} and {n_neg}")
    folds = max(2, min(folds, n_pos, n_neg))
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0  # a constant feature: leave it unscaled (its coefficient ends at 0)
    z = (x - mean) / scale
    coef, intercept, c_value, dropped = _signed_logistic(z, y, feature_names, folds, seed)
    scores = intercept + z @ coef
    slope, offset = _calibrate(scores, wer)
    model = ReviewModel(
        features=tuple(feature_names),
        mean=tuple(mean.tolist()),
        scale=tuple(scale.tolist()),
        coef=tuple(coef.tolist()),
        intercept=float(intercept),
        wer_slope=slope,
        wer_intercept=offset,
        threshold=0.5,
        word_threshold=word_threshold,
    )
    oof = _out_of_fold_scores(z, y, coef != 0, c_value, folds, seed)
    oof_wer = model.wer_from_score(oof)
    threshold = _threshold(oof_wer, y, target_recall)
    fit_info = {
        "rows": len(y),
        "with_error": n_pos,
        "C": c_value,
        "dropped_features": dropped,
        "target_recall": target_recall,
        "out_of_fold": {**flag_metrics(y, oof_wer > threshold).to_dict(), "auc": round(ranking_auc(oof, y), 3)},
    }
    return dataclasses.replace(model, threshold=threshold, provenance={**dict(provenance or {}), "fit": fit_info})


def fit_word_threshold(words: Iterable[tuple[float, bool]]) -> float:
    """The word probability threshold that best separates wrong words from right ones (highest F1).

    Args:
        words: (probability, wrong) per word.

    Returns:
        The threshold, from 0.05 to 0.95 in steps of 0.01.

    Raises:
        ValueError: No word is wrong.
    """
    pairs = np.array([(p, w) for p, w in words], dtype=float).reshape(-1, 2)
    probability, wrong = pairs[:, 0], pairs[:, 1] > 0
    if not wrong.any():
        raise ValueError("no wrong words to fit a word threshold on")
    grid = np.round(np.arange(0.05, 0.951, 0.01), 2)
    f1 = [_f1(wrong, probability < t) for t in grid]
    return float(grid[int(np.argmax(f1))])


def _matrix(rows: Iterable[tuple[Mapping[str, float], float]], names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    features, wer = [], []
    for f, w in rows:
        features.append(feature_vector(f, names))
        wer.append(min(max(float(w), 0.0), 1.0))
    x = np.array(features, dtype=float).reshape(-1, len(names))
    if not np.isfinite(x).all():
        raise ValueError("features must be finite")
    return x, np.array(wer)


def _signed_logistic(
    z: np.ndarray, y: np.ndarray, names: Sequence[str], folds: int, seed: int
) -> tuple[np.ndarray, float, float, list[str]]:
    """Cross-validated L2 logistic regression, dropping wrong-signed directional features one at a time.

    The L2 strength is chosen on all features, kept while features are dropped (one fit each), and
    chosen again for the features that remain.
    """
    active = [i for i in range(len(names)) if z[:, i].std() > 0]
    dropped: list[str] = [names[i] for i in range(len(names)) if i not in active]
    c_value = _choose_c(z[:, active], y, folds, seed)
    while True:
        coef, _ = _fit(z, y, active, c_value, len(names))
        wrong = {i: coef[i] * DIRECTIONS[names[i]] for i in active if coef[i] * DIRECTIONS.get(names[i], 0) < 0}
        if not wrong:
            break
        worst = min(wrong, key=wrong.get)  # the most negative product: the clearest wrong sign
        active.remove(worst)
        dropped.append(names[worst])
        if not active:
            raise ValueError("no feature relates to the errors in the expected direction: no usable relation")
    final_c = _choose_c(z[:, active], y, folds, seed)
    coef, intercept = _fit(z, y, active, final_c, len(names))
    if any(coef[i] * DIRECTIONS.get(names[i], 0) < 0 for i in active):
        # The new strength flipped a weak coefficient: keep the one the signs were checked with.
        final_c = c_value
        coef, intercept = _fit(z, y, active, final_c, len(names))
    return coef, intercept, final_c, dropped


def _fit(z: np.ndarray, y: np.ndarray, active: list[int], c_value: float, n: int) -> tuple[np.ndarray, float]:
    """Logistic regression on the active columns; coefficients of the others are 0."""
    from sklearn.linear_model import LogisticRegression

    fitted = LogisticRegression(C=c_value, max_iter=5000).fit(z[:, active], y)
    coef = np.zeros(n)
    coef[active] = fitted.coef_[0]
    return coef, float(fitted.intercept_[0])


def _choose_c(z: np.ndarray, y: np.ndarray, folds: int, seed: int) -> float:
    """The inverse L2 strength with the lowest out-of-fold log loss."""
    losses = {}
    for c_value in C_GRID:
        scores = _out_of_fold_scores(z, y, np.ones(z.shape[1], dtype=bool), c_value, folds, seed)
        # log(1 + exp(-margin)), computed without overflow
        losses[c_value] = float(np.mean(np.logaddexp(0.0, -np.where(y, scores, -scores))))
    return min(losses, key=losses.get)


def _calibrate(scores: np.ndarray, wer: np.ndarray) -> tuple[float, float]:
    """Slope and intercept of WER ~ sigmoid(slope * score + intercept), by fractional logistic regression."""
    from sklearn.linear_model import LogisticRegression

    s = np.concatenate([scores, scores]).reshape(-1, 1)
    y = np.concatenate([np.ones_like(wer), np.zeros_like(wer)])
    weights = np.concatenate([wer, 1.0 - wer])
    keep = weights > 0
    fitted = LogisticRegression(C=1e6, max_iter=5000).fit(s[keep], y[keep], sample_weight=weights[keep])
    slope = float(fitted.coef_[0][0])
    if not math.isfinite(slope) or slope <= 0:
        raise ValueError("the measured WER does not grow with the model's score: no usable relation")
    return slope, float(fitted.intercept_[0])


def _out_of_fold_scores(
    z: np.ndarray, y: np.ndarray, active: np.ndarray, c_value: float, folds: int, seed: int
) -> np.ndarray:
    """Each chunk's score from a model fitted without its fold (same features and strength)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    scores = np.zeros(len(y))
    if not active.any():
        return scores
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(z, y):
        fitted = LogisticRegression(C=c_value, max_iter=5000).fit(z[train][:, active], y[train])
        scores[test] = fitted.decision_function(z[test][:, active])
    return scores


def _threshold(values: np.ndarray, y: np.ndarray, target_recall: float) -> float:
    """A value just under the k-th highest positive, k = ceil(target_recall * positives), between two chunks."""
    positives = np.sort(values[y])[::-1]
    k = min(max(math.ceil(target_recall * len(positives)), 1), len(positives))
    cut = positives[k - 1]
    below = values[values < cut]
    return float((cut + below.max()) / 2 if below.size else cut - 1e-6)


def _f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    tp = float((truth & predicted).sum())
    return 2 * tp / (truth.sum() + predicted.sum()) if tp else 0.0
