"""`preannotate calibrate` on checked drafts: candidates that read the check, and a team's model that does.

Drafts a second model checked (`annotation.cross_check`, on by default for base) were assessed with the words
it heard otherwise; calibrate reads them back from the run's `checks/` and adds two candidates made from the
shipped model for checked drafts. A model written from them makes the next runs check their drafts, and
assesses the checked files; the files without a check keep the shipped models.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from support.check_words import chunk, heard
from support.configs import config, english_folder
from support.correction_runs import N_CHUNKS, long_chunk, make_long_run, run_cli
from support.sa_server import SuperAnnotateServer

from preannotate.check_store import check_path, read_checks
from preannotate.correction.calibrate import assessed, chunk_from_record, shipped_metrics
from preannotate.correction.calibrate_choice import SELECTION, WITH_CHECK, choose, fit_best
from preannotate.errors import ConfigError
from preannotate.options import AnnotationOptions
from preannotate.quality import ReviewModel, chunk_features
from preannotate.quality.crosscheck import CheckWord, unconfirmed_words
from preannotate.quality.model import (
    CHECKED,
    ENGLISH,
    PLAIN,
    SLOWED,
    checked_model,
    default_model,
    shipped_recipe,
    slowed_model,
)
from preannotate.report import RunReport
from preannotate.review import Reviewer, reads_check, reads_slowed
from preannotate.run import export_chunks, run_pipeline
from preannotate.run.check import calibrated_check_mismatch, checking
from preannotate.run.stages import stage_keys

# The chunks annotators changed: sure of every word, but the check heard their first word otherwise.
HEARD_OTHERWISE = {i for i in range(N_CHUNKS) if i % 3 == 1}
# And chunks the check heard otherwise that annotators left as they were (a check is not always right).
CHECK_WRONG = {5, 23}
DURATION = 600.0


def test_auto_writes_the_best_of_four_and_prefers_fewer_numbers_then_no_check_on_a_tie() -> None:
    low, high = {"auc": 0.64}, {"auc": 0.71}
    four = {"refitted": low, "recalibrated": low, "refitted" + WITH_CHECK: high, "recalibrated" + WITH_CHECK: low}
    assert choose(four, "auto") == "refitted" + WITH_CHECK
    assert choose(four, "recalibrate") == "recalibrated"  # the best of that method, here a tie: without the check
    assert choose({**four, "recalibrated" + WITH_CHECK: high}, "recalibrate") == "recalibrated" + WITH_CHECK
    tie = dict.fromkeys(four, high)
    assert choose(tie, "auto") == "recalibrated" and choose(tie, "refit") == "refitted"
    assert choose({"recalibrated": low}, "refit") == ""  # nothing of that method could be fitted


def rows_where_the_check_finds_the_errors(n: int, seed: int = 2) -> list[tuple[dict, float]]:
    """Sure chunks whose errors are the ones a check heard otherwise (most of them), word probabilities no help."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        wrong = rng.uniform() < 0.35
        unconfirmed = int(wrong != (rng.uniform() < 0.1))  # the check is wrong one time in ten
        probability = float(rng.uniform(0.6, 0.99))
        features = chunk_features(chunk(probability=probability, start=5.0 + 3 * i), DURATION, unconfirmed=unconfirmed)
        rows.append((features, 0.2 if wrong else 0.0))
    return rows


