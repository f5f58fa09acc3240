"""The check stage on Ray: the check model's and the slowed decode's transcriptions made by the cluster's actors.

A check is a transcription, and it costs about as much as the draft (base drafting: the tiny.en check about
half the draft's time on a CPU, the slowed decode 0.85 times more). Made on the driver after the cluster's
transcription, it would take longer than the whole cluster took for the drafts. As for the drafts, short files
go in the batches a local check packs them in, and the others alone, so the words and the key are a local check's.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from .. import asr
from ..errors import ModelError, PreannotateError, TranscriptionError
from .check_jobs import CheckJob, Store, by_language, check_options, check_seconds, failed, stored_words, unloadable
from .packed_jobs import short_batches
from .ray_transcribe import transcribe_on_ray

if TYPE_CHECKING:
    from ..options import ModelOptions, RunConfig, TranscribeOptions

log = logging.getLogger(__name__)


def check_on_ray(config: RunConfig, model: ModelOptions, jobs: list[CheckJob], store: Store) -> list[CheckJob]:
    """Transcribes every job with `model` on the cluster of `config.ray`, storing each file's words as they arrive.

    Args:
        config: The run's configuration (the cluster, the draft's decoding and silence options).
        model: The check model's options (faster-whisper), or the draft's for jobs decoded slowed down.
        jobs: The files, all decoded slowed down or none (`CheckJob.slow`).
        store: Called with each checked job and its words, on the file's own times.

    Returns:
        The jobs left unchecked because the model cannot be resolved or the actors cannot load it (each one
        warned, as on one machine); empty when every job came back.

    Raises:
        ConfigError: The cluster cannot be joined, or its nodes cannot read the inputs.
    """
    finished: set[int] = set()  # the jobs whose outcome came back (id)
    try:
        # Resolved here, loaded by the actors on their nodes: a CPU head has no CUDA to check, and the device is
        # no part of the identity (as for the drafts: `pipeline._driver_model`).
        prepared = asr.prepare(dataclasses.replace(model, device="cpu"))
    except PreannotateError as e:  # e.g. an openai-whisper checkpoint, which faster-whisper cannot load
        return _unavailable(jobs, model.name, e)
    try:
        for language, group in by_language(jobs).items():
            _check_group(config, model, prepared, check_options(config, language), group, store, finished)
    except ModelError as e:
        return _unavailable([job for job in jobs if id(job) not in finished], model.name, e)
    return []


def _check_group(
    config: RunConfig,
    model: ModelOptions,
    prepared: asr.PreparedModel,
    options: TranscribeOptions,
    group: list[CheckJob],
    store: Store,
    finished: set[int],
) -> None:
    """Checks files of one language with the decoding options that name it, short ones packed as locally."""
    paths, identity = [job.media.path for job in group], prepared.identity
    packs = short_batches(group, check_seconds(group), prepared.spec.packing(model, options))
    outcomes = transcribe_on_ray(paths, model, options, identity, config.ray, config.silence, group[0].slow, packs)
    for outcome in outcomes:
        job = group[outcome.index]
        if id(job) in finished:  # a retried task's repeat: the first outcome was stored
            continue
        finished.add(id(job))
        if outcome.transcript is None:
            failed(job, TranscriptionError(outcome.error or "no transcript came back"))
        else:
            store(job, stored_words(job, outcome.transcript))


def _unavailable(jobs: list[CheckJob], name: str, error: PreannotateError) -> list[CheckJob]:
    log.warning("%s cannot be loaded on the Ray cluster: %s", name, error)
    unloadable(jobs, name, error)
    return jobs
