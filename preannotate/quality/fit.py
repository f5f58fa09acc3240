"""Fitting a `ReviewModel` on chunks with measured WER (scikit-learn and SciPy, imported only here).

Used by tools/fit_review_model.py for the shipped parameters and meant for
`preannotate calibrate`, which refits on a team's pulled corrections: both pass plain
(features, measured WER) pairs.

The fit, in three steps:
1. A logistic regression on "the chunk has an error" over standardized features, with its
   L2 strength chosen by stratified cross-validated log loss. Coefficients of features with a
   known direction (`features.DIRECTIONS`) are bounded to that sign (L-BFGS-B; scikit-learn's
   LogisticRegression has no bounds), so the model is monotonic in the confidence signals:
   strongly correlated signals such as the lowest and the mean word probability share the
   weight instead of cancelling each other with opposite signs.
2. A one-feature fractional logistic regression maps that score to the expected chunk WER
   (each chunk counts as an error with weight WER and as clean with weight 1 - WER).
3. The review threshold is set on out-of-fold predictions: the highest predicted WER that
   still flags `target_recall` of the chunks with an error (in each group, when rows are grouped).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .evaluate import flag_metrics, ranking_auc
from .features import DIRECTIONS, MODEL_FEATURES, feature_vector
from .model import ReviewModel

DEFAULT_WORD_THRESHOLD = 0.5
MIN_CLASS_ROWS = 5  # chunks with and without errors each needed to fit at all
C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)  # inverse L2 strengths tried by cross-validation


def fit_review_model(
    rows: Iterable[tuple[Mapping[str, float], float]],
    *,
    target_recall: float = 0.8,
    word_threshold: float = DEFAULT_WORD_THRESHOLD,
    feature_names: Sequence[str] = MODEL_FEATURES,
    groups: Sequence[str] | None = None,
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
        groups: A label per row (for example the recording condition and Whisper model). The threshold
            then reaches `target_recall` in every group with enough chunks with errors, not only overall.
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
    n_pos, n_neg = _class_sizes(y)
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
    bounds = [_bound(n, z[:, i]) for i, n in enumerate(feature_names)]
    oof = _out_of_fold_scores(z, y, bounds, c_value, folds, seed)
    oof_wer = np.asarray(model.wer_from_score(oof))
    threshold = _group_threshold(oof_wer, y, target_recall, groups)
    auc = ranking_auc(oof, y)  # never None: both classes have MIN_CLASS_ROWS rows
    fit_info = {
        "method": "refitted",
        "rows": len(y),
        "with_error": n_pos,
        "C": c_value,
        "zero_features": dropped,
        "target_recall": target_recall,
        "groups": sorted(set(groups)) if groups is not None else None,
        "out_of_fold": {
            **flag_metrics(y, oof_wer > threshold).to_dict(),
            "auc": round(auc, 3) if auc is not None else None,
        },
    }
    return dataclasses.replace(model, threshold=threshold, provenance={**dict(provenance or {}), "fit": fit_info})


def recalibrate_review_model(
    model: ReviewModel,
    rows: Iterable[tuple[Mapping[str, float], float]],
    *,
    target_recall: float = 0.8,
    provenance: Mapping[str, Any] | None = None,
) -> ReviewModel:
    """The model's score kept, its mapping to WER and its threshold fitted on chunks with measured WER.

    A refit of every coefficient needs more chunks than a team has corrected early on: on the benchmark's
    real speech (98 chunks), refits ranked a held-out recording's chunks no better than chance, while the
    shipped score still ranked them (AUC 0.68). This keeps the ranking and moves only the two numbers that
    turn a score into a predicted WER (step 2 of the fit) and the threshold, set on the rows themselves (a
    threshold on a fixed score is one number: it needs no folds).

    Args:
        model: The model whose score is kept (features, standardization, coefficients).
        rows: (features, measured WER) per chunk; WER is clipped to [0, 1].
        target_recall: Share of the chunks with an error the threshold must flag.
        provenance: Where the rows came from; stored with the fit's own numbers.

    Raises:
        ValueError: Too few chunks with or without errors, or WER does not grow with the score.
        KeyError: A row lacks a feature the model needs.
    """
    x, wer = _matrix(rows, model.features)
    y = wer > 0
    n_pos, _ = _class_sizes(y)
    scores = model.scores(x)
    slope, offset = _calibrate(scores, wer)
    mapped = dataclasses.replace(model, wer_slope=slope, wer_intercept=offset)
    predicted = np.asarray(mapped.wer_from_score(scores))
    threshold = _threshold(predicted, y, target_recall)
    auc = ranking_auc(scores, y)  # never None: both classes have MIN_CLASS_ROWS rows
    fit_info = {
        "method": "recalibrated",
        "rows": len(y),
        "with_error": n_pos,
        "target_recall": target_recall,
        "in_sample": {
            **flag_metrics(y, predicted > threshold).to_dict(),
            "auc": round(auc, 3) if auc is not None else None,
        },
    }
    fit_info["score_fit"] = model.provenance.get("fit")  # how the kept score was fitted
    return dataclasses.replace(mapped, threshold=threshold, provenance={**dict(provenance or {}), "fit": fit_info})


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


def _class_sizes(y: np.ndarray) -> tuple[int, int]:
    """Chunks with and without errors; ValueError when either is under MIN_CLASS_ROWS."""
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if min(n_pos, n_neg) < MIN_CLASS_ROWS:
        raise ValueError(f"need {MIN_CLASS_ROWS} chunks with and without errors; got {n_pos} and {n_neg}")
    return n_pos, n_neg


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
    """Sign-constrained L2 logistic regression with its strength chosen by cross-validated log loss.

    Returns:
        Coefficients, intercept, the chosen C, and the features left at 0 (by a bound or constant).
    """
    bounds = [_bound(name, z[:, i]) for i, name in enumerate(names)]
    c_value = min(C_GRID, key=lambda c: _cv_log_loss(z, y, bounds, c, folds, seed))
    coef, intercept = _logistic(z, y, bounds, c_value)
    return coef, intercept, c_value, [n for n, c in zip(names, coef) if abs(c) < 1e-9]


def _bound(name: str, column: np.ndarray) -> tuple[float | None, float | None]:
    """A coefficient's allowed range: its known sign, or 0 for a constant feature."""
    if column.std() == 0:
        return (0.0, 0.0)
    return {1: (0.0, None), -1: (None, 0.0)}.get(DIRECTIONS.get(name, 0), (None, None))


