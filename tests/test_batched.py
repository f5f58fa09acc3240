"""Blockwise VAD and grouped batched decoding against faster-whisper's own whole-file calls, on real audio."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps, get_vad_model

from preannotate.asr import prepare
from preannotate.asr.faster_whisper import batched
from preannotate.asr.faster_whisper.decoding import transcribe_kwargs
from preannotate.options import FasterWhisperOptions, ModelOptions, TranscribeOptions

VAD = VadOptions(max_speech_duration_s=30, min_silence_duration_ms=160)  # the batched pipeline's
BATCH = 2


@pytest.fixture(scope="module")
def long_audio(pauses) -> np.ndarray:
    """Three times pauses.opus: 390 s, two VAD runs of 10,000 windows, nine chunks."""
    return np.tile(pauses, 3)


def pipeline_and_kwargs(name: str, **options):
    engine = prepare(
        ModelOptions(
            name=name, device="cpu", engine="faster-whisper", faster_whisper=FasterWhisperOptions(batch_size=BATCH)
        )
    ).load()
    transcribe = TranscribeOptions(temperature=(0.0,), condition_on_previous_text=False, **options)
    return engine.batched, transcribe_kwargs(transcribe, engine.options)


@pytest.fixture(scope="module")
def tiny(model_cache, loads_model):
    return pipeline_and_kwargs("bundled:tiny.en", word_timestamps=True)


def whole_call(pipeline, samples, kwargs):
    pipeline.last_speech_timestamp = 0.0
    segments, info = pipeline.transcribe(samples, batch_size=BATCH, **kwargs)
    return [dataclasses.asdict(s) for s in segments], info


def grouped(pipeline, samples, kwargs, group_chunks):
    pipeline.last_speech_timestamp = 0.0
    segments, info = batched.transcribe_batched(pipeline, samples, BATCH, kwargs, group_chunks, whole_call_s=0)
    return [dataclasses.asdict(s) for s in segments], info


@pytest.mark.parametrize(
    "end",
    [12_192 * 512, 12_000 * 512 + 300, 10_432 * 512 + 500],
    ids=["on-a-window-boundary", "mid-window", "mid-speech"],  # in speech, faster-whisper zeroes the last 64
)
def test_blockwise_probabilities_equal_silero_on_the_whole_file(loads_model, long_audio, end):
    samples = long_audio[:end]
    padded = np.pad(samples, (0, 512 - samples.shape[0] % 512))  # as get_speech_timestamps pads
    theirs = get_vad_model()(padded)
    ours = batched.speech_probabilities(samples)
    assert theirs.shape[0] > batched.VAD_RUN_WINDOWS
    assert np.array_equal(ours, theirs)
    assert batched.speech_timestamps(samples, VAD) == get_speech_timestamps(samples, VAD)


def test_chunk_spans_are_collect_chunks_chunks(loads_model, long_audio):  # Silero VAD
    speech = get_speech_timestamps(long_audio, VAD)
    chunks, _ = collect_chunks(long_audio, speech, max_duration=30)
    speech_only = np.concatenate([long_audio[s["start"] : s["end"]] for s in speech])
    spans = batched.chunk_spans(speech, long_audio.shape[0], 30)
    assert len(spans) == len(chunks) > 5
    for (start, end), chunk in zip(spans, chunks):
        assert np.array_equal(speech_only[start:end], chunk)


def test_groups_are_whole_batches():
    assert batched.chunk_groups(10, 4, 5, 1) == [(0, 8), (8, 10)]
    assert batched.chunk_groups(9, 2, 2, 5) == [(0, 6), (6, 8), (8, 9)]
    assert batched.chunk_groups(3, 8, 16, 1) == [(0, 3)]


def test_grouped_transcription_equals_one_call(tiny, long_audio):
    pipeline, kwargs = tiny
    theirs, their_info = whole_call(pipeline, long_audio, kwargs)
    ours, our_info = grouped(pipeline, long_audio, kwargs, group_chunks=BATCH)
    speech = get_speech_timestamps(long_audio, VAD)
    assert len(batched.chunk_spans(speech, long_audio.shape[0], 30)) > 2 * BATCH  # three calls or more
    # Without the word-timing state carried from call to call, the first word of a call would start 0.02 s late.
    assert sum(len(s["words"]) for s in theirs) > 100
    assert ours == theirs  # text, tokens, times, words with their times and probabilities, ids
    assert our_info == their_info
    assert pipeline.last_speech_timestamp == 0.0  # reset when done, as after one call


def test_clip_seconds_land_on_their_samples():
    rate = 16_000
    short = [n for n in range(1, 200_000) if int(n / rate * rate) != n]  # what plain division gives
    assert short and all(int(batched.clip_seconds(n, rate) * rate) == n for n in [*short, 0, 57_600_000])


def test_no_speech_gives_what_one_call_gives(tiny):
    pipeline, kwargs = tiny
    hum = (0.002 * np.sin(np.arange(40 * 16_000) * 2 * np.pi * 50 / 16_000)).astype(np.float32)
    assert not get_speech_timestamps(hum, VAD)
    assert grouped(pipeline, hum, kwargs, BATCH) == whole_call(pipeline, hum, kwargs)


def test_language_detected_as_one_call_detects_it(loads_model, long_audio):
    pipeline, kwargs = pipeline_and_kwargs("bundled:base", language=None)
    assert kwargs["language"] is None and pipeline.model.model.is_multilingual
    # The info comes before any decoding: both detect on the features of their first chunks.
    _, theirs = pipeline.transcribe(long_audio, batch_size=BATCH, **kwargs)
    _, ours = batched.transcribe_batched(pipeline, long_audio, BATCH, kwargs, group_chunks=1, whole_call_s=0)
    assert ours.language == "en" and ours.all_language_probs
    assert ours == theirs
