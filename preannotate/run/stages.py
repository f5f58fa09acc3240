"""The run's stages, in order, each with the options that shape what it stores.

A stage that stores something has a resume key: a hash of its format, the keys
of the stages (or the model) it reads from, and the options it declares, so
that changing an option redoes exactly the stages it shapes and those after
them. The transcript key is the one every earlier version stored, so finished
transcripts stay finished. The speakers stage, between transcribe and chunk, is
keyed on its own options only; chunk reads its key too, when speakers are on.
`speakers.mode: channels` transcribes each channel apart, so the mode is part of
the transcript key then (and only then); the channels' names are not: they are
given at chunking, so renaming them re-chunks without transcribing again.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from ..errors import UploadError
from ..journal import EXPORTED
from ..options import RunConfig
from ..quality.model import CHECKED_PATH as CHECKED_REVIEW_MODEL
from ..quality.model import DEFAULT_PATH as SHIPPED_REVIEW_MODEL
from ..quality.model import ENGLISH_PATH as ENGLISH_REVIEW_MODEL
from ..quality.model import LANGUAGES_PATH as LANGUAGES_REVIEW_MODEL
from ..quality.model import SLOWED_PATH as SLOWED_REVIEW_MODEL
from ..review import assesses_every_file, reads_slowed
from ..superannotate import upload_run
from .check import CHECK_FORMAT, check_files, checking
from .chunks import chunk_files, export_files
from .context import RunContext
from .decode import Decoding
from .resume import TRANSCRIPT_FORMAT, file_sha256, stage_key
from .speakers import SPEAKERS_FORMAT, speaker_files
from .transcribe_jobs import transcribe_jobs

log = logging.getLogger(__name__)

CHUNKS_FORMAT = 1  # bump when chunking, assessing or routing changes what the same options give
EXPORTS_FORMAT = 1  # bump when an export's form changes


@dataclasses.dataclass(frozen=True)
class Stage:
    """One step of a run.

    Attributes:
        name: The stage's name, also its key's name in run.json.
        run: Does the stage's work on the run's shared state.
        inputs: The keys it reads from: earlier stages' names, or `model` (the model's identity).
        options: The option sections (`chunking`) or fields (`annotation.review_model`) that shape
            what it stores.
        keyed_if_changed: Option sections keyed only when they differ from their defaults: sections added
            after stored work whose keys must stay valid (`silence`: a transcript made before silence skipping
            existed stays finished; turning skipping off or changing its options redoes it).
        format: Its stored form's version; None for a stage that stores nothing (it has no key).
        active: Whether the configuration uses the stage; an inactive one has no key, and the stages
            reading from it key as if it were not there (so speakers off keeps every earlier key).
        contents: What shapes the stage beyond its options, such as the digest of a file an option names
            (or its default); added to the key.
        options_if: More options that shape what it stores under some configurations only (so that
            the key stays what it was under the others).
        omit: Fields of the sections in `options` that do not shape what it stores (`section.field`):
            they reach it through an input's key, if at all.
        unused_if: Fields of the sections in `options` that shape nothing under some configurations: keyed
            at their default there, so that changing them redoes nothing (and the key stays what it was).
    """

    name: str
    run: Callable[[RunContext], None]
    inputs: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    keyed_if_changed: tuple[str, ...] = ()
    format: int | None = None
    active: Callable[[RunConfig], bool] | None = None
    contents: Callable[[RunConfig], dict[str, Any]] | None = None
    options_if: Callable[[RunConfig], tuple[str, ...]] | None = None
    omit: tuple[str, ...] = ()
    unused_if: Callable[[RunConfig], tuple[str, ...]] | None = None


def _decode(ctx: RunContext) -> None:
    """Sets up decoding: each file's audio decodes in the background as transcription asks for it."""
    ctx.audio = Decoding(_per_channel(ctx.config), ctx.config.silence)


def _transcribe(ctx: RunContext) -> None:
    """Transcribes the files not finished; an interruption is recorded in run.json before it goes on."""
    loaded, ctx.loaded = ctx.loaded, None  # the engine is freed once the files are transcribed
    if loaded is None:  # no jobs
        return
    if ctx.config.run.executor == "ray":
        ctx.on_cluster()
    try:
        with ctx.audio or Decoding(_per_channel(ctx.config), ctx.config.silence) as audio:
            transcribe_jobs(
                ctx.jobs, loaded, audio, ctx.model, ctx.config, ctx.keys["transcribe"], ctx.report, ctx.progress
            )
    except KeyboardInterrupt:
        ctx.report.note(interrupted=True)
        ctx.report.write()
        raise


