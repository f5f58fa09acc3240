"""The review model: features, the shipped parameters, fitting, labels and doubtful words."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from preannotate.chunking import Chunk
from preannotate.quality import (
    FEATURE_NAMES,
    ReviewModel,
    assess_chunk,
    chunk_features,
    default_model,
    doubtful_words,
    evaluate_review_model,
    fit_review_model,
    fit_word_threshold,
    flag_metrics,
    label_chunks,
)
from preannotate.quality.model import DEFAULT_PATH
from preannotate.results import Word

QUALITY = Path(__file__).resolve().parent.parent / "preannotate" / "quality"


def make_chunk(words, start=5.0, seconds_per_word=0.4, index=0, **signals) -> Chunk:
    """A chunk of (text, probability) words spoken back to back from `start`."""
    items = tuple(
        Word(f" {text}", start + i * seconds_per_word, start + (i + 1) * seconds_per_word, p)
        for i, (text, p) in enumerate(words)
    )
    probabilities = [w.probability for w in items]
    return Chunk(
        index=index,
        start=start,
        end=start + len(items) * seconds_per_word,
        text="".join(w.word for w in items).strip(),
        words=items,
        mean_word_probability=sum(probabilities) / len(probabilities),
        min_word_probability=min(probabilities),
        **{"avg_logprob": -0.2, "no_speech_prob": 0.05, "compression_ratio": 1.5, **signals},
    )


CLEAN = [("Sales", 0.97), ("grew", 0.95), ("in", 0.99), ("the", 0.99), ("spring", 0.93), ("quarter.", 0.96)]
QUARTERLY = [("The", 0.98), ("McWhorgley", 0.05), ("report", 0.94), ("is", 0.97), ("late.", 0.92)]


def simple_normalize(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


# --- features -----------------------------------------------------------------------------------


def test_features_of_a_chunk_with_words():
    chunk = make_chunk([("one", 0.9), ("two", 0.3), ("three", 0.6), ("four", 0.2)], start=0.2)
    f = chunk_features(chunk, transcript_duration=20.0)
    assert list(f) == list(FEATURE_NAMES)
    assert f["min_prob"] == pytest.approx(0.2)
    assert f["log_min_prob"] == pytest.approx(math.log(0.2))
    assert f["mean_prob"] == pytest.approx(0.5)
    assert f["share_low"] == pytest.approx(0.5)
    assert f["n_low"] == 2
    assert f["sum_log_prob"] == pytest.approx(math.log(0.9 * 0.3 * 0.6 * 0.2))
    assert f["words_per_second"] == pytest.approx(4 / 1.6)
    assert f["chars_per_second"] == pytest.approx(len("one two three four") / 1.6)
    assert f["log_n_words"] == pytest.approx(math.log(5))
    assert (f["at_start"], f["at_end"]) == (1.0, 0.0)
    assert f["avg_logprob"] == -0.2


def test_features_mark_the_end_of_the_file():
    chunk = make_chunk(CLEAN, start=17.0)  # words end at 19.4 of 19.8 s
    f = chunk_features(chunk, transcript_duration=19.8)
    assert (f["at_start"], f["at_end"]) == (0.0, 1.0)


def test_features_without_words_use_the_mean_token_probability():
    chunk = Chunk(index=0, start=1.0, end=3.0, text="no word timestamps here", avg_logprob=math.log(0.4))
    f = chunk_features(chunk, transcript_duration=10.0)
    assert all(math.isfinite(v) for v in f.values())
    assert f["min_prob"] == pytest.approx(0.4)
    assert f["mean_prob"] == pytest.approx(0.4)
    assert f["n_low"] == 4
    assert f["sum_log_prob"] == pytest.approx(4 * math.log(0.4))
    assert f["words_per_second"] == pytest.approx(4 / 2.0)


def test_features_with_a_zero_probability_stay_finite():
    f = chunk_features(make_chunk([("uh", 0.0)]), transcript_duration=30.0)
    assert all(math.isfinite(v) for v in f.values())


# --- the shipped model ----------------------------------------------------------------------------


def test_shipped_model_loads_and_predicts_within_0_and_1():
    model = default_model()
    assert set(model.features) <= set(FEATURE_NAMES) and "log_min_prob" in model.features
    assert 0.0 < model.threshold < 1.0 and 0.0 < model.word_threshold < 1.0
    rng = np.random.default_rng(0)
    for _ in range(50):
        features = {n: float(rng.normal(0, 50)) for n in FEATURE_NAMES}
        assert 0.0 <= model.predict_wer(features) <= 1.0
    assert 0.0 <= model.predict_wer(chunk_features(make_chunk(CLEAN), 30.0)) <= 1.0


def test_lower_word_probability_never_lowers_predicted_wer():
    model = default_model()
    predicted = []
    for p in (0.99, 0.9, 0.7, 0.5, 0.3, 0.1, 0.05, 0.01):
        words = [*CLEAN[:3], ("spring", p), *CLEAN[4:]]
        predicted.append(model.predict_wer(chunk_features(make_chunk(words), 30.0)))
    assert predicted == sorted(predicted)
    assert predicted[-1] > predicted[0] + 0.05


def test_each_confidence_signal_alone_moves_predicted_wer_its_way():
    # All else equal, less confidence never lowers the prediction (a coefficient may be 0, never of the wrong sign).
    model = default_model()
    base = chunk_features(make_chunk(CLEAN), 30.0)
    worse = {
        "log_min_prob": math.log(0.05),
        "min_prob": 0.05,
        "mean_prob": 0.5,
        "sum_log_prob": base["sum_log_prob"] - 3,
        "n_low": 3.0,
        "share_low": 0.5,
        "avg_logprob": -1.5,
        "no_speech_prob": 0.9,
        "compression_ratio": 3.0,
        "temperature": 1.0,
    }
    for name, value in worse.items():
        assert model.predict_wer({**base, name: value}) >= model.predict_wer(base), name
    assert model.predict_wer({**base, **worse}) > model.predict_wer(base) + 0.3


def test_a_word_at_005_gets_the_chunk_reviewed_and_is_pointed_at():
    chunk = make_chunk(QUARTERLY)
    verdict = assess_chunk(chunk, transcript_duration=30.0)
    assert verdict.needs_review
    assert [(d.index, d.word, d.probability) for d in verdict.doubtful_words] == [(1, "McWhorgley", 0.05)]


def test_a_confident_chunk_is_not_reviewed():
    verdict = assess_chunk(make_chunk(CLEAN), transcript_duration=30.0)
    assert not verdict.needs_review
    assert verdict.doubtful_words == []


def test_loading_and_predicting_do_not_import_scikit_learn():
    code = (
        "import sys; from preannotate.quality import default_model, FEATURE_NAMES;"
        "default_model().predict_wer({n: 0.5 for n in FEATURE_NAMES});"
        "print('sklearn' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_a_run_with_the_reviewer_imports_neither_jiwer_nor_scikit_learn():
    # Labelling (jiwer) and fitting (scikit-learn) are for `calibrate` and the benchmark only;
    # a run that assesses chunks must work where neither is installed.
    code = (
        "import preannotate.review, preannotate.quality, sys;"
        "from preannotate.chunking import Chunk;"
        "from preannotate.results import Word;"
        "w = Word(' McWhorgley', 0.0, 0.5, 0.05);"
        "c = Chunk(index=0, start=0.0, end=0.5, text='McWhorgley', words=(w,), avg_logprob=-0.2,"
        " no_speech_prob=0.05, compression_ratio=1.5, mean_word_probability=0.05, min_word_probability=0.05);"
        "[out] = preannotate.review.Reviewer.default().assess([c], 10.0);"
        "assert out.needs_review, out;"
        "assert 'jiwer' not in sys.modules and 'sklearn' not in sys.modules, 'imported jiwer or sklearn'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-1500:]


def test_model_round_trips_through_json(tmp_path):
    model = default_model()
    model.save(tmp_path / "m.json")
    assert ReviewModel.load(tmp_path / "m.json") == model
    with pytest.raises(ValueError, match="preannotate-review-model"):
        ReviewModel.from_dict({**model.to_dict(), "format": "other"})
    with pytest.raises(ValueError, match="wer_slope"):
        ReviewModel.from_dict({**model.to_dict(), "wer_slope": -1.0})


def test_provenance_note_names_its_data_and_heldout_results():
    note = (QUALITY / "README.md").read_text().lower()
    for needed in ("espeak-ng", "tools/fit_review_model.py", "bundled:tiny.en", "bundled:base", "held-out", "seed"):
        assert needed in note
    provenance = json.loads(DEFAULT_PATH.read_text())["provenance"]
    assert {"train/bundled:tiny.en", "heldout/bundled:base"} <= set(provenance["counts"])
    for model in ("bundled:tiny.en", "bundled:base"):
        heldout = provenance["heldout"][model]["review_model"]
        assert heldout["chunks"] > 0 and heldout["recall"] is not None


# --- doubtful words -----------------------------------------------------------------------------


def test_doubtful_words_are_those_under_the_threshold_with_their_index():
    chunk = make_chunk([("a", 0.9), ("b", 0.2), ("c", 0.49), ("d", 0.5), ("e", 0.01)])
    assert doubtful_words(chunk, 0.5) == [(1, "b", 0.2), (2, "c", 0.49), (4, "e", 0.01)]
    assert doubtful_words(chunk, 0.1) == [(4, "e", 0.01)]
    assert doubtful_words(Chunk(0, 0.0, 1.0, "no words"), 0.5) == []


# --- fitting ------------------------------------------------------------------------------------


def synthetic_rows(n=300, seed=1):
    """Rows with errors where the lowest word probability is under 0.4 (8% flipped); other features are noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        features = {name: float(rng.normal()) for name in FEATURE_NAMES}
        p = float(rng.uniform(0.01, 1.0))
        features.update(min_prob=p, log_min_prob=math.log(p))
        error = (p < 0.4) != (rng.random() < 0.08)
        wer = float(np.clip(0.1 + (0.4 - p) + rng.normal(0, 0.05), 0.05, 1.0)) if error else 0.0
        rows.append((features, wer))
    return rows


