"""A second model's check (`annotation.cross_check`): words it hears otherwise raise a chunk's predicted WER."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path

import jiwer
import pytest
from support.check_words import WORDS, chunk, heard
from support.configs import config, english_folder

from preannotate.asr import prepare
from preannotate.audio import decode_audio
from preannotate.check_store import check_path, read_check
from preannotate.chunking import Chunk
from preannotate.config import load_config
from preannotate.errors import ModelError
from preannotate.naming import MediaFile
from preannotate.options import AnnotationOptions, ModelOptions
from preannotate.quality.crosscheck import CheckWord, normalized_words, unconfirmed_words
from preannotate.quality.model import checked_model, default_model
from preannotate.report import FileResult
from preannotate.results import Word
from preannotate.review import Reviewer
from preannotate.run import check_jobs, run_pipeline
from preannotate.run.check import check_model
from preannotate.run.check_jobs import CheckJob
from preannotate.run.stages import stage_keys
from preannotate.run.transcribe_jobs import transcribe_audio

PAUSES = Path(__file__).parent / "data" / "pauses.opus"


def test_words_are_compared_without_case_or_punctuation() -> None:
    assert normalized_words("Hello, World! It's 'fine'.") == ["hello", "world", "it's", "fine"]
    assert unconfirmed_words(chunk(), heard(("welcome", "to", "the", "History", "of", "writing"))) == 0


def test_each_word_heard_otherwise_or_not_heard_counts() -> None:
    assert unconfirmed_words(chunk(), heard(("Welcome", "to", "the", "history", "of", "riding."))) == 1
    assert unconfirmed_words(chunk(), heard(("Welcome", "the", "history", "of", "writing."))) == 1  # "to" unheard
    assert unconfirmed_words(chunk(), []) == len(WORDS)  # the check heard nothing there


def test_only_the_check_words_inside_the_chunk_count() -> None:
    elsewhere = heard(("Another", "sentence", "entirely"), start=30.0)
    assert unconfirmed_words(chunk(), heard(WORDS) + elsewhere) == 0
    assert unconfirmed_words(chunk(), elsewhere) == len(WORDS)


def test_a_check_word_stretched_into_the_pause_after_the_chunk_still_confirms_it() -> None:
    # A chunk spans its first word's start to its last word's end; Whisper stretches the word before a pause into
    # the pause, so the check's "writing." ends 0.9 s after the chunk (its middle lies outside it).
    plain = chunk()
    tight = dataclasses.replace(plain, start=plain.words[0].start, end=plain.words[-1].end)
    check = heard(WORDS)
    check[-1] = check[-1]._replace(end=check[-1].end + 0.9)
    check[0] = check[0]._replace(start=check[0].start - 0.9)
    assert unconfirmed_words(tight, check) == 0
    # the chunks around: a word overlapping the edge is one more word heard, not a word of this chunk unconfirmed
    around = [
        CheckWord(tight.start - 1.0, tight.start + 0.01, " Today"),
        *check,
        CheckWord(tight.end, tight.end, " and"),
    ]
    assert unconfirmed_words(tight, around) == 0
    assert unconfirmed_words(tight, [*around[:-2], around[-2]._replace(word=" riding."), around[-1]]) == 1


def test_auto_checks_english_drafts_of_other_models_with_tiny_en() -> None:
    assert check_model("auto", "bundled:base", "en") == "bundled:tiny.en"
    assert check_model("auto", "small", "en") == "bundled:tiny.en"
    assert check_model("auto", "bundled:tiny.en", "en") is None  # tiny checking tiny learns nothing
    assert check_model("auto", "bundled:base", "fr") is None  # no multilingual model as small is shipped
    assert check_model("bundled:base", "bundled:tiny.en", "fr") == "bundled:base"
    assert check_model("bundled:tiny.en", "bundled:tiny.en", "de") is None  # an English-only model
    assert check_model(None, "bundled:base", "en") is None


SCHOLARS = "Some scholars think writing was invented several times. Each invention grew from the needs of trade and"
SENTENCE = tuple(f"{SCHOLARS} government.".split(" "))
UNSURE = {3: "riding", 8: "in", 12: "grow"}  # three words at 0.35, every other one at 0.95


def unsure_chunk() -> Chunk:
    plain = chunk(SENTENCE)
    words = tuple(Word(w.word, w.start, w.end, 0.35 if i in UNSURE else 0.95) for i, w in enumerate(plain.words))
    return Chunk(0, plain.start, plain.end, plain.text, words, avg_logprob=plain.avg_logprob)


def test_a_check_confirming_the_unsure_words_clears_a_chunk_and_one_hearing_them_otherwise_flags_it() -> None:
    reviewer = Reviewer.from_options(AnnotationOptions())
    otherwise = tuple(UNSURE.get(i, w) for i, w in enumerate(SENTENCE))
    [alone] = reviewer.assess([unsure_chunk()], 60.0)
    [confirmed] = reviewer.assess([unsure_chunk()], 60.0, heard(SENTENCE))
    [contradicted] = reviewer.assess([unsure_chunk()], 60.0, heard(otherwise))
    assert alone.needs_review  # three words at 0.35: the draft's own signals flag it
    assert not confirmed.needs_review and confirmed.predicted_wer < alone.predicted_wer
    assert contradicted.needs_review and "predicted_wer" in contradicted.review_reason
    assert confirmed.predicted_wer <= checked_model().threshold < contradicted.predicted_wer


def test_more_words_heard_otherwise_never_lower_the_predicted_wer() -> None:
    reviewer = Reviewer.from_options(AnnotationOptions())
    other = ("Welcome", "to", "a", "mystery", "off", "riding")
    predicted = [
        reviewer.assess([chunk()], 60.0, heard(other[:k] + WORDS[k:]))[0].predicted_wer for k in range(len(WORDS) + 1)
    ]
    assert predicted == sorted(predicted) and predicted[-1] > predicted[0]


def test_words_the_check_heard_otherwise_are_listed_as_doubtful_with_their_own_probability() -> None:
    reviewer = Reviewer.from_options(AnnotationOptions())
    otherwise = tuple(UNSURE.get(i, w) for i, w in enumerate(SENTENCE))
    otherwise = otherwise[:5] + ("made",) + otherwise[6:]  # "invented", a sure word, heard otherwise too
    [alone] = reviewer.assess([unsure_chunk()], 60.0)
    [checked] = reviewer.assess([unsure_chunk()], 60.0, heard(otherwise))
    assert [i for i, _, _ in alone.doubtful_words] == sorted(UNSURE)  # the three at 0.35
    assert [(i, w, p) for i, w, p in checked.doubtful_words if i not in UNSURE] == [(5, "invented", 0.95)]
    assert "doubtful_words" in checked.review_reason


def test_a_teams_own_model_or_no_check_assesses_without_the_check() -> None:
    contradicted = heard(("Welcome", "to", "the", "history", "of", "riding"))
    for options in (AnnotationOptions(cross_check=None), AnnotationOptions(review_model=str(_shipped()))):
        reviewer = Reviewer.from_options(options)
        assert reviewer.checked is None
        [assessed] = reviewer.assess([chunk()], 60.0, contradicted)
        assert not assessed.needs_review


def test_the_shipped_checked_model_reads_unconfirmed_words_and_rises_with_them() -> None:
    model = checked_model()
    assert "unconfirmed_words" in model.features and "unconfirmed_words" not in default_model().features
    assert model.coef[model.features.index("unconfirmed_words")] > 0
    assert model.provenance["evaluation"]["bundled:base"]["held out"]["recall"] >= 0.8


def _shipped() -> Path:
    from preannotate.quality.model import DEFAULT_PATH

    return DEFAULT_PATH


def test_a_misspelled_check_model_fails_before_any_work(tmp_path: Path) -> None:
    english_folder(tmp_path)
    with pytest.raises(ModelError):
        run_pipeline(config(tmp_path, "annotation.cross_check=bundled:nope"), progress=False)
    assert not (tmp_path / "out" / "transcripts").exists()


def test_a_run_checks_each_file_once_and_a_rerun_reads_no_check(tmp_path: Path, tiny_model, caplog) -> None:
    # tiny.en checking tiny.en with the same decoding hears the same words: nothing is unconfirmed.
    english_folder(tmp_path)
    first = run_pipeline(config(tmp_path, "annotation.cross_check=bundled:tiny.en"), progress=False)
    out, key = tmp_path / "out", first.stages["check"]
    assert [f.status for f in first.files] == ["ok"] * 3
    for result in first.files:
        stored = json.loads(check_path(out, result.item).read_text())
        assert stored["meta"]["model"] == "bundled:tiny.en" and stored["meta"]["options_key"] == key
        check = read_check(out, result.item, key)
        assert check and all(isinstance(w, CheckWord) for w in check)
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "checks").iterdir()}
    predicted = [json.loads(line)["predicted_wer"] for line in (out / "chunks.jsonl").read_text().splitlines()]
    again = run_pipeline(config(tmp_path, "annotation.cross_check=bundled:tiny.en"), progress=False)
    assert [f.status for f in again.files] == ["skipped"] * 3
    assert {p.name: p.stat().st_mtime_ns for p in (out / "checks").iterdir()} == stamps
    assert [json.loads(line)["predicted_wer"] for line in (out / "chunks.jsonl").read_text().splitlines()] == predicted
    assert read_check(out, first.files[0].item, "another key") is None  # a check of other options is not used
    damaged = check_path(out, first.files[0].item)
    damaged.write_bytes(damaged.read_bytes()[:40])  # a full disk, a truncated copy
    (out / "chunks.csv").unlink()  # the stages run again (they are skipped while every output is as it was)
    caplog.set_level(logging.WARNING)
    run_pipeline(config(tmp_path, "annotation.cross_check=bundled:tiny.en"), progress=False)
    assert f"{damaged} is damaged (not a check this tool wrote): checking {first.files[0].item} again" in caplog.text
    assert read_check(out, first.files[0].item, key)  # checked again, whole
    forced = run_pipeline(
        config(tmp_path, "annotation.cross_check=bundled:tiny.en", "output.force=true"), progress=False
    )
    assert [f.status for f in forced.files] == ["ok"] * 3
    assert all(p.stat().st_mtime_ns > stamps[p.name] for p in (out / "checks").iterdir())  # checked again too


def test_auto_leaves_tiny_drafts_unchecked_and_their_keys_as_they_were(tmp_path: Path, tiny_model) -> None:
    english_folder(tmp_path)
    report = run_pipeline(config(tmp_path), progress=False)
    assert "check" not in report.stages and not (tmp_path / "out" / "checks").exists()
    off = stage_keys(config(tmp_path, "annotation.cross_check=null"), report.model["identity"])
    assert report.stages == off
    assert "check" in stage_keys(config(tmp_path, model="bundled:base"), "official|base")


def test_short_files_are_checked_packed_and_hear_what_they_hear_alone(
    tmp_path: Path, model_cache, loads_model, monkeypatch
) -> None:
    engine = prepare(ModelOptions(name="bundled:tiny.en", device="cpu", engine="faster-whisper")).load(files=2)
    folder = english_folder(tmp_path)
    shutil.copy(PAUSES, folder / "pauses.opus")  # 130 s: longer than a packed file, checked alone
    files = sorted(folder.iterdir())
    jobs = [CheckJob(FileResult(f.name, f.name, "ok"), MediaFile(f, f.name, f.name), {"language": "en", "model": "m"})
            for f in files]  # fmt: skip
    batches: list[list[str]] = []
    packed = check_jobs._packed
    monkeypatch.setattr(check_jobs, "_packed", lambda *a: batches.append([j.media.source for j in a[3]]) or packed(*a))
    stored: dict[str, list] = {}
    config = load_config(None, ["model.device=cpu"])
    check_jobs.check_all(engine, config, jobs, lambda job, words: stored.__setitem__(job.media.source, words))
    assert batches == [[f.name for f in files if f.suffix == ".wav"]] and set(stored) == {f.name for f in files}
    options = dataclasses.replace(config.transcribe, language="en", word_timestamps=True)
    for f in files:
        alone, _ = transcribe_audio(engine, decode_audio(f, config.silence), options)  # on the file's own timeline
        assert stored[f.name] and all(0 <= start <= end <= alone.duration for start, end, _ in stored[f.name])
        expected = normalized_words(" ".join(w.word for s in alone.segments for w in s.words or ()))
        heard = normalized_words(" ".join(w for _, _, w in stored[f.name]))
        assert jiwer.wer(" ".join(expected), " ".join(heard)) < 0.15, f.name