def _chunk(ctx: RunContext) -> None:
    """Chunks, assesses and routes every finished transcript, unless none changed since the last run's exports."""
    report = ctx.report
    if ctx.kept is not None:
        for result, fields in zip(report.files, ctx.kept):
            vars(result).update(fields)
        ctx.unchanged = True
        log.info("no transcript or chunking option changed: chunks and exports kept as they are")
        return
    ctx.entries, ctx.owners = chunk_files(ctx.config, report, ctx.reviewer)


def _export(ctx: RunContext) -> None:
    """Writes every export of the chunked items (unless unchanged), then run.json."""
    if not ctx.unchanged:
        ctx.entries = export_files(ctx.report, ctx.entries, ctx.owners, ctx.config.annotation)
    ctx.report.write()
    if ctx.report.journal is not None:  # a next run may keep these exports (`preannotate.run.unchanged`)
        ctx.report.journal.append(EXPORTED)


def _upload(ctx: RunContext) -> None:
    """Uploads (or, without a session, dry-runs) the annotations and records the outcome in run.json."""
    config, report = ctx.config, ctx.report
    try:
        outcome = upload_run(
            report.output_dir, config.superannotate, config.annotation, config.input.dir, ctx.session,
            files=report.files,
        )  # fmt: skip
        report.upload = outcome.to_dict()
    except UploadError as e:  # transcripts and exports are kept: `preannotate upload` retries later
        log.error("upload failed: %s", e)
        report.upload = {"error": str(e), "summary": {"failed": 1}}
    report.write()


def _speakers_on(config: RunConfig) -> bool:
    return config.speakers.mode != "none"


def _review_model_digest(config: RunConfig) -> dict[str, Any]:
    """The review model file's digest: a refitted model (a new preannotate ships one) re-assesses the chunks.

    `annotation.review_model` is null for the shipped model, so the option alone would keep its old verdicts.
    Every model that may assess a file counts: a team's model calibrated on checked drafts leaves the files
    without a check to the shipped ones, one calibrated on English corrections other languages (`review.Reviewer`).
    The model of other languages counts for every run, as the English one: a folder's languages are not known
    before its files are transcribed.
    """
    team, checked = config.annotation.review_model, checking(config)
    try:
        digests = {"review_model_sha256": file_sha256(team or SHIPPED_REVIEW_MODEL)}
        if not assesses_every_file(config.annotation):  # the shipped models assess the rest (English: its own)
            digests["english_review_model_sha256"] = file_sha256(ENGLISH_REVIEW_MODEL)
            digests["languages_review_model_sha256"] = file_sha256(LANGUAGES_REVIEW_MODEL)
            if team is not None:
                digests["shipped_review_model_sha256"] = file_sha256(SHIPPED_REVIEW_MODEL)
        if checked and (team is None or reads_slowed(config.annotation)):  # also a team's slowed one's fallback
            digests["checked_review_model_sha256"] = file_sha256(CHECKED_REVIEW_MODEL)
        if checked and team is None and config.annotation.slowed_check:
            digests["slowed_review_model_sha256"] = file_sha256(SLOWED_REVIEW_MODEL)
        return digests
    except OSError:  # Reviewer.from_options has already named the file and the problem
        return {}


def _slowed_decode(config: RunConfig) -> dict[str, Any]:
    """Whether the check stage makes the slowed decode, when not what `annotation.slowed_check` says.

    A team's model calibrated without the slowed decode's words needs none; a check made so must be made
    again, with it, for a model that reads them. Empty otherwise, so the shipped models' keys stay as they were.
    """
    wanted = reads_slowed(config.annotation)
    return {} if wanted == config.annotation.slowed_check else {"slowed_decode": wanted}


def _check_contents(config: RunConfig) -> dict[str, Any]:
    """What shapes a check besides its options: the slowed decode asked for.

    On Ray short files are checked packed as locally (`ray_check`), so both executors share the key.
    """
    return _slowed_decode(config)


