"""The review model of drafts in other languages than English (`review_model_languages.json`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from support.check_words import chunk, heard

from preannotate.correction.calibrate import assessed, shipped_metrics
from preannotate.options import AnnotationOptions
from preannotate.quality import assess_chunk, default_model
from preannotate.quality.model import (
    CHECKED,
    LANGUAGES,
    PLAIN,
    checked_model,
    languages_model,
    shipped_recipe,
)
from preannotate.review import Reviewer

# "Please enter your password followed by the pound key", every word at 0.8: sure enough for review_model.json,
# not for base's real errors in other languages, which it makes at such probabilities.
PROMPT = ("Por", "favor", "ingrese", "su", "contraseña", "seguida", "de", "la", "tecla", "numeral.")


def test_it_keeps_review_model_jsons_score_and_moves_its_mapping_and_threshold() -> None:
    shipped, plain = languages_model(), default_model()
    assert (shipped.features, shipped.mean, shipped.scale) == (plain.features, plain.mean, plain.scale)
    # Refitting review_model.json means running tools/review_languages.py --save again: this fails until then.
    assert (shipped.coef, shipped.intercept) == (plain.coef, plain.intercept)
    assert (shipped.wer_slope, shipped.wer_intercept) != (plain.wer_slope, plain.wer_intercept)
    assert shipped.provenance["fit"]["method"] == "recalibrated"
    assert shipped_recipe(LANGUAGES) == (shipped, plain.features)


def test_one_language_out_it_met_the_rule_it_was_shipped_by() -> None:
    held_out = languages_model().provenance["held_out_by_language"]
    assert set(held_out) == {"es", "fr", "it", "ru"}
    for language, m in held_out.items():  # tools/review_languages.py's rule, fitted on the other three
        assert m["recall"] >= 0.7 and m["precision"] >= m["with_error"] / m["chunks"] + 0.05, language
    # Its doubtful words: the second rule kept review_model.json's threshold unless it listed better everywhere.
    by_word = languages_model().provenance["word_threshold_by_language"]
    if not all(w["fitted"]["f1"] > w["shipped"]["f1"] for w in by_word.values()):
        assert languages_model().word_threshold == default_model().word_threshold


def test_unchecked_drafts_in_other_languages_are_assessed_with_it() -> None:
    draft = chunk(PROMPT, probability=0.8)
    plain, other = assess_chunk(draft, 60.0), assess_chunk(draft, 60.0, languages_model())
    assert plain.predicted_wer <= default_model().threshold < languages_model().threshold < other.predicted_wer
    for options in (AnnotationOptions(), AnnotationOptions(cross_check=None)):
        reviewer = Reviewer.from_options(options)
        [spanish] = reviewer.assess([draft], 60.0, language="es")
        [unknown] = reviewer.assess([draft], 60.0)
        assert spanish.needs_review and spanish.predicted_wer == other.predicted_wer
        assert not unknown.needs_review and unknown.predicted_wer == plain.predicted_wer
    # A Spanish file checked by a multilingual model is the checked model's.
    reviewer = Reviewer.from_options(AnnotationOptions(cross_check="bundled:base"))
    [checked] = reviewer.assess([draft], 60.0, heard(PROMPT), language="es")
    assert checked.predicted_wer == assess_chunk(draft, 60.0, checked_model()).predicted_wer


def test_a_teams_own_model_assesses_every_language_and_its_threshold_applies(tmp_path: Path) -> None:
    own = tmp_path / "own.json"
    default_model().save(own)
    reviewer = Reviewer.from_options(AnnotationOptions(review_model=str(own)))
    assert reviewer.languages is None
    [spanish] = reviewer.assess([chunk(PROMPT, probability=0.8)], 60.0, language="es")
    assert not spanish.needs_review
    strict = Reviewer.from_options(AnnotationOptions(review_threshold=0.5))
    assert strict.languages == (languages_model(), 0.5)


def test_calibrate_scores_other_languages_chunks_with_it() -> None:
    draft = chunk(PROMPT, probability=0.8)
    assert assessed(draft, 60.0, False, language="es")[0] == LANGUAGES
    assert assessed(draft, 60.0, False, language="en")[0] == PLAIN  # English without its language model
    assert assessed(draft, 60.0, False)[0] == PLAIN
    assert assessed(draft, 60.0, False, heard(PROMPT), language="es")[0] == CHECKED
    rows, has_error = [(assessed(draft, 60.0, False)[1], 0.2)], np.array([True])
    as_run, as_plain = shipped_metrics(rows, has_error, [LANGUAGES]), shipped_metrics(rows, has_error, [PLAIN])
    assert as_run is not None and as_plain is not None
    assert (as_run["flagged"], as_plain["flagged"]) == (1, 0)