def test_fitting_recovers_an_obvious_relation():
    rows = synthetic_rows()
    model = fit_review_model(rows, target_recall=0.8, provenance={"data": "synthetic"})
    low = {**rows[0][0], "min_prob": 0.05, "log_min_prob": math.log(0.05)}
    high = {**rows[0][0], "min_prob": 0.95, "log_min_prob": math.log(0.95)}
    assert model.predict_wer(low) > model.predict_wer(high) + 0.1
    assert model.provenance["data"] == "synthetic"
    held = evaluate_review_model(model, synthetic_rows(seed=2))
    assert held["recall"] >= 0.7 and held["precision"] >= 0.7 and held["auc"] > 0.8
    assert abs(held["mean_predicted_wer"] - held["mean_measured_wer"]) < 0.03


def test_fitting_keeps_a_feature_with_the_wrong_sign_at_zero():
    rows = synthetic_rows()
    # Make a higher no-speech probability go with fewer errors: against its known direction.
    rows = [({**f, "no_speech_prob": -3.0 * w + 0.01 * f["duration"]}, w) for f, w in rows]
    model = fit_review_model(rows)
    assert "no_speech_prob" in model.provenance["fit"]["zero_features"]
    assert model.coef[model.features.index("no_speech_prob")] == 0.0


