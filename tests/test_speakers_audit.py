"""Speakers audit: loud files, speaker counts a file cannot hold, min_speakers as a floor (real model and audio)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from support.configs import config
from support.media import read_sample, write_audio

from preannotate.audio import decode_audio
from preannotate.run import run_pipeline
from preannotate.speakers import SpeakerCount
from preannotate.speakers.diarize import diarize

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def conversation() -> np.ndarray:
    """tests/data/conversation.opus: 24.4 s, two voices taking turns."""
    return decode_audio(DATA / "conversation.opus").samples


def speakers_of(out: Path, item: str) -> set[str]:
    stored = json.loads((out / "speakers" / f"{item}.json").read_text(encoding="utf-8"))
    return {t["speaker"] for t in stored["turns"]}


def test_loud_mp3_and_too_many_speakers_are_diarized_not_failed(tmp_path: Path, tiny_model) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    fox = read_sample("en/quick_brown_fox")
    write_audio(folder / "loud.mp3", np.clip(fox / np.abs(fox).max() * 1.5, -1, 1))  # decodes to peaks over 1.0
    assert np.abs(decode_audio(folder / "loud.mp3").samples).max() > 1.0
    shutil.copy(DATA / "conversation.opus", folder)  # 24 speech windows: far fewer than 50 speakers
    report = run_pipeline(config(tmp_path, "speakers.mode=diarize", "speakers.num_speakers=50"), progress=False)
    assert {f.item: (f.status, f.error) for f in report.files} == dict.fromkeys(
        ["conversation.opus", "loud.mp3"], ("ok", None)
    )
    out = tmp_path / "out"
    assert speakers_of(out, "loud.mp3") == {"SPEAKER_01"}
    assert 2 <= len(speakers_of(out, "conversation.opus")) <= 24 // 4  # as many as the windows hold
    rows = [json.loads(line) for line in (out / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {r["item"] for r in rows} == {"conversation.opus", "loud.mp3"}


@pytest.mark.parametrize("count", [SpeakerCount(num=10**6), SpeakerCount(low=40)], ids=["num", "min"])
def test_a_count_above_what_the_windows_hold_is_lowered(conversation: np.ndarray, count, loads_model, caplog) -> None:
    turns = diarize(conversation, count)
    assert 2 <= len({t.speaker for t in turns}) <= 24 // 4
    assert "speech windows hold at most" in caplog.text


def test_min_speakers_is_a_floor_similar_voices_are_not_merged_below(conversation: np.ndarray, loads_model) -> None:
    assert len({t.speaker for t in diarize(conversation, SpeakerCount(low=3, high=3))}) == 3
    assert len({t.speaker for t in diarize(conversation)}) == 2  # without a floor, merging still applies