@pytest.mark.slow  # four candidates, five folds each
def test_checked_drafts_get_two_more_candidates_and_the_check_wins_where_it_finds_the_errors() -> None:
    rows = rows_where_the_check_finds_the_errors(90)
    has_error = np.array([w > 0 for _, w in rows])
    items = [f"rec{i // 6}" for i in range(90)]
    plain = fit_best(rows, has_error, items, seed=0, provenance={}, mode="auto")
    assert set(plain.metrics) == {"refitted", "recalibrated", SELECTION}
    chosen = fit_best(rows, has_error, items, seed=0, provenance={}, mode="auto", checked=CHECKED)
    assert set(chosen.metrics) == {"refitted", "recalibrated", "refitted_checked", "recalibrated_checked", SELECTION}
    # The choice held out too: each fold's training part chose a candidate with the check, and found the errors.
    selection = chosen.metrics[SELECTION]
    assert selection is not None and sum(selection["chosen"].values()) == 5, selection
    assert all(name.endswith(WITH_CHECK) for name in selection["chosen"]) and selection["recall"] >= 0.8
    # Without the check no model finds them: a candidate that cannot be fitted counts as chance.
    best_without = max(0.5, *(m["auc"] for n in ("refitted", "recalibrated") if (m := chosen.metrics[n])))
    best_with = max(chosen.metrics[n]["auc"] for n in ("refitted_checked", "recalibrated_checked"))
    assert best_with > best_without + 0.2 and best_with > 0.8, chosen.metrics
    assert chosen.method.endswith(WITH_CHECK) and "unconfirmed_words" in chosen.model.features
    assert chosen.metrics[chosen.method]["recall"] >= 0.8
    if chosen.method == "recalibrated" + WITH_CHECK:  # the shipped checked model's score, kept
        assert chosen.model.coef == checked_model().coef
    # With the slowed decode's words too, the pair starts from the shipped slowed model's recipe.
    slowed = fit_best(rows, has_error, items, seed=0, provenance={}, mode="recalibrate", checked=SLOWED)
    assert slowed.method == "recalibrated" + WITH_CHECK and slowed.model.features == slowed_model().features


def test_a_chunk_is_assessed_as_its_run_did_and_scored_with_that_shipped_model() -> None:
    draft = chunk(("Welcome", "to", "the", "mystery", "of", "writing."))
    check = heard(("Welcome", "to", "the", "history", "of", "writing."))
    slowed = heard(("Welcome", "two", "the", "mystery", "off", "writing."))
    assert assessed(draft, 60.0, english=False)[0] == PLAIN
    kind, features = assessed(draft, 60.0, False, check)
    assert kind == CHECKED and (features["unconfirmed_words"], features["unstable_words"]) == (1.0, 0.0)
    kind, features = assessed(draft, 60.0, False, check, slowed)
    assert kind == SLOWED and (features["unconfirmed_words"], features["unstable_words"]) == (1.0, 2.0)
    kind, features = assessed(draft, 60.0, True)
    assert kind == ENGLISH and features["unconfirmed_words"] == 0.0
    # Each chunk is scored with the model that assessed it: the checked model ranks the contradicted one higher.
    draft = chunk(("Welcome", "to", "the", "mystery", "of", "writing."), probability=0.8)
    otherwise = heard(("Welcome", "two", "the", "history", "off", "writing."))
    rows = [(assessed(draft, 60.0, False)[1], 0.0), (assessed(draft, 60.0, False, otherwise)[1], 0.5)]
    has_error = np.array([False, True])
    as_run = shipped_metrics(rows, has_error, [PLAIN, CHECKED])
    as_plain = shipped_metrics(rows, has_error, [PLAIN, PLAIN])  # the same words and probabilities: a tie
    assert as_run is not None and as_plain is not None and (as_run["auc"], as_plain["auc"]) == (1.0, 0.5)


def add_checks(run: Path, key: str = "check-key") -> None:
    """What the check stage would have stored for the long run: its words, the first of some chunks otherwise."""
    words = []
    for i in range(N_CHUNKS):
        for k, word in enumerate(long_chunk(i).words):
            text = "other" if k == 0 and i in HEARD_OTHERWISE | CHECK_WRONG else word.word
            words.append([word.start + 0.01, word.end - 0.01, text])
    meta = {"item": "long.wav", "options_key": key, "model": "bundled:tiny.en", "language": "en"}
    check_path(run, "long.wav").parent.mkdir()
    check_path(run, "long.wav").write_text(json.dumps({"meta": meta, "words": words}))
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**record, "stages": {**record.get("stages", {}), "check": key}}))


@pytest.fixture
def checked_run(sa_server: SuperAnnotateServer, tmp_path: Path) -> Path:
    """The long run (40 sure or unsure chunks) with a stored check; the chunks it heard otherwise corrected."""
    run = make_long_run(sa_server, tmp_path, HEARD_OTHERWISE)
    add_checks(run)
    return run