def test_grouped_threshold_reaches_the_recall_in_each_group():
    easy, hard = synthetic_rows(seed=3), synthetic_rows(seed=4)
    # In `hard`, errors also come with confident words: the pooled threshold would miss more of them.
    hard = [
        ({**f, "min_prob": 0.9, "log_min_prob": math.log(0.9)}, 0.2) if i % 3 == 0 else (f, w)
        for i, (f, w) in enumerate(hard)
    ]
    rows, groups = easy + hard, ["easy"] * len(easy) + ["hard"] * len(hard)
    pooled = fit_review_model(rows, target_recall=0.8)
    grouped = fit_review_model(rows, target_recall=0.8, groups=groups)
    assert grouped.threshold < pooled.threshold
    flagged = [grouped.predict_wer(f) > grouped.threshold for f, _ in hard]
    assert flag_metrics([w > 0 for _, w in hard], flagged).recall >= 0.8


def test_fitting_needs_both_kinds_of_chunk():
    rows = [({n: 0.0 for n in FEATURE_NAMES}, 0.0)] * 50
    with pytest.raises(ValueError, match="with and without errors"):
        fit_review_model(rows)


def test_word_threshold_separates_wrong_words():
    words = [(p, True) for p in (0.05, 0.1, 0.2, 0.3)] + [(p, False) for p in (0.45, 0.6, 0.8, 0.9, 0.95)]
    assert 0.3 < fit_word_threshold(words) <= 0.45


def test_flag_metrics_counts():
    m = flag_metrics([True, True, False, False, True], [True, False, True, False, True])
    assert (m.recall, m.precision) == (2 / 3, 2 / 3)
    assert flag_metrics([False], [False]).recall is None


