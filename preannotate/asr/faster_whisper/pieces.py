"""A mostly silent file, decoded in batches of windows laid on the passages between its long silences.

Sequential decoding spends most of its time in beam search, one token at a time for one window, which
keeps about one core busy. Where silence skipping cut out a long quiet stretch (at least
`batch_after_silence_s`), what comes after it is a new passage that owes little to the text before:
passages up to `WINDOW_S` are laid one after another into windows (never split) and faster-whisper's
`BatchedInferencePipeline` decodes `WINDOWS_PER_CALL` windows at once, each without the previous window's
text, as WhisperX does with VAD segments. Shorter pauses do not part speech: on continuous speech with
pauses of 2 to 9 s, decoding each piece without its predecessor's text cost 1.2 WER points, so a passage
holds all the pieces between long silences, and a passage longer than a window is decoded the usual way
(window after window, conditioned on its own text). Times stay on the kept audio's timeline (the caller's
`Timeline` puts them on the file's).

A window that one-at-a-time decoding would decode again (repetitive text, low log probability), and one
in which a passage where Silero VAD hears speech got no word, is decoded alone the usual way, so that
nothing is lost to batching.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps

from ...audio import SAMPLE_RATE
from ...options import TranscribeOptions
from ..parts import shift_segments
from .decoding import skip_silent_windows
from .packing import WINDOW_S, WINDOWS_PER_CALL, decode_windows, decoded_again, fixed_language

if TYPE_CHECKING:
    from ...silence import Timeline
    from .engine import FasterWhisperEngine

Span = tuple[int, int]  # first and end sample in the kept audio


def passages(timeline: Timeline, kept: int, apart: int) -> list[Span]:
    """The kept audio's passages: its pieces, joined where less than `apart` samples were cut between them.

    Args:
        timeline: Where the kept pieces lie in the file.
        kept: The kept audio's length in samples.
        apart: The fewest samples cut out between two pieces that part them.

    Returns:
        Each passage's span in the kept audio, in order, covering it.
    """
    found: list[Span] = []
    for i, (start, offset) in enumerate(zip(timeline.starts, timeline.offsets)):
        cut = start - timeline.starts[i - 1] - (offset - timeline.offsets[i - 1]) if i else apart
        end = timeline.offsets[i + 1] if i + 1 < len(timeline.offsets) else kept
        if cut < apart:
            found[-1] = (found[-1][0], end)
        else:
            found.append((offset, end))
    return found


def piece_windows(spans: Sequence[Span], window: int) -> list[list[Span]]:
    """Lays consecutive passages into windows of at most `window` samples, never splitting one.

    Args:
        spans: The passages' spans, in order, each starting where the one before ends.
        window: The most samples a window holds.

    Returns:
        The windows in order, each a list of its passages; a passage longer than `window` is a window
        of its own.
    """
    windows: list[list[Span]] = []
    for span in spans:
        if windows and span[1] - windows[-1][0][0] <= window:
            windows[-1].append(span)
        else:
            windows.append([span])
    return windows


def transcribe_pieces(
    engine: FasterWhisperEngine, samples: np.ndarray, timeline: Timeline, options: TranscribeOptions
) -> tuple[dict[str, Any], float | None]:
    """Transcribes the kept audio of a cut file, its short passages batched; a `whisper.transcribe`-shaped result.

    Args:
        engine: The loaded faster-whisper engine.
        samples: The kept audio, 16 kHz mono.
        timeline: Where its pieces lie in the file.
        options: The transcription options (`engine.check` accepted them).

    Returns:
        The result dict (`text`, `language`, `segments`) and the detected language's probability
        (None when the language was given or the model is English-only).
    """
    apart = round(engine.options.batch_after_silence_s * timeline.rate)
    spans = passages(timeline, samples.shape[0], apart)
    if len(spans) < 2:  # nothing long enough parts the speech: decoded as it always was
        return engine.decode(samples, options)
    language, probability = _language(engine, samples, options)
    jobs = _jobs(piece_windows(spans, round(WINDOW_S * SAMPLE_RATE)))
    options_in = dataclasses.replace(options, language=language)

    def run(job: list[list[Span]]) -> list[dict[str, Any]]:
        if not _short(job[0]):
            return _alone(engine, samples, job[0][0][0], job[0][-1][1], options_in)
        return _batched(engine, samples, job, language, options_in)

    pool = ThreadPoolExecutor(max_workers=engine.workers, thread_name_prefix="pieces")
    try:
        segments = [s for found in pool.map(run, jobs) for s in found]
    finally:
        pool.shutdown(cancel_futures=True)
    result = {"segments": segments, "text": "".join(s["text"] for s in segments), "language": language}
    return result, probability


def _short(window: list[Span]) -> bool:
    """Whether a window is one to batch (a passage longer than a window is decoded alone)."""
    return window[-1][1] - window[0][0] <= WINDOW_S * SAMPLE_RATE


def _jobs(windows: list[list[Span]]) -> list[list[list[Span]]]:
    """Groups consecutive short windows into calls of at most `WINDOWS_PER_CALL`; a long passage is a job alone."""
    jobs: list[list[list[Span]]] = []
    for window in windows:
        if _short(window) and jobs and _short(jobs[-1][0]) and len(jobs[-1]) < WINDOWS_PER_CALL:
            jobs[-1].append(window)
        else:
            jobs.append([window])
    return jobs


def _language(engine: FasterWhisperEngine, samples: np.ndarray, options: TranscribeOptions) -> tuple[str, float | None]:
    """The file's language: given, English for an English-only model, else detected on its first 30 s."""
    fixed = fixed_language(engine, options)
    if fixed is not None:
        return fixed, None
    language, probability, _ = engine.model.detect_language(samples[: 30 * SAMPLE_RATE])
    return language, float(probability)


def _alone(
    engine: FasterWhisperEngine, samples: np.ndarray, start: int, end: int, options: TranscribeOptions
) -> list[dict[str, Any]]:
    """Decodes `samples[start:end]` the usual way (`engine.decode`); its segments on the kept audio's timeline."""
    result, _ = engine.decode(samples[start:end], options)
    segments: list[dict[str, Any]] = result["segments"]
    return shift_segments(segments, start / SAMPLE_RATE)


def _batched(
    engine: FasterWhisperEngine, samples: np.ndarray, windows: list[list[Span]], language: str,
    options: TranscribeOptions,
) -> list[dict[str, Any]]:  # fmt: skip
    """Decodes windows in one batch; a window that batching would get wrong is decoded alone instead."""
    spans = [{"start": w[0][0] / SAMPLE_RATE, "end": w[-1][1] / SAMPLE_RATE} for w in windows]
    segments: list[dict[str, Any]] = []
    for window, inside in zip(windows, decode_windows(engine, samples, spans, language, options)):
        if decoded_again(inside, options) or _unheard(samples, window, inside):
            segments += _alone(engine, samples, window[0][0], window[-1][1], options)
            continue
        inside = skip_silent_windows(inside, options)
        if not options.word_timestamps:
            inside = [{**s, "words": None} for s in inside]
        segments += inside
    return segments


def _unheard(samples: np.ndarray, window: list[Span], segments: list[dict[str, Any]]) -> bool:
    """Whether a passage of the window got no word though Silero VAD hears speech in it (a skipped utterance)."""
    middles = [(w["start"] + w["end"]) / 2 * SAMPLE_RATE for s in segments for w in s["words"] or ()]
    for start, end in window:
        if not any(start <= m <= end for m in middles) and get_speech_timestamps(samples[start:end], VadOptions()):
            return True
    return False
