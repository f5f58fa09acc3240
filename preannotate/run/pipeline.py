"""The orchestrator: check everything that can fail early, plan what is finished, run the stages in order.

The stages (`preannotate.run.stages.STAGES`): decode, transcribe, speakers, check, chunk, export, upload.
Everything that can fail for one file is caught per file and recorded; the run goes on and reports it.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from .. import asr
from ..config import config_to_dict
from ..discover import find_media
from ..journal import JOURNAL_FILE, Journal, previous_run
from ..lock import locked
from ..options import ModelOptions, RunConfig
from ..report import FileResult, RunReport, versions
from ..review import Reviewer
from ..superannotate import preflight
from .check import prepare_check_model
from .context import RunContext
from .owner import check_output_folder, warn_other_input
from .plan import plan
from .stages import STAGES, stage_keys
from .transcribe_jobs import load_engine
from .unchanged import unchanged_chunks

log = logging.getLogger(__name__)


def run_pipeline(config: RunConfig, *, progress: bool = True) -> RunReport:
    """Runs the whole job described by `config`.

    Args:
        config: A validated run configuration.
        progress: Show a progress bar over files and audio seconds.

    Returns:
        The run's report, also written to `<output>/run.json`.

    Raises:
        InputError: The input folder is missing or holds no media.
        ModelError: The model is missing or broken (raised before any file is processed, and before the journal
            starts: the output folder is left as it was).
        ConfigError: An option does not suit the model, or the review model cannot be loaded (raised
            before any file is processed).
        CredentialsError: Uploading is asked for and the token is missing, malformed or rejected
            (raised before any file is processed).
        LockError: Another process works on the same output folder (raised before anything is done).
        DiskFullError: The disk holding the output is full; the run stops, finished files are kept.
        StorageLostError: The input bucket stopped answering for several objects in a row; the run stops,
            finished files are kept.
    """
    check_output_folder(Path(config.output.dir))  # before the lock: a folder it refuses gets no lock file either
    return _run_locked(config, progress)


@locked("run")
def _run_locked(config: RunConfig, progress: bool) -> RunReport:
    ctx = _start(config, progress)
    journal, finished = ctx.report.journal, False
    try:
        with ctx.cluster:  # the Ray session, if a stage joined one
            for stage in STAGES:
                stage.run(ctx)
        finished = True
    finally:
        if journal is not None:
            journal.close()
            if not finished:  # if it failed before its first file, a new folder is left as it was (see the lock)
                journal.discard_unused()
    return ctx.report


def _driver_model(config: RunConfig) -> ModelOptions:
    """The model options this process checks before any work.

    On Ray the actors run the model, so `model.device: cuda` asks for a GPU on their nodes (each actor checks
    it there), not on the driver, often a CPU head node.
    """
    if config.run.executor != "ray" or config.model.device != "cuda":
        return config.model
    return dataclasses.replace(config.model, device="cpu")  # the device is no part of the model's identity


def not_loaded(config: RunConfig, model: asr.PreparedModel) -> dict[str, Any]:
    """run.json's `model` before (or without) loading it: as configured and resolved, `loaded: false`.

    The weights' id and the device are the loaded engine's to say (`loaded: true`); a run whose files were all
    reused, or were all unreadable, records the model it would have used rather than a guess of them.
    """
    return {
        "name": config.model.name, "identity": model.identity, "engine": model.spec.name, "id": None,
        "device": None, "source": model.source.description, "loaded": False,
    }  # fmt: skip


def _start(config: RunConfig, progress: bool) -> RunContext:
    """Checks what can fail before any work, keys the stages and plans which files need transcribing."""
    out = Path(config.output.dir)
    check_output_folder(out)  # again under the lock, before any work: a folder of the user's own is not overwritten
    found = find_media(config.input.dir, config.input.extensions)
    media = found.media
    session = preflight(config.superannotate)  # a bad token must fail before hours of transcription
    reviewer = Reviewer.from_options(config.annotation)  # so must a bad review model path
    model = asr.prepare(_driver_model(config))  # resolved and checked once: a bad model fails before any work
    prepare_check_model(config)  # so does a bad check model
    report = RunReport(out, config_to_dict(config), versions={**versions(), **model.spec.versions()})
    report.model = not_loaded(config, model)  # until the engine loads: a run that transcribes nothing never loads it
    report.stages = keys = stage_keys(config, model.identity)
    previous = previous_run(out)  # rebuilds run.json first if the last run was killed
    planned = plan(media, out, keys["transcribe"], config.output.force, previous)
    # What discovery could not take (a folder it cannot list, a named pipe) fails like an unreadable file.
    unreadable = [FileResult(u.item, u.source, "failed", u.error) for u in found.unreadable]
    report.files = sorted([*planned.results, *unreadable], key=lambda f: f.source)
    if previous is not None:  # the last run's journal, already played back: run.json is not read again
        earlier = [f.item for f in previous.report.files]
        warn_other_input(out, previous.report.config, earlier, str(config.input.dir), {f.item for f in report.files})
    if planned.reused:
        log.info("%d finished file(s) taken from %s without reading their transcript", planned.reused, JOURNAL_FILE)
    # Loaded before the journal starts: a model that fails to load leaves a new folder empty, a run's unchanged.
    loaded = load_engine(planned.jobs, model, config) if planned.jobs else None
    report.journal = Journal.start(report, planned.stored)  # from here on each finished file is one line
    ctx = RunContext(config, report, model, reviewer, session, keys, planned.jobs, progress, media=media)
    ctx.previous, ctx.reused, ctx.loaded = previous, planned.reused, loaded
    if not planned.jobs:  # read now: the speakers stage writes run.json before the chunk stage looks
        ctx.kept = unchanged_chunks(out, report.files, keys, previous, planned.reused)
    return ctx
