"""Long audio cut in its pauses into parts transcribed at once (faster-whisper's split_long_files)."""

from __future__ import annotations

import dataclasses
import difflib
import json
from pathlib import Path

import jiwer
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from whisper.normalizers import EnglishTextNormalizer

from preannotate.asr import prepare
from preannotate.asr.parts import PART_S, SEARCH_S, cut_points, part_count, shift_segments, transcriptions_at_once
from preannotate.audio import SAMPLE_RATE
from preannotate.options import ModelOptions, TranscribeOptions

SPEECH = json.loads((Path(__file__).parent / "data" / "pauses.json").read_text())["speech"]
GREEDY = TranscribeOptions(language="en", beam_size=None, best_of=None)
normalize = EnglishTextNormalizer()


def test_audio_over_twice_the_part_length_is_cut_once_per_part():
    assert [part_count(s) for s in (0.0, 30.0, 2 * PART_S - 1, 2 * PART_S, 7 * PART_S + 60)] == [1, 1, 1, 2, 8]
    assert part_count(3600.0, part_s=0.0) == 1
    # a run of one long file keeps as many workers busy as it has parts
    assert transcriptions_at_once([5.0, 20.0]) == 2
    assert transcriptions_at_once([7200.0]) == 60


def test_cuts_fall_in_the_pauses_of_real_speech(pauses):
    cuts = cut_points(pauses, SAMPLE_RATE, part_s=30.0)
    assert len(cuts) == part_count(pauses.shape[0] / SAMPLE_RATE, 30.0) - 1 == 3  # 130 s: 4 parts
    for cut in cuts:
        at = cut / SAMPLE_RATE
        assert not any(s["start"] - 0.1 < at < s["end"] + 0.1 for s in SPEECH), at
    assert cut_points(pauses, SAMPLE_RATE, part_s=30.0) == cuts  # the audio alone decides
    assert cut_points(pauses, SAMPLE_RATE, part_s=PART_S) == []  # 130 s: kept whole


@settings(max_examples=60, deadline=None)
@given(st.floats(0.5, 400.0), st.integers(0, 2**32 - 1))
def test_cuts_are_ordered_inside_and_leave_parts_near_the_target_length(seconds: float, seed: int) -> None:
    samples = np.random.default_rng(seed).standard_normal(round(seconds * SAMPLE_RATE)).astype(np.float32)
    cuts = cut_points(samples, SAMPLE_RATE, part_s=30.0)
    parts = part_count(seconds, 30.0)
    assert len(cuts) == parts - 1
    edges = [0, *cuts, samples.shape[0]]
    lengths = np.diff(edges) / SAMPLE_RATE
    assert (lengths > 0).all()
    assert (lengths >= seconds / parts - 2 * min(SEARCH_S, seconds / parts / 4) - 0.1).all()
    assert parts == 1 or parts % 2 == 0


def test_shifted_segments_move_their_words_and_seek():
    segment = {"id": 0, "seek": 0, "start": 1.0, "end": 2.5, "text": " hi", "words": [{"start": 1.0, "end": 1.4}]}
    (moved,) = shift_segments([segment], 120.25)
    assert (moved["start"], moved["end"], moved["seek"]) == (121.25, 122.75, 12025)
    assert moved["words"] == [{"start": 121.25, "end": 121.65}]
    assert segment["start"] == 1.0  # the input is left as it was


@pytest.fixture(scope="module")
def engine(model_cache, loads_model):
    options = ModelOptions(name="bundled:tiny.en", device="cpu", engine="faster-whisper")
    split = dataclasses.replace(options.faster_whisper, split_long_files=True)
    return prepare(dataclasses.replace(options, faster_whisper=split)).load(files=2)


def _words(transcript):
    return [w for s in transcript.segments for w in s.words or ()]


def test_parts_give_the_whole_files_words_at_its_own_times(engine, pauses):
    parted = dataclasses.replace(engine, part_s=30.0)
    assert len(parted._cuts(pauses, GREEDY)) == 3
    assert not ModelOptions().faster_whisper.split_long_files  # off by default
    off = dataclasses.replace(engine.options, split_long_files=False)
    whole = dataclasses.replace(engine, part_s=30.0, options=off)
    assert whole._cuts(pauses, GREEDY) == []
    split_transcript, whole_transcript = parted.transcribe(pauses, GREEDY), whole.transcribe(pauses, GREEDY)
    reference = normalize(" ".join(s["text"] for s in SPEECH))
    split_wer = jiwer.wer(reference, normalize(split_transcript.text))
    # parts of 30 s cost accuracy (each starts without context); nothing is lost or said twice
    assert split_wer <= jiwer.wer(reference, normalize(whole_transcript.text)) + 0.05
    assert jiwer.wer(normalize(whole_transcript.text), normalize(split_transcript.text)) <= 0.1
    words = _words(split_transcript)
    for sentence in SPEECH:  # every sentence heard
        assert any(sentence["start"] - 0.6 <= w.start <= sentence["end"] for w in words), sentence
    assert [w.start for w in words] == sorted(w.start for w in words)  # parts joined in order
    # the words both say are at the same times: the file's, not the part's (parts start 18 s to 88 s in)
    whole_words = _words(whole_transcript)
    match = difflib.SequenceMatcher(a=[w.word for w in whole_words], b=[w.word for w in words], autojunk=False)
    pairs = [(whole_words[b.a + k], words[b.b + k]) for b in match.get_matching_blocks() for k in range(b.size)]
    assert len(pairs) >= 0.85 * len(whole_words)
    near = [abs(a.start - b.start) <= 1.0 for a, b in pairs]
    assert sum(near) >= 0.95 * len(pairs)
    assert split_transcript.duration == pytest.approx(pauses.shape[0] / SAMPLE_RATE)
    assert words[-1].end > 120.0  # the last part's words are there


def test_files_without_a_cut_are_decoded_whole_as_before(engine, pauses):
    clip = pauses[: 40 * SAMPLE_RATE]
    parted = dataclasses.replace(engine, part_s=30.0)  # 40 s < 2 x 30 s: no cut
    whole = dataclasses.replace(engine, options=dataclasses.replace(engine.options, split_long_files=False))
    assert parted.transcribe(clip, GREEDY) == whole.transcribe(clip, GREEDY)


def test_a_lone_long_file_loads_a_worker_per_part_only_when_splitting():
    fast = ModelOptions(name="bundled:tiny.en", device="cpu", engine="faster-whisper")
    split = dataclasses.replace(fast, faster_whisper=dataclasses.replace(fast.faster_whisper, split_long_files=True))
    assert prepare(fast).transcriptions_at_once([3600.0]) == 1
    assert prepare(split).transcriptions_at_once([3600.0]) == 30
    openai = prepare(ModelOptions(name="bundled:tiny.en", device="cpu"))
    assert openai.transcriptions_at_once([3600.0]) == 1  # openai-whisper
