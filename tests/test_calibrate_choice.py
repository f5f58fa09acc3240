"""`preannotate calibrate`'s two candidates (a refit, the shipped model recalibrated), their folds and the choice.

The command itself, on corrections pulled from the loopback server, is in test_correction_calibrate.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from preannotate.chunking import Chunk
from preannotate.correction.calibrate_choice import (
    BY_CHUNK,
    BY_ITEM,
    SELECTION,
    choose,
    fit_best,
    fitters,
    folds,
    inner_folds,
    selection_held_out,
)
from preannotate.correction.calibrate_summary import calibration_summary
from preannotate.errors import CorrectionError
from preannotate.quality import chunk_features, default_model, recalibrate_review_model
from preannotate.results import Word

DURATION = 600.0


def chunk(i: int, probabilities: tuple[float, ...], start: float | None = None) -> Chunk:
    start = 5.0 + 3.0 * i if start is None else start
    words = tuple(Word(f" w{i}x{k}", start + 0.3 * k, start + 0.3 * k + 0.25, p) for k, p in enumerate(probabilities))
    mean = sum(probabilities) / len(probabilities)
    return Chunk(i, start, words[-1].end, " ".join(w.word.strip() for w in words), words, mean, min(probabilities),
                 avg_logprob=-0.3)  # fmt: skip


def rows_where_doubt_means_errors(n: int, seed: int = 1) -> list[tuple[dict, float]]:
    """Chunks whose lowest word probability decides, with some noise, whether an annotator changed them."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        low = float(rng.uniform(0.02, 0.99))
        wrong = (low < 0.45) != (rng.uniform() < 0.1)
        rows.append((chunk_features(chunk(i, (low, 0.9, 0.95, 0.97)), DURATION), 0.25 if wrong else 0.0))
    return rows


def test_the_recalibrated_model_keeps_the_shipped_score_and_reaches_the_recall_target_on_the_rows():
    shipped = default_model()
    # Every chunk with one word under 0.45 was changed: many more than the shipped model expects (it was
    # fitted on chunks where such a word is often right), so its threshold sits too high for these.
    rows = rows_where_doubt_means_errors(120)
    model = recalibrate_review_model(shipped, rows, target_recall=0.8)
    assert (model.features, model.mean, model.scale, model.coef, model.intercept) == (
        shipped.features, shipped.mean, shipped.scale, shipped.coef, shipped.intercept
    )  # fmt: skip
    assert (model.wer_slope, model.wer_intercept) != (shipped.wer_slope, shipped.wer_intercept)
    errors = np.array([w > 0 for _, w in rows])
    flagged = np.array([model.needs_review(model.predict_wer(f)) for f, _ in rows])
    assert flagged[errors].mean() >= 0.8
    fit = model.provenance["fit"]
    assert fit["method"] == "recalibrated" and fit["rows"] == 120 and fit["with_error"] == int(errors.sum())
    assert fit["in_sample"]["recall"] >= 0.8 and fit["score_fit"] == shipped.provenance["fit"]
    # The predicted WER follows the rows: their mean measured WER, not the shipped model's level.
    predicted = np.mean([model.predict_wer(f) for f, _ in rows])
    assert abs(predicted - np.mean([w for _, w in rows])) < 0.03


def test_folds_keep_each_items_chunks_together_when_the_items_allow_it():
    has_error = np.array([i % 3 == 0 for i in range(60)])
    items = [f"item{i // 6}" for i in range(60)]  # ten items of six chunks
    splits, how = folds(has_error, items, seed=0)
    assert how == BY_ITEM and len(splits) == 5
    for train, test in splits:
        assert not {items[i] for i in train} & {items[i] for i in test}
    assert sorted(np.concatenate([test for _, test in splits]).tolist()) == list(range(60))
    # Two items cannot make five folds; one long item neither: chunks are split then.
    for few in ([f"item{i // 30}" for i in range(60)], ["one"] * 60):
        splits, how = folds(has_error, few, seed=0)
        assert how == BY_CHUNK and len(splits) == 5
    # Ten items, but 6 of the 8 errors in one: the fold holding it out would train on 2 errors.
    lopsided = np.array([i < 8 for i in range(60)])
    assert folds(lopsided, items, seed=0)[1] == BY_CHUNK