def _per_channel(config: RunConfig) -> bool:
    return config.speakers.mode == "channels"


def _names_unused(config: RunConfig) -> tuple[str, ...]:
    """`speakers.channel_names` outside channels mode: diarization names speakers itself."""
    return ("speakers.channel_names",) if config.speakers.mode != "channels" else ()


def _channels_mode(config: RunConfig) -> tuple[str, ...]:
    """`speakers.mode` when it is channels: each channel is transcribed apart (the names come at chunking)."""
    return ("speakers.mode",) if _per_channel(config) else ()


# The review model and routing shape the chunks' assessment and route; class and group names only the exports.
_ASSESSMENT = ("annotation.review_model", "annotation.review_threshold", "annotation.draft_max_wer")
_ROUTING = ("superannotate.control_share", "superannotate.control_seed")

STAGES: tuple[Stage, ...] = (
    Stage("decode", _decode),
    Stage(
        "transcribe",
        _transcribe,
        inputs=("model",),
        options=("transcribe",),
        keyed_if_changed=("silence",),
        format=TRANSCRIPT_FORMAT,
        options_if=_channels_mode,
    ),
    # Keyed on the speaker options only (the audio is the transcript's source): see run/speakers.py.
    Stage(
        "speakers",
        speaker_files,
        options=("speakers",),
        format=SPEAKERS_FORMAT,
        active=_speakers_on,
        unused_if=_names_unused,
    ),
    # Keyed on the draft's key (its language and words decide what is checked) and the check model.
    Stage(
        "check",
        check_files,
        inputs=("transcribe",),
        options=("annotation.cross_check", "annotation.slowed_check"),
        format=CHECK_FORMAT,
        active=checking,
        contents=_check_contents,
    ),
    Stage(
        "chunk",
        _chunk,
        inputs=("transcribe", "speakers", "check"),
        options=("chunking", *_ASSESSMENT, *_ROUTING),
        format=CHUNKS_FORMAT,
        contents=_review_model_digest,
    ),
    # The check model shapes the chunks only (through the chunk key): a tiny draft's keys stay as they were.
    Stage(
        "export",
        _export,
        inputs=("chunk",),
        options=("annotation",),
        format=EXPORTS_FORMAT,
        omit=("annotation.cross_check",),
    ),
    Stage("upload", _upload),
)


def stage_options(stage: Stage, config: RunConfig) -> dict[str, Any]:
    """The values of the options a stage declares: a whole section as a dict, or the chosen fields of one."""
    chosen: dict[str, Any] = {}
    for name in (*stage.options, *(stage.options_if(config) if stage.options_if else ())):
        section, _, field = name.partition(".")
        values = getattr(config, section)
        if field:
            chosen.setdefault(section, {})[field] = getattr(values, field)
        else:
            left_out = {f.partition(".")[2] for f in stage.omit if f.startswith(f"{section}.")}
            chosen[section] = {k: v for k, v in dataclasses.asdict(values).items() if k not in left_out}
    for section in stage.keyed_if_changed:
        values = getattr(config, section)
        if values != type(values)():
            chosen[section] = dataclasses.asdict(values)
    for name in stage.unused_if(config) if stage.unused_if else ():
        section, _, field = name.partition(".")
        if field in chosen.get(section, {}):
            chosen[section][field] = dataclasses.asdict(type(getattr(config, section))())[field]
    return chosen


def stage_keys(config: RunConfig, model_identity: str, stages: tuple[Stage, ...] = STAGES) -> dict[str, str]:
    """Each storing stage's resume key, by name, in stage order.

    Args:
        config: The run's configuration.
        model_identity: Identifies the weights and the engine with its options (`asr.PreparedModel.identity`).
        stages: The stages, in order; each one's inputs come before it.
    """
    keys = {"model": model_identity}
    for stage in stages:
        if stage.format is not None and (stage.active is None or stage.active(config)):
            inputs = {name: keys[name] for name in stage.inputs if name in keys}
            contents = stage.contents(config) if stage.contents is not None else {}
            keys[stage.name] = stage_key({"format": stage.format, **inputs, **stage_options(stage, config), **contents})
    del keys["model"]
    return keys
