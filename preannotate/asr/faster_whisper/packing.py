"""Short files packed together: several clips in one 30-s window, several windows in one batched model call.

Whisper's encoder always reads 30 s, so a 5-s clip transcribed alone spends most of its encoder time on
padding, and one file's beam search keeps a core busy with tiny matrix products. Here clips of the same
language are laid one after another in 30-s windows with a second of silence between them (as WhisperX
merges short VAD segments), faster-whisper's `BatchedInferencePipeline` decodes a batch of windows in one
call, and each word goes back to the clip it was said in, by its end time. Segments are cut at clip borders
and times made relative to each file's start, so no word of one file reaches another.

Each window is decoded once, at the first temperature, without the previous window's text (which would
belong to other files). A window that one-at-a-time decoding would decode again (repetitive text, low
log probability), a clip in which Silero VAD hears no speech, every clip of a window in which a clip got no
word (its text skipped that clip: a decode that looped on one sentence puts its words in the neighbours, at
the wrong times), and every file of a call that failed are transcribed alone the usual way instead, so that
they come out as without packing.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ctranslate2
import numpy as np
from faster_whisper import BatchedInferencePipeline
from faster_whisper.audio import pad_or_trim
from faster_whisper.transcribe import get_compression_ratio
from faster_whisper.vad import VadOptions, get_speech_timestamps

from ...audio import SAMPLE_RATE
from ...errors import PreannotateError
from ...options import TranscribeOptions
from ...results import Transcript
from ..base import SEED, to_transcript, unspeakable
from ..languages import language_code
from .decoding import GAP_S, transcribe_kwargs

if TYPE_CHECKING:
    from .engine import FasterWhisperEngine

log = logging.getLogger(__name__)

WINDOW_S = 28.0  # speech and gaps per 30-s window: room left for the final timestamp
WINDOWS_PER_CALL = 4  # at most, per call: 8 took as long on 2 cores and 250 MB more (each beam holds the encoding)
LANGUAGE_BATCH = 8  # files whose language is detected in one encoder call

Outcome = Transcript | PreannotateError


@dataclass(frozen=True)
class Placed:
    """A clip's place in a packed call: which file, and where its samples start, in seconds of the call's audio."""

    index: int
    start: float
    duration: float


def transcribe_packed(
    engine: FasterWhisperEngine, audio: Sequence[np.ndarray], options: TranscribeOptions
) -> list[Outcome]:
    """Transcribes short files, packed; returns each file's transcript, or the error that failed it alone.

    Args:
        engine: The loaded faster-whisper engine.
        audio: Each file's 16 kHz mono samples, each at most `SHORT_FILE_S` long.
        options: The transcription options (`engine.check` accepted them).
    """
    outcomes: list[Outcome | None] = [unspeakable(samples, options) for samples in audio]
    to_model = [i for i, outcome in enumerate(outcomes) if outcome is None]
    # A clip without speech would only lend its time to a neighbour's words or to an invented "you":
    # alone, Whisper's no-speech rule can judge it.
    heard = {i for i in to_model if get_speech_timestamps(audio[i], VadOptions())}
    speech, alone = [i for i in to_model if i in heard], [i for i in to_model if i not in heard]
    for language, probabilities, indices in _by_language(engine, audio, speech, options):
        for call in _calls([audio[i].shape[0] / SAMPLE_RATE for i in indices]):
            placed = [[Placed(indices[p.index], p.start, p.duration) for p in window] for window in call]
            done, redo = _decode_call(engine, audio, placed, language, options)
            for i, transcript in done.items():
                outcomes[i] = dataclasses.replace(transcript, language_probability=probabilities.get(i))
            alone += redo
    if alone:
        log.info(
            "%d of %d packed file(s) transcribed alone (fallback, no words, or a failed call)", len(alone), len(audio)
        )
    for i in sorted(alone):
        outcomes[i] = _alone(engine, audio[i], options)
    return [o for o in outcomes if o is not None]


def _alone(engine: FasterWhisperEngine, samples: np.ndarray, options: TranscribeOptions) -> Outcome:
    try:
        return engine.transcribe(samples, options)
    except PreannotateError as e:
        return e


def _by_language(
    engine: FasterWhisperEngine, audio: Sequence[np.ndarray], indices: list[int], options: TranscribeOptions
) -> Iterator[tuple[str, dict[int, float], list[int]]]:
    """Yields each language with the files in it and their detected probabilities (none when it was given).

    A multilingual model without `transcribe.language` detects each file's language on its own 30-s
    window, as one-at-a-time transcription does, with a batch of files per encoder call.
    """
    model = engine.model
    if not indices:  # no clip with speech: nothing to detect, no call to make
        return
    fixed = fixed_language(engine, options)
    if fixed is not None:
        yield fixed, {}, indices
        return
    found: dict[str, dict[int, float]] = {}
    for first in range(0, len(indices), LANGUAGE_BATCH):
        batch = indices[first : first + LANGUAGE_BATCH]
        features = np.stack([pad_or_trim(model.feature_extractor(audio[i])[..., :-1]) for i in batch])
        detected = model.model.detect_language(model.encode(features))
        for i, ranked in zip(batch, detected):
            token, probability = ranked[0]
            found.setdefault(token[2:-2], {})[i] = float(probability)
    for language, probabilities in found.items():
        yield language, probabilities, list(probabilities)


def fixed_language(engine: FasterWhisperEngine, options: TranscribeOptions) -> str | None:
    """The language decoded without detection: English for an English-only model, else the given one, or None."""
    if not engine.model.model.is_multilingual:
        return "en"
    return language_code(options.language)


def _calls(durations: list[float]) -> Iterator[list[list[Placed]]]:
    """Packs clips into windows of up to `WINDOW_S` and windows into calls of at most `WINDOWS_PER_CALL`.

    Longest clip first, each into the fullest window it fits (best-fit decreasing): fewer windows than
    packing in order, so fewer encoder passes. The windows are then shared evenly among as few calls as
    hold them (9 windows: 3, 3 and 3, not 4, 4 and 1), since a call of one window batches nothing.
    `Placed.index` is the clip's position in `durations`; `start` is on the call's audio, where windows
    follow each other and every clip is followed by `GAP_S` of silence.
    """
    windows = _windows(durations)
    calls = -(-len(windows) // WINDOWS_PER_CALL)
    for k in range(calls):
        call, position = [], 0.0
        for window in windows[k * len(windows) // calls : (k + 1) * len(windows) // calls]:
            placed = []
            for index in window:
                placed.append(Placed(index, position, durations[index]))
                position += durations[index] + GAP_S
            call.append(placed)
        yield call


def _windows(durations: list[float]) -> list[list[int]]:
    """Best-fit decreasing: each window's clip indices, in file order; every window holds at most `WINDOW_S`."""
    windows: list[list[int]] = []
    used: list[float] = []
    for index in sorted(range(len(durations)), key=lambda i: (-durations[i], i)):
        need = durations[index]
        fits = [w for w in range(len(windows)) if used[w] + GAP_S + need <= WINDOW_S]
        if fits:
            best = max(fits, key=lambda w: used[w])
            windows[best].append(index)
            used[best] += GAP_S + need
        else:
            windows.append([index])
            used.append(need)
    return sorted(sorted(window) for window in windows)