def test_auto_writes_the_better_held_out_ranking_and_the_recalibrated_one_on_a_tie():
    refit, recalibrated = {"auc": 0.71}, {"auc": 0.64}
    assert choose({"refitted": refit, "recalibrated": recalibrated}, "auto") == "refitted"
    assert choose({"refitted": recalibrated, "recalibrated": refit}, "auto") == "recalibrated"
    assert choose({"refitted": refit, "recalibrated": refit}, "auto") == "recalibrated"
    assert choose({"refitted": refit, "recalibrated": recalibrated}, "recalibrate") == "recalibrated"
    assert choose({"refitted": recalibrated, "recalibrated": refit}, "refit") == "refitted"


@pytest.mark.slow  # two candidates, five folds each, and a refit with its own cross-validation
def test_fit_best_scores_both_candidates_held_out_and_fits_the_chosen_one_on_every_row():
    rows = rows_where_doubt_means_errors(90)
    has_error = np.array([w > 0 for _, w in rows])
    items = [f"rec{i // 6}" for i in range(90)]
    chosen = fit_best(rows, has_error, items, seed=0, provenance={"calibrated_on": ["run"]}, mode="auto")
    assert chosen.folds == BY_ITEM
    for name in ("refitted", "recalibrated"):
        assert chosen.metrics[name]["chunks"] == 90 and chosen.metrics[name]["auc"] > 0.75, chosen.metrics
    assert chosen.method == choose(chosen.metrics, "auto")
    assert chosen.model.provenance["fit"]["method"] == chosen.method
    assert chosen.model.provenance["calibrated_on"] == ["run"]
    forced = fit_best(rows, has_error, items, seed=0, provenance={}, mode="refit")
    assert forced.method == "refitted" and forced.model.provenance["fit"]["method"] == "refitted"


def test_a_candidate_that_cannot_be_fitted_leaves_the_other_and_is_named_when_asked_for():
    # Annotators changed the chunks at the end of each item, where the model is sure: WER falls as the shipped
    # score rises, so no mapping of that score fits; a refit finds the position instead.
    rows, items = [], []
    rng = np.random.default_rng(3)
    for i in range(60):
        at_end = i % 6 == 5
        low = float(rng.uniform(0.85, 0.99)) if at_end else float(rng.uniform(0.2, 0.8))
        start = DURATION - 2.0 if at_end else 20.0 + 3.0 * i
        rows.append((chunk_features(chunk(i, (low, 0.9, 0.95), start=start), DURATION), 0.3 if at_end else 0.0))
        items.append(f"rec{i // 6}")
    has_error = np.array([w > 0 for _, w in rows])
    chosen = fit_best(rows, has_error, items, seed=0, provenance={}, mode="auto")
    assert chosen.metrics["recalibrated"] is None and chosen.method == "refitted"
    with pytest.raises(CorrectionError, match="recalibrated: the measured WER does not grow with the model's score"):
        fit_best(rows, has_error, items, seed=0, provenance={}, mode="recalibrate")


@pytest.mark.slow  # two candidates chosen between in each of five folds, on five folds of its training part
def test_the_choice_is_scored_on_folds_that_neither_chose_nor_fitted_it():
    rows = rows_where_doubt_means_errors(60)
    has_error = np.array([w > 0 for _, w in rows])
    items = [f"rec{i // 6}" for i in range(60)]
    splits, _ = folds(has_error, items, seed=0)
    seen: list[set[int]] = []  # the rows each fit was given, in order: the real fits, only watched

    def watched(fit):
        def fit_and_note(part):
            seen.append({id(row) for row in part})
            return fit(part)

        return fit_and_note

    fit = {name: watched(fitter) for name, fitter in fitters(0, {}).items()}
    found = selection_held_out(rows, has_error, items, splits, fit, "auto", seed=0)
    assert found is not None and sum(found["chosen"].values()) == 5 and found["chunks"] == 60, found
    per_fold = 2 * 5 + 1  # each candidate on five inner folds, then the chosen one on the whole training part
    assert len(seen) == 5 * per_fold
    for k, (train, test) in enumerate(splits):
        fits, held = seen[k * per_fold : (k + 1) * per_fold], {id(rows[i]) for i in test}
        assert fits[-1] == {id(rows[i]) for i in train}  # the model that predicts the fold: its training part
        assert not any(rows_seen & held for rows_seen in fits)  # nothing of the fold chose or fitted it
    # One candidate allowed (or given): no choice, nothing to score.
    assert selection_held_out(rows, has_error, items, splits, fit, "refit", seed=0) is None
    assert selection_held_out(rows, has_error, items, splits, {"refitted": fit["refitted"]}, "auto", seed=0) is None
    chosen = fit_best(rows, has_error, items, seed=0, provenance={}, mode="auto")
    assert (
        chosen.metrics[SELECTION] == found  # fit_best scores its choice so
        and fit_best(rows, has_error, items, seed=0, provenance={}, mode="recalibrate").metrics[SELECTION] is None
    )


