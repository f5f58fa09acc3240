"""A language model's rival words (`lm_rival`) and the review model of English drafts that reads them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from support.check_words import chunk
from support.configs import config, english_folder
from support.pulled_runs import ANNOTATION, long_run

from preannotate.correction.calibrate import calibrate
from preannotate.correction.calibrate_choice import fit_best
from preannotate.errors import ConfigError, ModelError
from preannotate.options import AnnotationOptions, CorrectionOptions
from preannotate.quality import ReviewModel, assess_chunk, chunk_features, default_model
from preannotate.quality import rivals as rivals_module
from preannotate.quality.features import ENGLISH_FEATURES, MODEL_FEATURES
from preannotate.quality.model import english_model, languages_model
from preannotate.quality.rivals import lm_rival, shipped_rivals
from preannotate.results import Transcript
from preannotate.review import Reviewer
from preannotate.run import run_pipeline, stages
from preannotate.run.chunks import chunk_item

MOAT = ("The", "next", "morning", "the", "moat", "carried", "us", "safely", "home.")


def test_a_word_one_phone_from_a_much_likelier_one_gains_and_the_right_word_does_not() -> None:
    rivals = shipped_rivals()
    assert rivals is not None
    assert "boat" in rivals.rivals("moat") and "writing" in rivals.rivals("riding")  # one phone apart
    assert "moat" not in rivals.rivals("moat")
    wrong = rivals.gains([w.lower().strip(".") for w in MOAT])
    right = rivals.gains([w.lower().strip(".") for w in (*MOAT[:4], "boat", *MOAT[5:])])
    assert wrong[4] is not None and right[4] is not None
    assert wrong[4] > 3.0 and right[4] < 0.5  # "the boat carried us" is far likelier than "the moat carried us"
    assert lm_rival(chunk(MOAT)) >= wrong[4] > lm_rival(chunk((*MOAT[:4], "boat", *MOAT[5:]))) - 0.5


def test_words_the_model_does_not_know_count_nothing_and_punctuation_is_read_off() -> None:
    rivals = shipped_rivals()
    assert rivals is not None
    assert rivals.gains(["zxqwv", "1455", ""]) == [None, None, None]
    assert lm_rival(chunk(("Zxqwv", "Qwzzt"))) == 0.0
    assert lm_rival(chunk(("The", "moat,", "carried"))) == lm_rival(chunk(("the", "moat", "carried")))
    assert lm_rival(chunk(("(moat)",))) == lm_rival(chunk(("moat",)))


def test_the_english_model_reads_the_rivals_and_meets_the_target_held_out() -> None:
    model = english_model()
    assert model.coef[model.features.index("lm_rival")] > 0
    assert "lm_rival" not in default_model().features
    for name in ("bundled:tiny.en", "bundled:base"):
        held_out = model.provenance["evaluation"][name]["held out"]
        assert held_out["recall"] >= 0.8 and held_out["precision"] >= 0.6, name
    # The same confident chunk is more doubtful with its moat than with its boat.
    wrong, right = chunk(MOAT), chunk((*MOAT[:4], "boat", *MOAT[5:]))
    assert assess_chunk(wrong, 60.0, model).predicted_wer > assess_chunk(right, 60.0, model).predicted_wer


@pytest.mark.parametrize("options", [AnnotationOptions(), AnnotationOptions(cross_check=None)])
def test_english_files_without_a_check_are_assessed_with_the_english_model_and_others_with_theirs(options) -> None:
    reviewer = Reviewer.from_options(options)
    [english] = reviewer.assess([chunk(MOAT)], 60.0, language="en")
    [spanish] = reviewer.assess([chunk(MOAT)], 60.0, language="es")
    [unknown] = reviewer.assess([chunk(MOAT)], 60.0)
    assert english.predicted_wer == assess_chunk(chunk(MOAT), 60.0, english_model()).predicted_wer
    assert spanish.predicted_wer == assess_chunk(chunk(MOAT), 60.0, languages_model()).predicted_wer
    assert unknown.predicted_wer == assess_chunk(chunk(MOAT), 60.0).predicted_wer
    assert len({english.predicted_wer, spanish.predicted_wer, unknown.predicted_wer}) == 3


def test_a_teams_own_model_assesses_english_files_too(tmp_path: Path) -> None:
    own = tmp_path / "own.json"
    default_model().save(own)
    reviewer = Reviewer.from_options(AnnotationOptions(review_model=str(own)))
    assert reviewer.english is None
    [english] = reviewer.assess([chunk(MOAT)], 60.0, language="en")
    assert english.predicted_wer == assess_chunk(chunk(MOAT), 60.0).predicted_wer


def test_a_teams_model_calibrated_on_english_corrections_assesses_the_english_files_only(
    tmp_path: Path, monkeypatch
) -> None:
    own = tmp_path / "own.json"  # the shipped English model with another WER mapping, as calibrate writes one
    shipped = english_model()
    replace(shipped, wer_intercept=shipped.wer_intercept + 0.5, provenance={}).save(own)
    reviewer = Reviewer.from_options(AnnotationOptions(review_model=str(own)))
    [english] = reviewer.assess([chunk(MOAT)], 60.0, language="en")
    [spanish] = reviewer.assess([chunk(MOAT)], 60.0, language="es")
    assert english.predicted_wer == assess_chunk(chunk(MOAT), 60.0, ReviewModel.load(own)).predicted_wer
    assert spanish.predicted_wer == assess_chunk(chunk(MOAT), 60.0, languages_model()).predicted_wer  # no rivals
    # Both assess files of a run, so a new review_model.json re-assesses its chunks; not those of a team's model
    # that assesses every file.
    plain = tmp_path / "plain.json"
    default_model().save(plain)
    english_folder(tmp_path)
    teams = [config(tmp_path, f"annotation.review_model={path}") for path in (own, plain)]
    before = [stages.stage_keys(c, "m")["chunk"] for c in teams]
    monkeypatch.setattr(stages, "SHIPPED_REVIEW_MODEL", own)
    after = [stages.stage_keys(c, "m")["chunk"] for c in teams]
    assert before[0] != after[0] and before[1] == after[1]


def test_a_tiny_english_run_exports_the_english_models_verdicts(tmp_path: Path, tiny_model) -> None:
    english_folder(tmp_path)
    report = run_pipeline(config(tmp_path), progress=False)
    assert "check" not in report.stages  # auto leaves tiny drafts unchecked: the English model assesses them
    rows = [json.loads(line) for line in (tmp_path / "out" / "chunks.jsonl").read_text().splitlines()]
    assert rows and all(r["language"] == "en" for r in rows)
    options, plain = config(tmp_path).chunking, Reviewer(default_model(), default_model().threshold)
    differ = []
    for result in report.files:
        stored = json.loads((tmp_path / "out" / "transcripts" / f"{result.item}.json").read_text())
        transcript = Transcript.from_dict(stored)
        exported = [r["predicted_wer"] for r in rows if r["item"] == result.item]
        english = [c.predicted_wer for c in chunk_item(result.item, "", transcript, options).chunks]
        assert exported and exported == english, result.item
        without = chunk_item(result.item, "", transcript, options, plain).chunks
        differ += [e != c.predicted_wer for e, c in zip(exported, without)]
    assert any(differ)  # review_model.json alone would have given other figures


@pytest.mark.parametrize("shipped_file", ["ENGLISH_REVIEW_MODEL", "LANGUAGES_REVIEW_MODEL"])
def test_a_new_english_or_other_languages_model_assesses_the_chunks_again_and_a_teams_own_model_ignores_it(
    tmp_path: Path, monkeypatch, shipped_file: str
) -> None:
    other = tmp_path / "shipped.json"
    default_model().save(other)
    english_folder(tmp_path)
    own = tmp_path / "own.json"
    default_model().save(own)
    shipped, teams = config(tmp_path), config(tmp_path, f"annotation.review_model={own}")
    before = stages.stage_keys(shipped, "m"), stages.stage_keys(teams, "m")
    monkeypatch.setattr(stages, shipped_file, other)  # a folder's languages are known only once transcribed
    after = stages.stage_keys(shipped, "m"), stages.stage_keys(teams, "m")
    assert before[0]["chunk"] != after[0]["chunk"] and before[0]["transcribe"] == after[0]["transcribe"]
    assert before[1] == after[1]


def test_without_its_language_model_an_english_file_is_assessed_by_the_model_without_it(
    tmp_path: Path, monkeypatch, caplog
) -> None:
    (tmp_path / "en-us.lm.bin").write_bytes(b"not a language model")
    monkeypatch.setattr(rivals_module, "FOLDER", tmp_path)
    rivals_module.shipped_rivals.cache_clear()
    try:
        reviewer = Reviewer.from_options(AnnotationOptions())
        [english] = reviewer.assess([chunk(MOAT)], 60.0, language="en")
        [again] = reviewer.assess([chunk(MOAT)], 60.0, language="en")
        with pytest.raises(ModelError, match="cannot be loaded"):
            lm_rival(chunk(MOAT))
        own = tmp_path / "calibrated.json"
        english_model().save(own)  # what calibrate writes from English corrections reads lm_rival too
        with pytest.raises(ConfigError, match="reads lm_rival"):
            Reviewer.from_options(AnnotationOptions(review_model=str(own)))
    finally:
        rivals_module.shipped_rivals.cache_clear()  # the next test loads the real one again
    assert english.predicted_wer == again.predicted_wer == assess_chunk(chunk(MOAT), 60.0).predicted_wer
    warnings = [r for r in caplog.records if "cannot be loaded" in r.getMessage()]
    assert len(warnings) == 1 and str(tmp_path) in warnings[0].getMessage()  # once, naming the file


def test_calibrate_refits_english_corrections_with_the_rivals_and_others_without(tmp_path: Path) -> None:
    options = CorrectionOptions(calibration="refit")
    for name in ("en", "es"):
        (tmp_path / name).mkdir()
    english = calibrate([long_run(tmp_path / "en")], ANNOTATION, options)
    other = long_run(tmp_path / "es")
    record = json.loads((other / "run.json").read_text())
    record["files"] = [{**f, "language": "es"} for f in record["files"]]
    (other / "run.json").write_text(json.dumps(record))
    spanish = calibrate([other], ANNOTATION, options)
    assert english.model.features == ENGLISH_FEATURES and spanish.model.features == MODEL_FEATURES


def test_english_corrections_recalibrate_the_english_model_and_others_review_model() -> None:
    rng = np.random.default_rng(3)
    rows, items = [], []
    for i in range(80):  # a low first word means an annotator's change, mostly
        low = float(rng.uniform(0.02, 0.99))
        wrong = (low < 0.45) != (rng.uniform() < 0.1)
        timed = chunk(MOAT if i % 2 else (*MOAT[:4], "boat", *MOAT[5:]), start=10.0 + 6 * i)
        timed = replace(timed, words=(replace(timed.words[0], probability=low), *timed.words[1:]))
        features = chunk_features(timed, 600.0, rival=lm_rival(timed))
        rows.append((features, 0.2 if wrong else 0.0))
        items.append(f"item{i % 10}")
    has_error = np.array([w > 0 for _, w in rows])
    for english, shipped in ((True, english_model()), (False, default_model())):
        chosen = fit_best(rows, has_error, items, 0, {}, "recalibrate", english)
        assert chosen.model.features == shipped.features and chosen.model.coef == shipped.coef
        assert (chosen.model.wer_slope, chosen.model.wer_intercept) != (shipped.wer_slope, shipped.wer_intercept)