def _logistic(
    z: np.ndarray, y: np.ndarray, bounds: Sequence[tuple[float | None, float | None]], c_value: float
) -> tuple[np.ndarray, float]:
    """Minimizes mean log loss + |w|^2 / (2 C n) under the bounds (L-BFGS-B; sklearn's C scaling)."""
    from scipy.optimize import minimize

    t = np.where(y, 1.0, -1.0)
    n, d = z.shape

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:d], params[d]
        margin = t * (z @ w + b)
        slope = -t * np.exp(-np.logaddexp(0.0, margin)) / n  # d(mean loss)/d(score), stable
        value = float(np.logaddexp(0.0, -margin).mean() + w @ w / (2 * c_value * n))
        return value, np.append(z.T @ slope + w / (c_value * n), slope.sum())

    result = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", bounds=[*bounds, (None, None)])
    return result.x[:d], float(result.x[d])


def _cv_log_loss(
    z: np.ndarray, y: np.ndarray, bounds: Sequence[tuple[float | None, float | None]], c_value: float, folds, seed
) -> float:
    """Out-of-fold mean log loss of the constrained fit at one strength."""
    scores = _out_of_fold_scores(z, y, bounds, c_value, folds, seed)
    return float(np.mean(np.logaddexp(0.0, -np.where(y, scores, -scores))))


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
    z: np.ndarray,
    y: np.ndarray,
    bounds: Sequence[tuple[float | None, float | None]],
    c_value: float,
    folds: int,
    seed: int,
) -> np.ndarray:
    """Each chunk's score from a model fitted without its fold (same bounds and strength)."""
    from sklearn.model_selection import StratifiedKFold

    scores = np.zeros(len(y))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(z, y):
        coef, intercept = _logistic(z[train], y[train], bounds, c_value)
        scores[test] = intercept + z[test] @ coef
    return scores


def _group_threshold(values: np.ndarray, y: np.ndarray, target_recall: float, groups: Sequence[str] | None) -> float:
    """The lowest of the groups' thresholds (the pooled one without groups or enough positives)."""
    if groups is None:
        return _threshold(values, y, target_recall)
    labels = np.asarray(groups)
    if labels.shape != y.shape:
        raise ValueError(f"{labels.size} groups for {y.size} rows")
    found = [
        _threshold(values[labels == g], y[labels == g], target_recall)
        for g in np.unique(labels)
        if y[labels == g].sum() >= MIN_CLASS_ROWS
    ]
    return min(found) if found else _threshold(values, y, target_recall)


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
