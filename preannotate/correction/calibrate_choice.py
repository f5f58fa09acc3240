"""Which model `preannotate calibrate` writes, and how its held-out figures are made.

Two candidates, each scored on chunks it was not fitted on:
- `refitted`: every coefficient fitted on the team's chunks (`quality.fit_review_model`);
- `recalibrated`: the shipped model's score kept, only its mapping to WER and its threshold fitted on them
  (`quality.recalibrate_review_model`): two numbers and a threshold instead of a dozen.

Folds keep each item's chunks together whenever the items allow it: chunks of one recording share its
speaker, room and subject, so a fold that splits them scores a model on chunks much like those it was fitted
on. On the benchmark's real speech a refit scored by chunk folds looked like recall 0.83 (AUC 0.65); with
items kept whole it was 0.67 (AUC 0.58), and 0.49 with one recording held out at a time.

Drafts that a second model checked (`annotation.cross_check`) get two more candidates, the same two from the
shipped model for checked drafts (with the slowed decode's words when every draft has them), which read the
check's words: on Asterisk's prompts with base, refitted with the check ranked at AUC 0.74 against 0.65 without
(one recording held out at a time), on the people's recordings 0.35 against 0.66. A team's corrections decide.

Under `correction.calibration: auto` the candidate with the best held-out ranking (AUC over the pooled folds)
is written; on a tie, a recalibrated one before a refit (fewer numbers to get wrong), and one without the check
before one with it (no check to make in the next runs).

The winner's own held-out figures flatter it: it was chosen for them among several candidates scored on the same
folds (the winner's curse). So the choice itself is scored held out too (`selection_held_out`, nested
cross-validation): in each fold the candidates are scored on folds of its training part alone, and the one chosen
there predicts the fold. That is the figure to expect of the model written.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import CorrectionError
from ..quality import ReviewModel, fit_review_model, flag_metrics, recalibrate_review_model
from ..quality.evaluate import ranking_auc
from ..quality.model import ENGLISH, PLAIN, shipped_recipe

FOLDS = 5
# Every training split of the cross-validation must keep quality.fit.MIN_CLASS_ROWS (5) chunks with
# and without errors: with 5 folds by chunk a split keeps at least n - ceil(n / 5) of n, so n >= 7; 8 leaves room.
MIN_PER_CLASS = 8  # calibrate fits on no fewer chunks with and without errors
# Each training part must keep quality.fit.MIN_CLASS_ROWS (5) chunks with and without errors to be fitted.
MIN_TRAIN_CLASS = 5
BY_ITEM, BY_CHUNK = "by item", "by chunk"
WITH_CHECK = "_checked"  # the name of a candidate that reads the check's words ends so
# Ties go to the first: fewer numbers to get wrong, then no check to make.
PREFERENCE = ("recalibrated", "refitted", "recalibrated" + WITH_CHECK, "refitted" + WITH_CHECK)
MODES = {"refit": "refitted", "recalibrate": "recalibrated"}
SELECTION = "selection"  # the metrics' key of the choice scored held out (nested cross-validation)
_UNSPLIT = "too few chunks to choose among the candidates with a fold held out"
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
    checked: str | None = None,
) -> Chosen:
    """Scores the candidates held out, then fits the chosen one on every row.

    Args:
        rows: (features, measured WER) per chunk.
        has_error: Whether each chunk's WER is above 0.
        items: Each chunk's item (its recording), to keep an item's chunks in one fold.
        seed: Seed of the fold shuffles and fits.
        provenance: Stored in the model written.
        mode: `correction.calibration`: `auto`, `refit` or `recalibrate`.
        english: Every chunk is English and its features hold `lm_rival`: the English model is the base of the
            recalibrated candidate, and the refit reads `lm_rival` too (`fitters`).
        checked: CHECKED or SLOWED when every chunk was checked, its features holding the check's words (and the
            slowed decode's): two more candidates from that shipped model's recipe; None: none.

    Raises:
        CorrectionError: No candidate that `mode` allows can be fitted on these chunks.
    """
    splits, how = folds(has_error, items, seed)
    fit = fitters(seed, provenance, english, checked)
    metrics: dict[str, dict[str, Any] | None] = {}
    problems: dict[str, str] = {}
    for name in fit:
        try:
            metrics[name] = held_out(rows, has_error, splits, fit[name])
        except (ValueError, KeyError) as e:  # this candidate cannot be fitted on these chunks; another may
            metrics[name], problems[name] = None, str(e)
    method = choose({name: m for name, m in metrics.items() if m is not None}, mode)
    if not method:
        reasons = "; ".join(f"{name}: {why}" for name, why in problems.items())
        raise CorrectionError(f"cannot fit a review model on these corrections ({reasons})")
    try:
        model = fit[method](rows)
    except (ValueError, KeyError) as e:
        raise CorrectionError(f"cannot fit a review model on these corrections: {e}") from e
    fitted = {name: fit[name] for name, m in metrics.items() if m is not None}  # those that fail on all rows cannot win
    metrics[SELECTION] = selection_held_out(rows, has_error, items, splits, fitted, mode, seed)
    return Chosen(model, method, metrics, how)


def selection_held_out(
    rows: Sequence[Row],
    has_error: np.ndarray,
    items: Sequence[str],
    splits: list[Split],
    fit: dict[str, Callable[[Sequence[Row]], ReviewModel]],
    mode: str,
    seed: int,
) -> dict[str, Any] | None:
    """The choice among the candidates scored held out: what to expect of the model calibrate writes.

    In each of `splits`, every candidate `mode` allows is scored on folds of the training part alone
    (`inner_folds`), the one `choose` picks there is fitted on the whole training part, and it predicts the
    held-out fold; the pooled predictions are scored as `held_out` scores one candidate. `chosen` counts which
    candidate each fold picked: a choice that changes from fold to fold is a close call.

    Returns:
        `scored`'s figures and `chosen`; None when `mode` allows fewer than two candidates (there is no choice
        to flatter its winner), or a training part cannot be split and fitted to choose (`reason` says so).
    """
    allowed = {name: fitter for name, fitter in fit.items() if _allowed(name, mode)}
    if len(allowed) < 2:
        return None
    predicted, flagged, chosen = np.zeros(len(rows)), np.zeros(len(rows), dtype=bool), Counter[str]()
    for train, test in splits:
        part, labels = [rows[i] for i in train], [items[i] for i in train]
        name, model = _fold_choice(part, has_error[train], labels, allowed, mode, seed)
        if model is None:
            return {"reason": _UNSPLIT}
        predicted[test] = [model.predict_wer(rows[i][0]) for i in test]
        flagged[test] = predicted[test] > model.threshold
        chosen[name] += 1
    return {**scored(has_error, predicted, flagged), "chosen": dict(sorted(chosen.items()))}


def _fold_choice(
    part: list[Row], has_error: np.ndarray, items: list[str], allowed: dict[str, Callable], mode: str, seed: int
) -> tuple[str, ReviewModel | None]:
    """The candidate `choose` picks on folds of one training part, fitted on all of it (None: it cannot be)."""
    try:
        inner = inner_folds(has_error, items, seed)
    except ValueError:  # too few chunks of a kind to fit on every fold
        return "", None
    scores = {}
    for name, fitter in allowed.items():
        with contextlib.suppress(ValueError, KeyError):  # not fittable on this part: not a choice here
            scores[name] = held_out(part, has_error, inner, fitter)
    name = choose(scores, mode)
    try:
        return name, allowed[name](part) if name else None
    except (ValueError, KeyError):
        return name, None


def fitters(
    seed: int, provenance: dict[str, Any], english: bool = False, checked: str | None = None
) -> dict[str, Callable[[Sequence[Row]], ReviewModel]]:
    """How each candidate is fitted on rows (a shipped model is the base of a recalibrated one).

    English chunks (`english`) start from the model that assessed their drafts without a check, the English one,
    and keep its language model's rival words in the refit; others from review_model.json's recipe. Checked
    chunks (`checked`: CHECKED or SLOWED) add the pair of that shipped model's recipe, named with WITH_CHECK.
    """
    recipes = {"": ENGLISH if english else PLAIN}
    if checked is not None:
        recipes[WITH_CHECK] = checked
    fit: dict[str, Callable[[Sequence[Row]], ReviewModel]] = {}
    for suffix, kind in recipes.items():
        base, features = shipped_recipe(kind)
        fit["refitted" + suffix] = functools.partial(
            fit_review_model, seed=seed, provenance=provenance, feature_names=features
        )
        fit["recalibrated" + suffix] = functools.partial(recalibrate_review_model, base, provenance=provenance)
    return fit


def folds(has_error: np.ndarray, items: Sequence[str], seed: int, n_folds: int = FOLDS) -> tuple[list[Split], str]:
    """Stratified folds that keep each item's chunks together, or by chunk where the items cannot.

    By chunk when there are fewer items than folds, or when a fold by item would leave its training part
    with fewer than MIN_TRAIN_CLASS chunks with or without errors (a few long items).

    Returns:
        (train indices, test indices) per fold, and BY_ITEM or BY_CHUNK.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    groups = np.asarray(items)
    if len(set(items)) >= n_folds:
        by_item = StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed)
        splits = list(by_item.split(groups, has_error, groups))
        if all(_fittable(has_error[train]) for train, _ in splits):
            return splits, BY_ITEM
    return list(StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(groups, has_error)), BY_CHUNK