def smallest_set() -> tuple[list, np.ndarray]:
    """The fewest chunks calibrate fits on: 8 with errors and 16 without."""
    pool = rows_where_doubt_means_errors(80)
    rows = [r for r in pool if r[1] > 0][:8] + [r for r in pool if r[1] == 0][:16]
    return rows, np.array([w > 0 for _, w in rows])


def test_a_small_training_part_is_chosen_on_more_folds_so_that_every_fold_can_be_fitted():
    _, has_error = smallest_set()
    items = [f"rec{i % 8}" for i in range(24)]
    for train, _ in folds(has_error, items, seed=0)[0]:
        part, labels = has_error[train], [items[i] for i in train]
        inner = inner_folds(part, labels, seed=0)
        assert all(min(part[t].sum(), (~part[t]).sum()) >= 5 for t, _ in inner)
        # Five folds where they leave enough; more only where five cannot (6 chunks with errors: 6 folds).
        assert len(inner) == (5 if part.sum() >= 7 else 6)
        assert sorted(np.concatenate([test for _, test in inner]).tolist()) == list(range(len(part)))
    five = np.array([True] * 5 + [False] * 10)  # every fold would leave at most 4 of the 5
    with pytest.raises(ValueError, match="5 chunks of a kind"):
        inner_folds(five, ["one"] * 15, seed=0)


@pytest.mark.slow  # the nested choice on the smallest set calibrate takes
def test_the_choice_is_scored_held_out_on_the_smallest_set_calibrate_takes():
    rows, has_error = smallest_set()
    for items in ([f"rec{i % 8}" for i in range(24)], ["one"] * 24):  # by item, then by chunk
        splits, _ = folds(has_error, items, seed=0)
        found = selection_held_out(rows, has_error, items, splits, fitters(0, {}), "auto", seed=0)
        assert found is not None and "reason" not in found, found
        assert found["chunks"] == 24 and found["with_error"] == 8 and sum(found["chosen"].values()) == 5
        assert found["auc"] > 0.75  # the lowest word decides these chunks, with a little noise


def test_the_summary_shows_the_choice_held_out_and_says_when_the_shipped_models_rank_better():
    def flags(auc: float) -> dict:
        return {"flagged": 12, "precision": 0.5, "recall": 0.8, "recall_95": [0.6, 0.9], "auc": auc}

    metrics = {"uploaded": None, "shipped": flags(0.77), "refitted": flags(0.80), "recalibrated": flags(0.74)}
    chosen = {"chosen": {"recalibrated": 2, "refitted": 3}}

    def summary(selection: dict | None) -> str:
        rows = {"chunks": 40, "with_error": 15, "left_out": 0}
        return calibration_summary(SimpleNamespace(rows=rows, folds=BY_CHUNK, method="refitted",
                                                   metrics={**metrics, SELECTION: selection}), 1)  # fmt: skip

    worse = summary({**flags(0.72), **chosen})
    assert "refitted (held out)                     12      50.0%   80.0%   0.80" in worse, worse
    assert "chosen in each fold (nested)            12      50.0%   80.0%   0.72" in worse, worse
    assert "chosen in 5 folds: recalibrated 2, refitted 3" in worse
    assert "The shipped models rank these chunks better (AUC 0.77) than the choice held out (0.72)" in worse
    better = summary({**flags(0.79), **chosen})
    assert "chosen in each fold (nested)" in better and "rank these chunks better" not in better
    assert "nested" not in summary(None)  # one candidate: no choice to score
    unsplit = summary({"reason": "too few chunks to choose among the candidates with a fold held out"})
    assert "  too few chunks to choose" in unsplit and "rank these chunks better" not in unsplit