@pytest.mark.slow  # four candidates, five folds each, in the command line
def test_calibrate_reads_the_runs_check_and_writes_a_model_that_reads_it(checked_run: Path, tmp_path: Path) -> None:
    check, _ = read_checks(checked_run, "long.wav", "check-key")
    assert check is not None and unconfirmed_words(long_chunk(1), check) == 1
    done = run_cli("calibrate", "-o", str(checked_run))
    assert done.returncode == 0, done.stderr
    path = checked_run / "correction" / "review_model.json"
    model = ReviewModel.load(path)
    held_out = model.provenance["held_out"]
    assert {"refitted_checked", "recalibrated_checked"} <= held_out.keys()
    assert "refitted with the check (held out)" in done.stdout and "shipped checked, recalibrated" in done.stdout
    # The check found 13 of the 13 corrected chunks and 2 it should not have; word probabilities found none.
    assert model.provenance["method"].endswith(WITH_CHECK) and "unconfirmed_words" in model.features
    assert held_out[model.provenance["method"]]["recall"] >= 0.9
    assert all(held_out[n] is None or held_out[n]["auc"] < 0.7 for n in ("refitted", "recalibrated")), held_out
    written = [line for line in done.stdout.splitlines() if line.endswith("<- written")]
    assert len(written) == 1 and ("with the check" in written[0] or "shipped checked" in written[0]), done.stdout
    assert model.provenance["rows"]["checked"] == N_CHUNKS and f"{N_CHUNKS} of them checked by a second" in done.stdout
    # Used in the next runs, it assesses the checked files; the others keep the shipped models.
    reviewer = Reviewer.from_options(AnnotationOptions(review_model=str(path)))
    assert reviewer.checked is not None and reviewer.checked[0] == model and reviewer.slowed is None
    assert reviewer.model == default_model()
    sure = dataclasses.replace(long_chunk(1), index=0)
    [unchecked] = reviewer.assess([sure], 80.0)
    [contradicted] = reviewer.assess([sure], 80.0, check)
    assert contradicted.needs_review and not unchecked.needs_review
    # Without the check it was calibrated on, it is refused before any work.
    with pytest.raises(ConfigError, match="calibrated on checked drafts.*cross_check is null"):
        Reviewer.from_options(AnnotationOptions(review_model=str(path), cross_check=None))
    # It knows which model checked its drafts; a run that checks with another is warned: its counts differ.
    assert model.provenance["checked_with"] == ["bundled:tiny.en"]
    team = f"annotation.review_model={path}"
    assert calibrated_check_mismatch(config(tmp_path, team, model="bundled:base")) is None  # auto: tiny.en
    other = calibrated_check_mismatch(config(tmp_path, team, "annotation.cross_check=bundled:base"))
    assert other is not None and "checked by bundled:tiny.en" in other and "checks with bundled:base" in other


def test_a_model_calibrated_with_the_slowed_decode_needs_it_and_one_without_skips_it(tmp_path: Path) -> None:
    slowed_path, checked_path, plain_path = tmp_path / "slowed.json", tmp_path / "checked.json", tmp_path / "plain.json"
    slowed_model().save(slowed_path)
    checked_model().save(checked_path)
    default_model().save(plain_path)
    reviewer = Reviewer.from_options(AnnotationOptions(review_model=str(slowed_path)))
    assert reviewer.slowed is not None and reviewer.checked is not None and reviewer.checked[0] == checked_model()
    with pytest.raises(ConfigError, match="slowed decode.*slowed_check is false"):
        Reviewer.from_options(AnnotationOptions(review_model=str(slowed_path), slowed_check=False))
    assert reads_slowed(AnnotationOptions(review_model=str(slowed_path)))
    assert reads_check(AnnotationOptions(review_model=str(checked_path)))
    assert not reads_slowed(AnnotationOptions(review_model=str(checked_path)))  # no slowed decode to make
    assert not reads_check(AnnotationOptions(review_model=str(plain_path)))
    assert not reads_check(AnnotationOptions(review_model=str(tmp_path / "missing.json")))
    # The check stage's key says when the slowed decode is not made: a check made so is made again for a model
    # that reads it. With the shipped models, the keys are as they were.
    base = ("annotation.cross_check=bundled:tiny.en",)
    keys = {
        name: stage_keys(config(tmp_path, *base, f"annotation.review_model={path}"), "m")["check"]
        for name, path in (("slowed", slowed_path), ("checked", checked_path))
    }
    assert keys["slowed"] != keys["checked"]
    assert keys["slowed"] == stage_keys(config(tmp_path, *base), "m")["check"]
    assert "check" not in stage_keys(config(tmp_path, *base, f"annotation.review_model={plain_path}"), "m")
    # A run that would check nothing is refused before any work, each way saying why.
    english_folder(tmp_path)
    for overrides, why in (
        (("annotation.cross_check=null",), "cross_check is null"),
        (("annotation.slowed_check=false",), "slowed_check is false"),
        ((), "auto checks no file drafted by bundled:tiny.en"),
    ):
        refused = config(tmp_path, *overrides, f"annotation.review_model={slowed_path}")
        with pytest.raises(ConfigError, match=why):
            run_pipeline(refused, progress=False)
        with pytest.raises(ConfigError, match=why):  # and a re-export of a run's chunks, before it writes any
            export_chunks(refused, RunReport(tmp_path / "out", {}))
    assert not (tmp_path / "out").exists()