def inner_folds(has_error: np.ndarray, items: Sequence[str], seed: int) -> list[Split]:
    """The folds of a training part that the choice is made on: FOLDS, or as many more as every fold needs to fit.

    A fold of 5 leaves 4 of a training part's 6 chunks with errors, one fewer than a fit needs; 6 folds leave
    5. So the choice is scored held out on the smallest sets calibrate takes (MIN_PER_CLASS), where the
    winner's luck counts most.

    Raises:
        ValueError: No number of folds leaves every training part MIN_TRAIN_CLASS chunks of each kind.
    """
    fewest = min(int(has_error.sum()), int((~has_error).sum()))
    for n_folds in range(FOLDS, fewest + 1):
        splits, _ = folds(has_error, items, seed, n_folds)
        if all(_fittable(has_error[train]) for train, _ in splits):
            return splits
    raise ValueError(f"{fewest} chunks of a kind: too few to leave {MIN_TRAIN_CLASS} in every fold's training part")


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
    """The candidate to write among those scored: the best held-out AUC of those `mode` allows.

    `auto` allows every candidate, `refit` and `recalibrate` those of that method (with and without the check);
    ties go to the one first in PREFERENCE. An empty string when `mode` allows none of them.
    """
    allowed = [n for n in PREFERENCE if n in metrics and _allowed(n, mode)]
    if not allowed:
        return ""
    return max(allowed, key=lambda n: (_auc(metrics[n]), -PREFERENCE.index(n)))


def _allowed(name: str, mode: str) -> bool:
    return mode == "auto" or name.startswith(MODES[mode])


def _auc(metrics: dict[str, Any]) -> float:
    auc = metrics.get("auc")
    return -math.inf if auc is None else float(auc)


def _fittable(has_error: np.ndarray) -> bool:
    return min(int(has_error.sum()), int((~has_error).sum())) >= MIN_TRAIN_CLASS
