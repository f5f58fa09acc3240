"""The check model's transcriptions (`annotation.cross_check`): short files packed, the others one at a time.

As in the transcribe stage, files up to the engine's `short_file_s` are decoded in batches and transcribed
together (`transcribe_short`: several clips per 30-s window), and longer ones each on a worker of their own;
silence is skipped as the draft's was. A file whose check fails gets a warning and no check. The draft
model's decode of the slowed audio (`annotation.slowed_check`) goes the same way, on the slowed samples.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, NamedTuple

from .. import asr
from ..audio import DecodedAudio, decode_audio, probe_duration
from ..audio_speed import SPEED, at_file_speed, decode_slowed
from ..discover import MediaFile
from ..errors import PreannotateError, RunStoppedError
from ..options import RunConfig, TranscribeOptions
from ..report import FileResult
from ..results import Transcript
from .packed_jobs import engine_packing, pack, transcribe_batch
from .transcribe_jobs import transcribe_audio

log = logging.getLogger(__name__)

Store = Callable[["CheckJob", list[list[Any]]], None]


class CheckJob(NamedTuple):
    """A file to check: its result in the report (for warnings), the file, and the meta its check is stored with.

    `slow`: the file is decoded slowed down (`audio_speed`), its words given at the file's own times.
    """

    result: FileResult
    media: MediaFile
    meta: dict[str, Any]
    slow: bool = False


def check_all(engine: asr.Engine, config: RunConfig, jobs: list[CheckJob], store: Store) -> None:
    """Transcribes every job with the check engine, `engine.workers` tasks at once, storing each file's words.

    Args:
        engine: The loaded check model (or the draft's, for jobs decoded slowed down).
        config: The run's configuration (its decoding and silence options; each file's language is its draft's).
        jobs: The files to check.
        store: Called with each checked job and its words (`[start, end, word]`).
    """
    tasks: list[Callable[[], None]] = []
    for language, group in by_language(jobs).items():
        options = check_options(config, language)
        packed, alone = pack(group, check_seconds(group), engine_packing(engine, options))
        tasks += [partial(_packed, engine, config, options, batch, store) for batch in packed]
        tasks += [partial(_alone, engine, config, options, job, store) for job in alone]
    with ThreadPoolExecutor(max_workers=engine.workers, thread_name_prefix="check") as pool:
        for _ in pool.map(lambda task: task(), tasks):
            pass


def _alone(engine: asr.Engine, config: RunConfig, options: TranscribeOptions, job: CheckJob, store: Store) -> None:
    """Checks one file, window after window."""
    _keep(job, store, lambda: transcribe_audio(engine, _decoded(job, config), options))


def _keep(job: CheckJob, store: Store, produce: Callable[[], tuple[Transcript, list[str]]]) -> None:
    """Stores the words `produce` transcribes, or a warning on the job when its check fails."""
    try:
        transcript, _ = produce()
    except RunStoppedError:
        raise
    except Exception as e:  # noqa: BLE001 (one file's check must not cost the run, nor the file its draft)
        failed(job, e)
        return
    store(job, stored_words(job, transcript))


def _decoded(job: CheckJob, config: RunConfig) -> DecodedAudio:
    """The job's audio as its check hears it: as the draft's was, or slowed down (silence skipped after)."""
    if job.slow:
        return decode_slowed(job.media.path, config.silence)
    return decode_audio(job.media.path, config.silence)


def _packed(
    engine: asr.Engine, config: RunConfig, options: TranscribeOptions, batch: list[CheckJob], store: Store
) -> None:
    """Checks short files packed together; one that is silent or longer than its header said goes alone."""
    decoded: list[DecodedAudio | Exception] = []
    for job in batch:
        try:
            decoded.append(_decoded(job, config))
        except RunStoppedError:
            raise
        except PreannotateError as e:
            decoded.append(e)
    for job, produce in zip(batch, transcribe_batch(engine, options, decoded)):
        _keep(job, store, produce)


def check_seconds(jobs: list[CheckJob]) -> list[float]:
    """How long each job's audio is by its header (0: unknown), slowed down for a slowed decode: what packs it."""
    stretch = [1 / SPEED if job.slow else 1.0 for job in jobs]  # a slowed file lasts 1/SPEED times longer
    return [(probe_duration(job.media.path) or 0.0) * k for job, k in zip(jobs, stretch)]


def by_language(jobs: list[CheckJob]) -> dict[str | None, list[CheckJob]]:
    """The jobs grouped by their draft's language, in order of first appearance."""
    groups: dict[str | None, list[CheckJob]] = {}
    for job in jobs:
        groups.setdefault(job.meta.get("language"), []).append(job)
    return groups


def check_options(config: RunConfig, language: str | None) -> TranscribeOptions:
    """The draft's decoding options for a check of a file in `language`, with word times (the words are compared)."""
    return dataclasses.replace(config.transcribe, language=language, word_timestamps=True)


def unloadable(jobs: list[CheckJob], name: str, error: Exception) -> None:
    """Warns each job's file that `name` cannot be loaded, so it goes unchecked (or without its slowed decode)."""
    for job in jobs:
        what = "not decoded slowed down" if job.slow else "not checked"
        job.result.warnings.append(f"{what}: {name} cannot be loaded: {error}")


def stored_words(job: CheckJob, transcript: Transcript) -> list[list[Any]]:
    """The transcript's words as stored, on the file's own timeline (a slowed decode's times mapped back)."""
    transcript = at_file_speed(transcript) if job.slow else transcript
    return [[w.start, w.end, w.word] for s in transcript.segments for w in (s.words or ())]


def failed(job: CheckJob, error: Exception) -> None:
    """Warns that the job's file got no check (or no slowed decode), and why."""
    how = f"{job.meta['model']}{' slowed down' if job.slow else ''}"
    job.result.warnings.append(f"not checked by {how}: {type(error).__name__}: {error}")
    log.warning("%s: not checked by %s: %s", job.media.source, how, error)