def test_a_run_with_a_teams_checked_model_checks_its_drafts_and_assesses_them_with_it(
    tmp_path: Path, tiny_model
) -> None:
    english_folder(tmp_path)
    team = tmp_path / "team.json"
    # The shipped checked model with another WER mapping: its verdicts differ from the shipped one's.
    shipped = checked_model()
    dataclasses.replace(shipped, wer_intercept=shipped.wer_intercept + 0.7, provenance={}).save(team)
    overrides = ("annotation.cross_check=bundled:tiny.en", f"annotation.review_model={team}")
    report = run_pipeline(config(tmp_path, *overrides), progress=False)
    out = tmp_path / "out"
    assert checking(config(tmp_path, *overrides)) and "check" in report.stages
    model, predicted = ReviewModel.load(team), []
    for result in report.files:
        stored = json.loads(check_path(out, result.item).read_text())
        assert "slowed" not in stored["meta"]  # the team's model does not read the slowed decode: none made
        check = [CheckWord(s, e, w) for s, e, w in stored["words"]]
        duration = json.loads((out / "transcripts" / f"{result.item}.json").read_text())["duration"]
        records = [json.loads(line) for line in (out / "chunks.jsonl").read_text().splitlines()]
        for record in (r for r in records if r["item"] == result.item):
            draft = chunk_from_record(record)
            assert draft is not None
            features = chunk_features(draft, duration, unconfirmed=unconfirmed_words(draft, check))
            predicted.append((record["predicted_wer"], round(model.predict_wer(features), 4)))
    assert predicted and all(a == pytest.approx(b, abs=1e-4) for a, b in predicted), predicted


def test_calibrate_rebuilds_each_chunk_as_the_run_assessed_it(tmp_path: Path, tiny_model) -> None:
    # A real checked run with the shipped models: calibrate's features, scored by the kind of model it names,
    # give every chunk the predicted WER the run exported (else calibrate would score another model).
    english_folder(tmp_path)
    report = run_pipeline(config(tmp_path, "annotation.cross_check=bundled:tiny.en"), progress=False)
    out, key = tmp_path / "out", report.stages["check"]
    records = [json.loads(line) for line in (out / "chunks.jsonl").read_text().splitlines()]
    compared = []
    for result in report.files:
        check, slowed = read_checks(out, result.item, key)
        duration = json.loads((out / "transcripts" / f"{result.item}.json").read_text())["duration"]
        for record in (r for r in records if r["item"] == result.item):
            draft = chunk_from_record(record)
            assert draft is not None
            kind, features = assessed(draft, duration, record["language"] == "en", check, slowed)
            compared.append((kind, record["predicted_wer"], round(shipped_recipe(kind)[0].predict_wer(features), 4)))
    assert compared and {kind for kind, _, _ in compared} == {SLOWED}
    assert all(exported == pytest.approx(rebuilt, abs=1e-4) for _, exported, rebuilt in compared), compared