def _decode_call(
    engine: FasterWhisperEngine,
    audio: Sequence[np.ndarray],
    windows: list[list[Placed]],
    language: str,
    options: TranscribeOptions,
) -> tuple[dict[int, Transcript], list[int]]:
    """Decodes a call's windows in one batch; returns the transcripts it settles and the files to redo alone."""
    gap = np.zeros(round(GAP_S * SAMPLE_RATE), dtype=np.float32)
    clips = [p for window in windows for p in window]
    samples = np.concatenate(list(itertools.chain.from_iterable((audio[p.index], gap) for p in clips)))
    spans = [{"start": w[0].start, "end": w[-1].start + w[-1].duration} for w in windows]
    try:
        per_window = decode_windows(engine, samples, spans, language, options)
    except (RuntimeError, ValueError, IndexError):
        return {}, [p.index for p in clips]  # each file alone: the one that fails the model fails alone
    done: dict[int, Transcript] = {}
    redo: list[int] = []
    for window, inside in zip(windows, per_window):
        per_clip = _split(inside, window, options.word_timestamps)
        # A clip with no words is silence, or one the window's text skipped: a decode that looped on one
        # sentence leaves a clip empty and puts that sentence's words in its neighbours, at the wrong times.
        if decoded_again(inside, options) or (len(window) > 1 and not all(per_clip)):
            redo += [p.index for p in window]
            continue
        for clip, clip_segments in zip(window, per_clip):
            if not clip_segments:
                redo.append(clip.index)  # a window of one clip: decoded alone, with every fallback
                continue
            text = "".join(s["text"] for s in clip_segments)
            result = {"segments": clip_segments, "text": text, "language": language}
            done[clip.index] = to_transcript(result, audio[clip.index].shape[0] / SAMPLE_RATE, None)
    return done, redo


