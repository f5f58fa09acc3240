"""Short files transcribed packed: a batch of them decoded, then transcribed together by the engine.

An engine that can pack short files says how short (`short_file_s`) and transcribes a list of them at
once (`transcribe_short`, e.g. faster-whisper's `packing`). Here short files (by their declared duration)
are grouped into batches of a few minutes of audio; each batch is decoded, transcribed, and every file's
transcript stored or its failure recorded on its own, as for files transcribed one at a time. The engine's
workers each take a batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from functools import partial
from typing import Any, TypeVar

import numpy as np

from .. import asr
from ..audio import DecodedAudio
from ..errors import PreannotateError
from ..options import TranscribeOptions
from ..report import FileResult
from ..results import Transcript
from .decode import Decoded, Decoding
from .plan import Job

# Audio per batch, held decoded while it is transcribed, counting the silence the engine puts after each
# file (`short_file_gap_s`): two calls of four 28-s windows for faster-whisper. A batch's windows are
# packed together, so a larger batch fills them better; a smaller one would leave calls of one window.
BATCH_AUDIO_S = 224.0
T = TypeVar("T")  # a file to batch: the transcribe stage's `Job`, the check stage's `CheckJob`


def short_file_s(engine: asr.Engine, options: TranscribeOptions) -> float:
    """How long a file may be to be packed with others by this engine; 0 when it does not pack."""
    limit = getattr(engine, "short_file_s", None)
    return float(limit(options)) if callable(limit) else 0.0


def split_short(jobs: list[T], durations: list[float], limit: float) -> tuple[list[T], list[T]]:
    """Splits jobs into short ones (declared duration known and up to `limit`) and the others, in order."""
    short = [job for job, d in zip(jobs, durations) if 0 < d <= limit]
    chosen = {id(job) for job in short}
    return short, [job for job in jobs if id(job) not in chosen]


def short_file_gap_s(engine: asr.Engine) -> float:
    """Seconds of silence the engine lays after each packed file (0 when it says nothing)."""
    return float(getattr(engine, "short_file_gap_s", 0.0))


def engine_packing(engine: asr.Engine, options: TranscribeOptions) -> tuple[float, float]:
    """The loaded engine's packing: how long a file may be to be packed, and the silence laid after each."""
    return short_file_s(engine, options), short_file_gap_s(engine)


def pack(jobs: list[T], durations: list[float], packing: tuple[float, float]) -> tuple[list[list[T]], list[T]]:
    """The batches short files are packed in, in order, and the files transcribed alone.

    Args:
        jobs: The files.
        durations: Each file's declared duration (0: unknown, never packed).
        packing: How long a file may be to be packed (0: no packing) and the silence after each packed file.
    """
    limit, gap = packing
    short, alone = split_short(jobs, durations, limit)
    seconds = {id(job): d for job, d in zip(jobs, durations)}
    return batches(short, seconds, gap), alone


def short_batches(jobs: list[T], durations: list[float], packing: tuple[float, float]) -> list[list[int]]:
    """The batches (positions in `jobs`) a local run packs short files in, for the engine's `packing`."""
    position = {id(job): i for i, job in enumerate(jobs)}
    return [[position[id(job)] for job in batch] for batch in pack(jobs, durations, packing)[0]]


def batches(
    jobs: list[T], durations: dict[int, float], gap_s: float = 0.0, audio_s: float = BATCH_AUDIO_S
) -> list[list[T]]:
    """Groups jobs, in order, into batches of up to `audio_s` (declared audio and `gap_s` after each file).

    Every batch holds at least one file.
    """
    grouped: list[list[T]] = [[]]
    total = 0.0
    for job in jobs:
        seconds = durations[id(job)] + gap_s
        if grouped[-1] and total + seconds > audio_s:
            grouped.append([])
            total = 0.0
        grouped[-1].append(job)
        total += seconds
    return [group for group in grouped if group]


def in_batches(groups: list[list[Job]], audio: Decoding, work: Any, workers: int) -> Iterator[FileResult]:
    """Transcribes the batches, `workers` at a time, yielding each file's result as its batch finishes.

    Args:
        groups: The batches of short files.
        audio: Decodes their audio.
        work: The transcribe stage's `_Work` (engine, config, key).
        workers: Batches transcribed at once.
    """
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="packed")
    running: set[Future[list[FileResult]]] = set()
    try:
        for group in groups:
            while len(running) >= workers:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                yield from (r for future in done for r in future.result())
            decoded = [future for _, future in audio.stream(group, ahead=len(group))]
            running.add(pool.submit(_batch, group, decoded, work))
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            yield from (r for future in done for r in future.result())
    except BaseException:
        work.engine.interrupt()
        raise
    finally:
        pool.shutdown(cancel_futures=True)


def _batch(group: list[Job], decoded: list[Future[Decoded]], work: Any) -> list[FileResult]:
    """Transcribes one batch; a file that fails to decode or to transcribe fails alone."""
    from .transcribe_jobs import store_outcome  # it runs this module

    started = time.perf_counter()
    outcomes: list[Decoded | Exception] = []
    for future in decoded:
        try:
            outcomes.append(future.result())
        except Exception as e:  # raised again as the file's own failure, below
            outcomes.append(e)
    produced = transcribe_batch(work.engine, work.config.transcribe, outcomes)
    results = [store_outcome(job, work.key, produce) for job, produce in zip(group, produced)]
    share = round((time.perf_counter() - started) / len(group), 3)
    for result in results:
        result.seconds = share  # the batch's time, shared among its files
    return results


Produce = Callable[[], tuple[Transcript, list[str]]]  # a file's transcript and warnings, or raises why it failed


def transcribe_batch(engine: Any, options: TranscribeOptions, decoded: Sequence[Decoded | Exception]) -> list[Produce]:
    """Transcribes a batch's short files together; for each file, what gives its transcript and warnings.

    A file that failed to decode raises its error when asked; one longer than the engine packs (its header
    said less) or all silence is transcribed alone when asked, as without packing. Used by a local run and by
    a Ray actor given a batch, so that both pack alike.
    """
    limit = short_file_s(engine, options)
    packed = [i for i, o in enumerate(decoded) if _packable(o, limit)]
    transcripts = dict(zip(packed, engine.transcribe_short([_samples(decoded[i]) for i in packed], options)))
    return [partial(_produce, engine, options, got, transcripts.get(i)) for i, got in enumerate(decoded)]


def _produce(engine: Any, options: TranscribeOptions, got: Any, transcript: Any) -> tuple[Transcript, list[str]]:
    from .transcribe_jobs import audio_warnings, transcribe_audio  # they run this module

    if isinstance(got, Exception):
        raise got
    if transcript is None:  # longer than its header said: alone, window after window
        return transcribe_audio(engine, got, options)
    if isinstance(transcript, PreannotateError):
        raise transcript
    if got.timeline is not None:  # quiet stretches were cut as it decoded: back on its own timeline
        transcript = got.timeline.restore(transcript)
    return transcript, audio_warnings(got, transcript)


def _packable(decoded: Decoded | Exception, limit: float) -> bool:
    """Decoded, short enough, and not all silence (which `transcribe_audio` skips without the model)."""
    if not isinstance(decoded, DecodedAudio) or decoded.duration > limit:
        return False
    return decoded.timeline is None or not decoded.timeline.silent


def _samples(decoded: Decoded | Exception) -> np.ndarray:
    assert isinstance(decoded, DecodedAudio)
    return decoded.samples
