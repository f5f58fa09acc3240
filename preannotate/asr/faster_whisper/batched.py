"""faster-whisper's batched transcription of long files in bounded memory, with the same results.

`BatchedInferencePipeline.transcribe` holds several copies of a whole file at once: its Silero VAD pads
the samples and copies them again with each 512-sample window's 64-sample context before running the
model, then the pipeline copies all speech into 30-s chunks and computes the features of every chunk
before it decodes the first batch. Here the VAD model runs on the same windows one model run at a time,
carrying its state, and the pipeline decodes a group of chunks per call (whole batches, given as clip
timestamps), so that neither grows with the file. Segments, words, times and numbering come out the
same as from one call over the whole file; faster-whisper's own code does every step but the model runs.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import types
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from faster_whisper.transcribe import restore_speech_timestamps
from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps, get_vad_model

VAD_WINDOW = 512  # samples per speech probability, as SileroVADModel.__call__ reads them
VAD_CONTEXT = 64  # samples of the previous window prepended to each
VAD_RUN_WINDOWS = 10_000  # SileroVADModel.__call__'s runs: the same runs give bit-identical probabilities
WHOLE_CALL_S = VAD_RUN_WINDOWS * VAD_WINDOW / 16_000  # files up to one VAD run (320 s): its copies are small
GROUP_CHUNKS = 16  # chunks (up to 30 s each) decoded per call: about 30 MB of audio, 30 MB of features


def transcribe_batched(
    pipeline: Any,
    samples: np.ndarray,
    batch_size: int,
    kwargs: dict[str, Any],
    group_chunks: int = GROUP_CHUNKS,
    whole_call_s: float = WHOLE_CALL_S,
) -> tuple[Iterator[Any], Any]:
    """Transcribes as `pipeline.transcribe(samples, batch_size=batch_size, **kwargs)` does, in bounded memory.

    Args:
        pipeline: faster-whisper's `BatchedInferencePipeline`.
        samples: The file's 16 kHz mono float32 samples.
        batch_size: Chunks decoded at once.
        kwargs: The other arguments of `BatchedInferencePipeline.transcribe`, as `decoding.transcribe_kwargs`
            gives them: `vad_parameters` a dict or `VadOptions`, no `clip_timestamps`.
        group_chunks: Chunks per call, rounded up to whole batches so that batches hold the same chunks.
        whole_call_s: Files up to this long (or with the VAD off) go through one plain call.

    Returns:
        A generator of `Segment`s, decoding a group at a time as it is consumed, and the `TranscriptionInfo`.
    """
    rate = pipeline.model.feature_extractor.sampling_rate
    if not kwargs.get("vad_filter", True) or samples.shape[0] <= whole_call_s * rate:
        return pipeline.transcribe(samples, batch_size=batch_size, **kwargs)
    chunk_length = kwargs.get("chunk_length") or pipeline.model.feature_extractor.chunk_length
    vad_options = batched_vad_options(kwargs["vad_parameters"], chunk_length)
    speech = speech_timestamps(samples, vad_options)
    if not speech:  # as the whole call: no segments, the language (if asked) detected on no audio
        call = {**kwargs, "vad_parameters": vad_options}
        segments, info = pipeline.transcribe(np.zeros(0, np.float32), batch_size=batch_size, **call)
        return segments, dataclasses.replace(info, duration=samples.shape[0] / rate)
    spans = chunk_spans(speech, samples.shape[0], chunk_length)
    # Any two consecutive chunks hold over 30 s of speech: so many hold the 30-s windows the language is
    # detected on, and the first call detects it as the whole call does.
    first_chunks = 2 * (kwargs.get("language_detection_segments", 1) + 1) if kwargs.get("language") is None else 1
    groups = chunk_groups(len(spans), batch_size, group_chunks, first_chunks)
    call = {**kwargs, "vad_filter": False, "vad_parameters": vad_options}
    first, info = _transcribe_group(pipeline, samples, speech, spans[slice(*groups[0])], batch_size, call)
    call["language"] = info.language  # detected on the first group, as the whole call does on its first chunks
    later = (_transcribe_group(pipeline, samples, speech, spans[slice(*g)], batch_size, call)[0] for g in groups[1:])
    info = dataclasses.replace(
        info,
        duration=samples.shape[0] / rate,
        duration_after_vad=sum(s["end"] - s["start"] for s in speech) / rate,
        transcription_options=dataclasses.replace(info.transcription_options, clip_timestamps=speech),
    )
    return _in_order(pipeline, itertools.chain([first], later)), info


def batched_vad_options(parameters: dict[str, Any] | VadOptions, chunk_length: int) -> VadOptions:
    """Returns the `VadOptions` the pipeline builds from its `vad_parameters`: speech at most a chunk long."""
    if isinstance(parameters, VadOptions):
        return parameters
    parameters = {k: v for k, v in parameters.items() if k != "max_speech_duration_s"}
    return VadOptions(**parameters, max_speech_duration_s=chunk_length)


def speech_probabilities(samples: np.ndarray) -> np.ndarray:
    """Returns Silero's speech probability of every 512-sample window, as `SileroVADModel` gives for the file.

    faster-whisper pads the file to whole windows (a whole extra window when it ends on a boundary) and
    runs the model on 10,000 windows at a time, carrying the LSTM state; this runs the same runs on the
    same windows, built from the samples one run at a time.
    """
    session = get_vad_model().session
    n_windows = samples.shape[0] // VAD_WINDOW + 1
    h = c = np.zeros((1, 1, 128), dtype=np.float32)
    outputs = []
    for first in range(0, n_windows, VAD_RUN_WINDOWS):
        rows = _vad_rows(samples, first, min(first + VAD_RUN_WINDOWS, n_windows), n_windows)
        output, h, c = session.run(None, {"input": rows, "h": h, "c": c})
        outputs.append(output)
    return np.concatenate(outputs, axis=0)


def _vad_rows(samples: np.ndarray, first: int, last: int, n_windows: int) -> np.ndarray:
    # Windows [first, last) of the zero-padded file, each after the last 64 samples of the window before
    # (zeros before the first), as the model reads them.
    start, end = first * VAD_WINDOW - VAD_CONTEXT, last * VAD_WINDOW
    padded = np.zeros(end - start, dtype=np.float32)
    inside = slice(max(start, 0), min(end, samples.shape[0]))
    padded[inside.start - start : inside.stop - start] = samples[inside]
    rows = np.lib.stride_tricks.sliding_window_view(padded, VAD_CONTEXT + VAD_WINDOW)[::VAD_WINDOW].copy()
    if last == n_windows:
        rows[-1, -VAD_CONTEXT:] = 0  # faster-whisper zeroes them too, in place, building the contexts
    return rows


def speech_timestamps(samples: np.ndarray, vad_options: VadOptions) -> list[dict[str, int]]:
    """Returns the speech regions (in samples) `faster_whisper.vad.get_speech_timestamps` finds, in bounded memory.

    Its own code turns the probabilities into regions: it runs here with its model lookup bound to the
    probabilities computed a run at a time, and with the file's length in place of its samples.
    """
    probabilities = speech_probabilities(samples)
    scope = {**get_speech_timestamps.__globals__, "get_vad_model": lambda: lambda _padded: probabilities}
    regions = types.FunctionType(get_speech_timestamps.__code__, scope, None, get_speech_timestamps.__defaults__)
    return regions(_LengthOnly(samples.shape[0]), vad_options)


def chunk_spans(speech: list[dict[str, int]], n_samples: int, chunk_length: int) -> list[tuple[int, int]]:
    """Returns the chunks `collect_chunks` joins the speech regions into, as spans of the speech-only timeline.

    The pipeline's times before `restore_speech_timestamps` are on this timeline: the file with all
    non-speech cut out.
    """
    _, chunks = collect_chunks(_LengthOnly(n_samples), speech, max_duration=chunk_length)
    rate = 16_000  # collect_chunks' default, which the pipeline uses
    return [(round(c["offset"] * rate), round((c["offset"] + c["duration"]) * rate)) for c in chunks]


def chunk_groups(n_chunks: int, batch_size: int, group_chunks: int, first_chunks: int) -> list[tuple[int, int]]:
    """Splits chunks into groups of whole batches, the first holding at least `first_chunks`.

    Returns:
        (first, last) chunk indices of each group, `last` excluded.
    """
    size = math.ceil(group_chunks / batch_size) * batch_size
    first = max(size, math.ceil(first_chunks / batch_size) * batch_size)
    bounds = [0, *range(first, n_chunks, size), n_chunks]
    return list(zip(bounds, bounds[1:]))


def _transcribe_group(
    pipeline: Any,
    samples: np.ndarray,
    speech: list[dict[str, int]],
    spans: list[tuple[int, int]],
    batch_size: int,
    call: dict[str, Any],
) -> tuple[Iterable[Any], Any]:
    # The group's speech is laid out where it lies on the speech-only timeline, so that the pipeline
    # computes the same chunk offsets and times as the whole call; np.zeros leaves the pages before it
    # untouched, so they cost no memory. The times then go back onto the file's timeline as the whole
    # call puts them.
    rate = pipeline.model.feature_extractor.sampling_rate
    audio = np.zeros(spans[-1][1], dtype=np.float32)
    position = 0
    for region in speech:
        length = region["end"] - region["start"]
        if position + length > spans[0][0]:
            audio[position : position + length] = samples[region["start"] : region["end"]]
        position += length
        if position >= spans[-1][1]:
            break
    clips = [{"start": clip_seconds(start, rate), "end": clip_seconds(end, rate)} for start, end in spans]
    segments, info = pipeline.transcribe(audio, batch_size=batch_size, clip_timestamps=clips, **call)
    return restore_speech_timestamps(segments, speech, rate), info


def clip_seconds(sample: int, rate: int) -> float:
    """Returns the clip time the pipeline turns back into `sample` (it takes int(seconds * rate)).

    `sample / rate` alone falls short of it for some samples (1001 at 16 kHz), then rounds down.
    """
    seconds = sample / rate
    while int(seconds * rate) < sample:
        seconds = math.nextafter(seconds, math.inf)
    return seconds


def _in_order(pipeline: Any, groups: Iterator[Iterable[Any]]) -> Iterator[Any]:
    """Yields each group's segments in turn, numbered and with the word-timing state carried as in one call.

    The pipeline resets `last_speech_timestamp` when a call's segments run out; each segment comes after
    the batch it belongs to set it, and a batch without segments leaves it unchanged.
    """
    number, last_speech = 0, pipeline.last_speech_timestamp
    for segments in groups:
        pipeline.last_speech_timestamp = last_speech
        for segment in segments:
            last_speech = pipeline.last_speech_timestamp
            number += 1
            segment.id = number
            yield segment


class _LengthOnly:
    """Stands for a file's samples where faster-whisper's functions only need its length: slices are empty."""

    def __init__(self, length: int) -> None:
        self.shape = (length,)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, _key: slice) -> np.ndarray:
        return np.zeros(0, dtype=np.float32)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.zeros(0, dtype=np.float32)
