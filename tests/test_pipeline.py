"""The whole run on real audio with the real bundled models."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import jiwer
import pandas as pd
import pytest
from support.configs import run_config
from support.media import SAMPLES
from whisper.normalizers import EnglishTextNormalizer

from preannotate import asr
from preannotate.errors import ConfigError, InputError, ModelError
from preannotate.run import run_pipeline

# tiny.en scores 5.6% WER on LibriSpeech test-clean (Whisper paper, table 2). These clips are
# clean read speech too; with 11 words, one error is 9%, so 10% allows at most one.
MAX_ENGLISH_WER = 0.10
# Greedy decoding, as these tests were calibrated with: decoding is not what they check (beam search,
# the default, is slower; tests/test_faster.py checks that both engines get it).
GREEDY = ["transcribe.beam_size=null", "transcribe.best_of=null"]


def config(tmp_path, *overrides, model="bundled:tiny.en", input_dir=None):
    return run_config(tmp_path, "model.device=cpu", *GREEDY, *overrides, model=model, input_dir=input_dir)


def english_folder(tmp_path):
    folder = tmp_path / "in"
    shutil.copytree(SAMPLES / "en", folder, ignore=shutil.ignore_patterns("*.txt"))
    return folder


def transcript(tmp_path, item):
    return json.loads((tmp_path / "out" / "transcripts" / f"{item}.json").read_text())


def test_english_transcripts_are_accurate_and_well_timed(tmp_path, tiny_model):
    english_folder(tmp_path)
    report = run_pipeline(config(tmp_path), progress=False)
    assert [f.status for f in report.files] == ["ok"] * 3
    normalize = EnglishTextNormalizer()
    refs, hyps = [], []
    for name in ("hello_world", "quick_brown_fox"):
        refs.append(normalize((SAMPLES / "en" / f"{name}.txt").read_text()))
        hyps.append(normalize(transcript(tmp_path, f"{name}.wav")["text"]))
    assert jiwer.wer(refs, hyps) <= MAX_ENGLISH_WER, (refs, hyps)
    # Whisper writes counted numbers as digits in varying groupings: compare the digit sequence.
    assert re.sub(r"\D", "", transcript(tmp_path, "counting.wav")["text"]) == "12345678910"
    for f in report.files:
        data = transcript(tmp_path, f.item)
        assert data["language"] == "en" and data["meta"]["source"]["path"] == f.source
        assert f.duration == pytest.approx(data["duration"], abs=1e-3)
        times = [t for s in data["segments"] for w in s["words"] for t in (w["start"], w["end"])]
        assert times and times == sorted(times)
        assert times[0] >= 0 and times[-1] <= data["duration"] + 0.05
        for s in data["segments"]:
            assert {"tokens", "temperature", "avg_logprob", "compression_ratio", "no_speech_prob"} <= set(s)
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["config"]["model"]["name"] == "bundled:tiny.en"
    assert {"preannotate", "openai-whisper", "torch"} <= set(run["versions"])
    assert run["model"]["id"]


@pytest.mark.parametrize(
    ("clip", "english"),
    [("es/pangrama", {"the", "and", "my"}), ("fr/bonjour_monde", {"hello", "world"})],
)
def test_multilingual_detection_and_translation(tmp_path, base_model, clip, english):
    language, name = clip.split("/")
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SAMPLES / f"{clip}.wav", folder)
    report = run_pipeline(config(tmp_path, model="bundled:base"), progress=False)
    (result,) = report.files
    assert result.status == "ok" and result.language == language and result.language_probability > 0.8
    original = set(EnglishTextNormalizer()(transcript(tmp_path, f"{name}.wav")["text"]).split())

    report = run_pipeline(config(tmp_path, "transcribe.task=translate", model="bundled:base"), progress=False)
    assert report.files[0].status == "ok"  # options changed, so transcribed again
    translated = set(EnglishTextNormalizer()(transcript(tmp_path, f"{name}.wav")["text"]).split())
    foreign = {"el", "y", "mundo", "bonjour", "le", "monde"}
    assert english <= translated and not translated & foreign, translated
    assert original & foreign  # the transcription itself stayed in the source language


def test_model_loads_once_and_resume_skips_finished(tmp_path, tiny_model, monkeypatch):
    english_folder(tmp_path)
    calls = []
    real = asr.PreparedModel.load
    monkeypatch.setattr(asr.PreparedModel, "load", lambda model, files=1: calls.append(model) or real(model, files))
    first = run_pipeline(config(tmp_path), progress=False)
    assert len(calls) == 1 and [f.status for f in first.files] == ["ok"] * 3
    stamp = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "transcripts").iterdir()}

    again = run_pipeline(config(tmp_path), progress=False)
    assert [f.status for f in again.files] == ["skipped"] * 3 and len(calls) == 1  # no model load at all
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "transcripts").iterdir()} == stamp
    assert [f.language for f in again.files] == ["en"] * 3 and all(f.duration for f in again.files)

    shutil.copy(SAMPLES / "en" / "hello_world.wav", tmp_path / "in" / "counting.wav")  # content changed
    changed = run_pipeline(config(tmp_path), progress=False)
    assert [f.status for f in changed.files] == ["ok", "skipped", "skipped"]
    assert "hello" in transcript(tmp_path, "counting.wav")["text"].lower()

    prompted = run_pipeline(config(tmp_path, "transcribe.initial_prompt=Numbers."), progress=False)
    assert [f.status for f in prompted.files] == ["ok"] * 3  # an option that shapes results changed
    forced = run_pipeline(config(tmp_path, "transcribe.initial_prompt=Numbers.", "output.force=true"), progress=False)
    assert [f.status for f in forced.files] == ["ok"] * 3
    faster = run_pipeline(config(tmp_path, "transcribe.initial_prompt=Numbers.", "model.engine=faster-whisper"),
                          progress=False)  # fmt: skip
    assert [f.status for f in faster.files] == ["ok"] * 3  # another engine gives other transcripts


def test_clip_timestamps_limit_transcription(tmp_path, tiny_model):
    english_folder(tmp_path)
    run_pipeline(config(tmp_path, "transcribe.clip_timestamps=0,0.5"), progress=False)
    words = [w for s in transcript(tmp_path, "quick_brown_fox.wav")["segments"] for w in s["words"]]
    assert words and all(w["start"] <= 0.6 for w in words)
    assert "dog" not in transcript(tmp_path, "quick_brown_fox.wav")["text"]


def test_bad_input_and_model_fail_before_processing(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        run_pipeline(config(tmp_path), progress=False)
    english_folder(tmp_path)
    with pytest.raises(ModelError):
        run_pipeline(config(tmp_path, model=str(tmp_path / "no-such-model.pt")), progress=False)
    with pytest.raises(ModelError, match="bundled"):
        run_pipeline(config(tmp_path, model="bundled:huge"), progress=False)
    assert not (tmp_path / "out" / "transcripts").exists()


def test_english_only_model_rejects_translate_before_any_file(tmp_path, tiny_model):
    english_folder(tmp_path)
    with pytest.raises(ConfigError, match="English-only"):
        run_pipeline(config(tmp_path, "transcribe.task=translate"), progress=False)
    with pytest.raises(ConfigError, match="English-only"):
        run_pipeline(config(tmp_path, "transcribe.language=de"), progress=False)
    assert not (tmp_path / "out" / "transcripts").exists()


def test_unicode_spellings_of_one_name_give_two_items_and_a_bad_export_fails_one(tmp_path, tiny_model):
    nfc, nfd = "caf\u00e9.wav", "cafe\u0301.wav"
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    shutil.copy(SAMPLES / "en" / "hello_world.wav", folder / nfc)
    shutil.copy(SAMPLES / "en" / "counting.wav", folder / nfd)
    args = ["run", "-i", str(folder), "-o", str(out), "--set", "model.name=bundled:tiny.en", "--no-progress",
            *(arg for s in GREEDY for arg in ("--set", s))]  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "preannotate", *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    files = {f["source"]: f for f in json.loads((out / "run.json").read_text())["files"]}
    assert files[nfc]["item"] == nfc and files[nfd]["item"] != nfc
    assert [f["status"] for f in files.values()] == ["ok", "ok"]
    assert "hello" in transcript(tmp_path, nfc)["text"].lower()
    assert re.sub(r"\D", "", transcript(tmp_path, files[nfd]["item"])["text"]) == "12345678910"
    annotations = sorted(p.name for p in (out / "superannotate").iterdir())
    assert annotations == sorted(f"{f['item']}.json" for f in files.values())
    assert len(set(pd.read_csv(out / "chunks.csv")["item"])) == 2

    (out / "superannotate" / f"{nfc}.json").unlink()
    (out / "superannotate" / f"{nfc}.json").mkdir()  # this item's annotation cannot be written
    again = subprocess.run([sys.executable, "-m", "preannotate", *args], capture_output=True, text=True, timeout=600)
    assert again.returncode == 1 and "Traceback" not in again.stderr
    files = {f["source"]: f for f in json.loads((out / "run.json").read_text())["files"]}
    assert files[nfc]["status"] == "failed" and "cannot export" in files[nfc]["error"]
    assert files[nfd]["status"] == "skipped" and set(pd.read_csv(out / "chunks.csv")["item"]) == {files[nfd]["item"]}
