"""Short files transcribed packed: a batch of them decoded, then transcribed together by the engine.

An engine that can pack short files says how short (`short_file_s`) and transcribes a list of them at
once (`transcribe_short`, e.g. faster-whisper's `packing`). Here short files (by their declared duration)
are grouped into batches of a few minutes of audio; each batch is decoded, transcribed, and every file's
transcript stored or its failure recorded on its own, as for files transcribed one at a time. The engine's
workers each take a batch.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
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


def split_short(jobs: list[Job], durations: list[float], limit: float) -> tuple[list[Job], list[Job]]:
    """Splits jobs into short ones (declared duration known and up to `limit`) and the others, in order."""
    short = [job for job, d in zip(jobs, durations) if 0 < d <= limit]
    chosen = {id(job) for job in short}
    return short, [job for job in jobs if id(job) not in chosen]


def short_file_gap_s(engine: asr.Engine) -> float:
    """Seconds of silence the engine lays after each packed file (0 when it says nothing)."""
    return float(getattr(engine, "short_file_gap_s", 0.0))


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
    from .transcribe_jobs import audio_warnings, store_outcome, transcribe_audio  # they run this module

    started = time.perf_counter()
    engine, options, limit = work.engine, work.config.transcribe, short_file_s(work.engine, work.config.transcribe)
    outcomes: dict[int, Decoded | Exception] = {}
    for i, future in enumerate(decoded):
        try:
            outcomes[i] = future.result()
        except Exception as e:  # raised again as the file's own failure, below
            outcomes[i] = e
    packed = [i for i, o in outcomes.items() if _packable(o, limit)]
    transcripts = dict(zip(packed, engine.transcribe_short([_samples(outcomes[i]) for i in packed], options)))
    results = []
    for i, job in enumerate(group):
        got, transcript = outcomes[i], transcripts.get(i)

        def produce(got: Any = got, transcript: Any = transcript) -> tuple[Transcript, list[str]]:
            if isinstance(got, Exception):
                raise got
            if transcript is None:  # longer than its header said: alone, window after window
                return transcribe_audio(engine, got, options)
            if isinstance(transcript, PreannotateError):
                raise transcript
            if got.timeline is not None:  # quiet stretches were cut as it decoded: back on its own timeline
                transcript = got.timeline.restore(transcript)
            return transcript, audio_warnings(got, transcript)

        results.append(store_outcome(job, work.key, produce))
    share = round((time.perf_counter() - started) / len(group), 3)
    for result in results:
        result.seconds = share  # the batch's time, shared among its files
    return results


def _packable(decoded: Decoded | Exception, limit: float) -> bool:
    """Decoded, short enough, and not all silence (which `transcribe_audio` skips without the model)."""
    if not isinstance(decoded, DecodedAudio) or decoded.duration > limit:
        return False
    return decoded.timeline is None or not decoded.timeline.silent


def _samples(decoded: Decoded | Exception) -> np.ndarray:
    assert isinstance(decoded, DecodedAudio)
    return decoded.samples