def _batched_kwargs(
    options: TranscribeOptions, engine: FasterWhisperEngine, language: str, spans: list[dict[str, float]]
) -> dict[str, Any]:
    """`BatchedInferencePipeline.transcribe`'s arguments for windows at `spans` (seconds of its audio).

    Each window is decoded once, at the first temperature, without the previous window's text, with
    word times (what packing splits back by and what a skipped utterance is found by).
    """
    kwargs = transcribe_kwargs(options, engine.options)
    for name in ("clip_timestamps", "hallucination_silence_threshold", "vad_parameters"):
        kwargs.pop(name, None)
    kwargs.update(
        language=language,
        temperature=kwargs["temperature"][:1],
        condition_on_previous_text=False,  # the previous window holds other files
        vad_filter=False,
        clip_timestamps=spans,
        word_timestamps=True,  # words are what is split back by time
    )
    return kwargs


def decode_windows(
    engine: FasterWhisperEngine, samples: np.ndarray, spans: list[dict[str, float]], language: str,
    options: TranscribeOptions,
) -> list[list[dict[str, Any]]]:  # fmt: skip
    """Decodes the windows at `spans` (seconds of `samples`) in one batched call; each window's segment dicts."""
    kwargs = _batched_kwargs(options, engine, language, spans)
    ctranslate2.set_random_seed(SEED)
    pipeline = BatchedInferencePipeline(engine.model)  # its own: the word-timing state is per call
    segments, _ = pipeline.transcribe(samples, batch_size=len(spans), **kwargs)
    decoded = [dataclasses.asdict(s) for s in segments]
    return [[s for s in decoded if abs(s["seek"] / 100 - span["start"]) < 0.02] for span in spans]


def decoded_again(segments: list[dict[str, Any]], options: TranscribeOptions) -> bool:
    """Whether one-at-a-time decoding would decode this window again, at the next temperature."""
    if not segments or len(options.temperature) == 1:
        return False
    text = "".join(s["text"] for s in segments)
    ratio, logprob = options.compression_ratio_threshold, options.logprob_threshold
    too_repetitive = ratio is not None and get_compression_ratio(text) > ratio
    return too_repetitive or (logprob is not None and segments[0]["avg_logprob"] < logprob)


def _split(segments: list[dict[str, Any]], window: list[Placed], keep_words: bool) -> list[list[dict[str, Any]]]:
    """Cuts a window's segments at clip borders: each clip's segments, in its own file's time.

    A word goes to the clip its end falls in (`_clip_of`); a segment's words that go to one clip become one segment.
    """
    per_clip: list[list[dict[str, Any]]] = [[] for _ in window]
    for segment in segments:
        pieces: dict[int, list[dict[str, Any]]] = {}
        for word in segment["words"]:
            pieces.setdefault(_clip_of(window, word), []).append(word)
        for k, words in pieces.items():
            per_clip[k].append(_piece(segment, words, window[k], keep_words))
    return per_clip


def _clip_of(window: list[Placed], word: dict[str, Any]) -> int:
    """The clip a word was said in: the one its end falls in, or the one before the gap it ends in.

    Whisper times a word after a pause from the end of the word before it, so a clip's first word starts in
    the gap, or even in the previous clip's trailing silence; its end is where it was said (Whisper's own
    timing keeps the end and moves the start of such words). Assigned by their middle, 12 of Asterisk's 231
    short prompts lost their first word to the clip before (base, beam 5: 2.9% WER packed, 2.4% alone; by
    their end 2.0%).
    """
    end = word["end"]
    for k, clip in enumerate(window):
        if end <= clip.start + clip.duration:
            return k if end >= clip.start or k == 0 else k - 1
    return len(window) - 1


def _piece(segment: dict[str, Any], words: list[dict[str, Any]], clip: Placed, keep_words: bool) -> dict[str, Any]:
    """The part of a segment said in one clip, as a segment of the clip's own file."""
    inside = lambda t: min(round(max(t - clip.start, 0.0), 3), clip.duration)  # noqa: E731  # never past its end
    moved = [{**w, "start": inside(w["start"]), "end": inside(w["end"])} for w in words]
    text = "".join(w["word"] for w in words)
    return {"text": text, "start": moved[0]["start"], "end": moved[-1]["end"], "words": moved if keep_words else None,
            "tokens": [], "temperature": segment["temperature"], "avg_logprob": segment["avg_logprob"],
            "compression_ratio": get_compression_ratio(text), "no_speech_prob": segment["no_speech_prob"]}  # fmt: skip
