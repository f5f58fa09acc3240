"""The speakers stage in a run: turns stored per item, redone only when the audio or a speaker option changes."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from support.configs import config
from support.media import read_sample, write_audio

from preannotate.run import run_pipeline

DATA = Path(__file__).resolve().parent / "data"
pytestmark = pytest.mark.slow


def stamps(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def test_speaker_options_rediarize_without_transcribing_and_transcribe_options_keep_the_turns(tmp_path, tiny_model):
    (tmp_path / "in").mkdir()
    shutil.copy(DATA / "conversation.opus", tmp_path / "in")
    out = tmp_path / "out"
    first = run_pipeline(config(tmp_path, "speakers.mode=diarize"), progress=False)
    assert [f.status for f in first.files] == ["ok"]
    stored = json.loads((out / "speakers" / "conversation.opus.json").read_text())
    assert len({t["speaker"] for t in stored["turns"]}) == 2
    keys = json.loads((out / "run.json").read_text())["stages"]
    assert stored["meta"]["options_key"] == keys["speakers"]
    # The SuperAnnotate JSON carries each event's speaker, and the upload stage's check (a dry run here, with the
    # class made from the run's speakers) passes it.
    annotation = json.loads((out / "superannotate" / "conversation.opus.json").read_text())
    said = {a["name"] for i in annotation["instances"] for t in i["parameters"][0]["timestamps"]
            for a in t["attributes"] if a["groupName"] == "Speaker"}  # fmt: skip
    assert said == {t["speaker"] for t in stored["turns"]}
    upload = json.loads((out / "run.json").read_text())["upload"]
    assert upload["summary"]["failed"] == 0 and upload["items"][0]["status"] == "skipped", upload
    turns, transcripts = stamps(out / "speakers"), stamps(out / "transcripts")

    run_pipeline(config(tmp_path, "speakers.mode=diarize", "chunking.max_duration=3"), progress=False)
    assert stamps(out / "speakers") == turns and stamps(out / "transcripts") == transcripts

    one = run_pipeline(config(tmp_path, "speakers.mode=diarize", "speakers.max_speakers=1"), progress=False)
    assert [f.status for f in one.files] == ["skipped"]  # not transcribed again
    assert stamps(out / "transcripts") == transcripts
    stored = json.loads((out / "speakers" / "conversation.opus.json").read_text())
    assert {t["speaker"] for t in stored["turns"]} == {"SPEAKER_01"}
    turns = stamps(out / "speakers")

    run_pipeline(
        config(tmp_path, "speakers.mode=diarize", "speakers.max_speakers=1", "transcribe.initial_prompt=Hi."),
        progress=False,
    )
    assert stamps(out / "transcripts") != transcripts
    assert stamps(out / "speakers") == turns  # transcription options do not re-run diarization


def test_a_second_run_of_a_finished_diarized_folder_reads_no_transcript(tmp_path, tiny_model, caplog):
    (tmp_path / "in").mkdir()
    shutil.copy(DATA / "conversation.opus", tmp_path / "in")
    out = tmp_path / "out"
    run_pipeline(config(tmp_path, "speakers.mode=diarize"), progress=False)
    turns = (out / "speakers" / "conversation.opus.json").read_bytes()
    for path in (out / "transcripts").iterdir():  # unreadable now, but of the same size and mtime: not to be read
        st = path.stat()
        path.write_bytes(b" " * st.st_size)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with caplog.at_level(logging.INFO, logger="preannotate.run"):
        again = run_pipeline(config(tmp_path, "speakers.mode=diarize"), progress=False)
    assert [f.status for f in again.files] == ["skipped"] and "chunks and exports kept as they are" in caplog.text
    assert (out / "speakers" / "conversation.opus.json").read_bytes() == turns  # not diarized again


def test_bad_input_to_diarization_gives_one_speaker_or_none_and_never_fails_the_run(tmp_path, tiny_model):
    folder = tmp_path / "in"
    folder.mkdir()
    fox = read_sample("en/quick_brown_fox")
    write_audio(folder / "silence.wav", np.zeros(3 * 16_000, np.float32))
    write_audio(folder / "half.wav", fox[8_000:16_000])  # 0.5 s of speech
    write_audio(folder / "one.wav", fox)  # one voice
    shutil.copy(DATA / "conversation.opus", folder)  # two voices, more than max_speakers
    report = run_pipeline(config(tmp_path, "speakers.mode=diarize", "speakers.max_speakers=1"), progress=False)
    assert {f.item: f.status for f in report.files} == dict.fromkeys(
        ["conversation.opus", "half.wav", "one.wav", "silence.wav"], "ok"
    )
    rows = [json.loads(line) for line in (tmp_path / "out" / "chunks.jsonl").read_text().splitlines()]
    assert {r["item"] for r in rows} == {"conversation.opus", "half.wav", "one.wav"}  # silence has no chunk
    assert {r["speaker"] for r in rows} == {"SPEAKER_01"}
    silence = json.loads((tmp_path / "out" / "speakers" / "silence.wav.json").read_text())
    assert silence["turns"] == []
