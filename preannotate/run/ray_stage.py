"""The transcribe stage on Ray: the driver's side, storing each file's transcript the moment it arrives."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

from ..errors import TranscriptionError
from .packed_jobs import short_batches
from .ray_transcribe import RemoteOutcome, transcribe_on_ray
from .transcribe_jobs import store_outcome

if TYPE_CHECKING:
    from ..asr import PreparedModel
    from ..options import RunConfig
    from ..report import FileResult, RunReport
    from ..results import Transcript
    from .plan import Job

log = logging.getLogger(__name__)


def results_from_ray(
    jobs: list[Job], durations: list[float], model: PreparedModel, config: RunConfig, key: str, report: RunReport
) -> Iterator[FileResult]:
    """Transcribes `jobs` on the Ray cluster of `config.ray`, yielding each file's result once it is stored.

    Short files (by their probed `durations`) go in the batches a local run packs them in. Each transcript is
    written atomically, with the same meta as a local run's, as soon as its outcome reaches the driver; an
    outcome for a file already stored (a retried task's) is ignored, so none is written twice.

    Raises:
        ConfigError: Ray is missing, the cluster cannot be joined, or its nodes cannot read the inputs.
        ModelError: The actors cannot load the model.
    """
    paths = [job.media.path for job in jobs]
    log.info("transcribing %d file(s) on Ray with %s", len(jobs), model.identity or config.model.name)
    stored: set[int] = set()
    packs = short_batches(jobs, durations, model.spec.packing(config.model, config.transcribe))
    if packs:
        log.info("%d short file(s) packed together (model.faster_whisper.pack_short_files)", sum(map(len, packs)))
    remote = transcribe_on_ray(
        paths, config.model, config.transcribe, model.identity, config.ray, config.silence, packs=packs
    )
    for outcome in remote:
        if outcome.index in stored:
            log.warning("%s: a retried task returned it again; kept the first transcript", paths[outcome.index])
            continue
        stored.add(outcome.index)
        _record_engine(report, outcome)
        result = store_outcome(jobs[outcome.index], key, partial(_produced, outcome))
        result.seconds = outcome.seconds
        yield result


def _produced(outcome: RemoteOutcome) -> tuple[Transcript, list[str]]:
    if outcome.transcript is None:
        raise TranscriptionError(outcome.error or "no transcript came back")
    return outcome.transcript, outcome.warnings


def _record_engine(report: RunReport, outcome: RemoteOutcome) -> None:
    """Records the engine the actors loaded in run.json, as a local run records its own."""
    info = outcome.engine
    if info and not report.model.get("loaded"):
        fields = {"engine": info["engine"], "id": info["model_id"], "device": info["device"], "loaded": True}
        report.note(
            model={**report.model, **fields, "source": info["description"]},
            versions={**report.versions, **(info.get("versions") or {})},
        )