def test_flag_metrics_intervals_are_wilson_intervals():
    # 20 of 28 chunks with errors flagged (base on the benchmark set), by hand: p = 20/28, z = 1.96,
    # centre (p + z^2/2n) / (1 + z^2/n) = 0.688, half-width z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n) = 0.159
    m = flag_metrics([True] * 28 + [False] * 12, [True] * 20 + [False] * 8 + [True] * 12)
    low, high = m.recall_interval
    assert (round(low, 3), round(high, 3)) == (0.529, 0.847)
    assert m.to_dict()["recall_95"] == [0.529, 0.847] and m.to_dict()["precision_95"][1] < m.precision + 0.2
    assert flag_metrics([True, True], [True, True]).recall_interval[1] == pytest.approx(1.0)  # stays in [0, 1]
    assert flag_metrics([False], [False]).recall_interval is None
    assert flag_metrics([True], [False]).precision_interval is None  # nothing flagged


# --- labels ---------------------------------------------------------------------------------------


def test_labels_attribute_substitutions_and_insertions_to_their_chunk():
    first = make_chunk([("the", 0.9), ("cat", 0.9), ("sat", 0.9)], start=0.0)
    second = make_chunk([("on", 0.9), ("a", 0.4), ("the", 0.9), ("mat", 0.2)], start=3.0, index=1)
    labels, lost = label_chunks([first, second], "The cat sat. On the hat.", simple_normalize)
    assert [(lab.errors, lab.ref_words, lab.wrong_words) for lab in labels] == [(0, 3, ()), (2, 3, (1, 3))]
    assert labels[1].wer == pytest.approx(2 / 3) and labels[1].has_error and not labels[0].has_error
    assert lost == 0


def test_labels_put_a_deleted_word_in_the_chunk_nearest_in_time():
    first = make_chunk([("good", 0.9), ("morning", 0.9)], start=0.0)
    second = make_chunk([("see", 0.9), ("you", 0.9)], start=6.0, index=1)
    sentences = [("good morning everyone", 0.0, 1.2), ("see you", 6.0, 6.8)]
    labels, _ = label_chunks([first, second], sentences, simple_normalize)
    assert [(lab.errors, lab.ref_words) for lab in labels] == [(1, 3), (0, 2)]
    sentences = [("good morning", 0.0, 0.8), ("well see you", 5.6, 6.8)]
    labels, _ = label_chunks([first, second], sentences, simple_normalize)
    assert [(lab.errors, lab.ref_words) for lab in labels] == [(0, 2), (1, 3)]


def test_labels_leave_skipped_speech_far_from_any_chunk_unattributed():
    chunk = make_chunk([("hello", 0.9)], start=0.0)
    sentences = [("hello", 0.0, 0.4), ("a sentence nobody heard", 20.0, 22.0)]
    labels, lost = label_chunks([chunk], sentences, simple_normalize)
    assert (labels[0].errors, lost) == (0, 4)


def test_labels_use_whispers_normalizer_on_numbers():
    from preannotate.quality.labels import english_normalizer

    chunk = make_chunk([("It", 0.9), ("cost", 0.9), ("twenty", 0.8), ("five", 0.8), ("dollars.", 0.9)])
    labels, _ = label_chunks([chunk], "It cost 25 dollars.", english_normalizer())
    assert labels[0].errors == 0


def test_labels_count_no_error_for_a_reference_that_trails_off():
    """Asterisk's prompt "To leave the conference..." read as written: no word deleted (as the report counts)."""
    from preannotate.quality.labels import english_normalizer

    chunk = make_chunk([("To", 0.9), ("leave", 0.9), ("the", 0.9), ("conference.", 0.9)])
    labels, _ = label_chunks([chunk], "To leave the conference...", english_normalizer())
    assert (labels[0].errors, labels[0].ref_words) == (0, 4)


def test_a_chunk_of_invented_words_counts_wer_1():
    invented = make_chunk([("thanks", 0.3), ("for", 0.3), ("watching", 0.3)], start=9.0)
    labels, _ = label_chunks([invented], "", simple_normalize)
    assert labels[0].wer == 1.0 and labels[0].wrong_words == (0, 1, 2)


def test_assess_chunk_takes_another_model():
    model = replace(default_model(), threshold=0.999, word_threshold=0.01)
    verdict = assess_chunk(make_chunk(QUARTERLY), 30.0, model)
    assert not verdict.needs_review and verdict.doubtful_words == []
