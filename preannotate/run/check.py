"""The check stage: each item transcribed again by a second model (`annotation.cross_check`), its words stored.

The chunk stage compares the draft's words with these (`preannotate.quality.crosscheck`): words the
check model heard otherwise raise a chunk's predicted WER. A check is stored in `checks/<item>.json`
with the draft's source state and the stage's key, so it is redone only when the draft or the check's
options change. A check that fails for one file costs that file its check only (a warning): its chunks
are assessed without it, and the draft is kept.

With `annotation.slowed_check` the draft's own model then decodes each checked file slowed down
(`preannotate.audio_speed`), and the check's file gets those words too (`slowed`). Each check is stored as
soon as it is made, marked `slowed: pending` until the slowed decode is added, so a run stopped between the
two redoes only what is missing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .. import asr
from ..check_store import check_path
from ..errors import ConfigError, PreannotateError
from ..options import ModelOptions, RunConfig
from ..quality import ReviewModel
from ..report import FileResult
from ..review import reads_check, reads_slowed
from ..storage import read_json, write_json_atomic
from .check_jobs import CheckJob, Store, check_all, unloadable
from .context import RunContext
from .ray_check import check_on_ray
from .resume import is_finished

log = logging.getLogger(__name__)
# 2: short files checked packed; 3: the slowed decode. Bump when the stored check's form or making changes.
CHECK_FORMAT = 3
PENDING, DONE, UNAVAILABLE = "pending", "done", "unavailable"  # the slowed decode's state in a check's meta
AUTO_MODEL = "bundled:tiny.en"  # the smallest model shipped: a second opinion at 0.2-0.5x base's time (README)


def check_model(option: str | None, draft_model: str, language: str | None) -> str | None:
    """The model that checks a file of this language, or None when none does.

    Args:
        option: `annotation.cross_check`: `auto`, a model name, or None (off).
        draft_model: `model.name`, the draft's model.
        language: The draft's language for the file.
    """
    if option is None:
        return None
    name = AUTO_MODEL if option == "auto" else option
    if option == "auto" and _tiny(draft_model):
        return None  # tiny checking tiny: the same errors, nothing learned
    if _basename(name).endswith(".en") and language != "en":
        return None
    return name


def check_files(ctx: RunContext) -> None:
    """Checks every transcribed file whose stored check is missing or was made for another draft or options.

    `output.force` checks every file again, as it transcribes every file again: a check is a transcription.
    """
    config = ctx.config
    if "check" not in ctx.keys:  # off (`checking`)
        return
    out = ctx.report.output_dir
    if ctx.kept is not None:
        return  # every draft and check is the last run's: nothing to read
    paths = {m.item: m for m in ctx.media}
    todo: dict[str, list[CheckJob]] = {}
    slow: list[CheckJob] = []  # checked files still without their slowed decode
    marker = {"slowed": PENDING} if reads_slowed(config.annotation) else {}
    for result in ctx.report.files:
        if result.status == "failed" or result.item not in paths:
            continue
        draft = read_json(out / "transcripts" / f"{result.item}.json") or {}
        source, language = draft.get("meta", {}).get("source") or {}, draft.get("language")
        meta = {"item": result.item, "source": source, "options_key": ctx.keys["check"], "language": language}
        stored = read_json(check_path(out, result.item))
        if not isinstance(stored, dict) and check_path(out, result.item).is_file():
            log.warning("%s is damaged (not a check this tool wrote): checking %s again", check_path(out, result.item),
                        result.item)  # fmt: skip
        if not config.output.force and is_finished(stored, source, ctx.keys["check"]):
            if isinstance(stored, dict) and stored["meta"].get("slowed") == PENDING:
                slow.append(CheckJob(result, paths[result.item], stored["meta"], slow=True))
            elif isinstance(stored, dict) and stored["meta"].get("slowed") == UNAVAILABLE:  # still so: said again
                name = stored["meta"].get("model") or config.model.name
                result.warnings.append(f"not decoded slowed down: {name} cannot be loaded (an earlier run found so)")
            continue
        name = check_model(config.annotation.cross_check, config.model.name, language)
        if name is None:
            _store(out, result, {**meta, "model": None}, None)
            continue
        todo.setdefault(name, []).append(CheckJob(result, paths[result.item], {**meta, "model": name, **marker}))
    if not todo and not slow:
        return
    if on_ray(config):
        ctx.on_cluster()
    for name, files in todo.items():
        slow += _check_with(ctx, name, files)
    if slow:
        _slowed_with(ctx, slow)


def _check_with(ctx: RunContext, name: str, files: list[CheckJob]) -> list[CheckJob]:
    """Loads the check model once and checks the files with it; each file's words are stored as it is done.

    Returns:
        The files checked, as jobs for the slowed decode when `annotation.slowed_check` asks for one.
    """
    out, done, slowed = ctx.report.output_dir, [], reads_slowed(ctx.config.annotation)

    def store(job: CheckJob, words: list) -> None:
        _store(out, job.result, job.meta, words)
        if slowed:
            done.append(job._replace(slow=True))

    if on_ray(ctx.config):
        log.info("checking %d file(s) with %s on Ray", len(files), name)
        check_on_ray(ctx.config, _check_options(ctx.config, name), files, store)
        return done
    engine = _engine(ctx, name, files)
    if engine is None:
        return []
    log.info("checking %d file(s) with %s", len(files), name)
    check_all(engine, ctx.config, files, store)
    return done


def _slowed_with(ctx: RunContext, files: list[CheckJob]) -> None:
    """Decodes the checked files slowed down with the draft's model and adds the words to their stored checks.

    A model faster-whisper cannot load (an openai-whisper `.pt` file) leaves the checks without it, marked
    `unavailable` so that later runs do not try again; a file whose decode fails stays pending.
    """
    name, out = ctx.config.model.name, ctx.report.output_dir
    jobs = [job._replace(meta={**job.meta, "model": name}) for job in files]
    add: Store = lambda job, words: _add_slowed(out, job, words)  # noqa: E731
    left = jobs  # the files the model cannot decode
    if on_ray(ctx.config):
        log.info("decoding %d checked file(s) slowed down with %s on Ray", len(files), name)
        left = check_on_ray(ctx.config, _check_options(ctx.config, name), jobs, add)
    elif (engine := _engine(ctx, name, files)) is not None:
        log.info("decoding %d checked file(s) slowed down with %s", len(files), name)
        check_all(engine, ctx.config, jobs, add)
        left = []
    for job in left:  # marked unavailable, so that later runs do not try again
        _add_slowed(out, job, None)


def _engine(ctx: RunContext, name: str, files: list[CheckJob]) -> asr.Engine | None:
    """Loads `name` with faster-whisper for the files; None, each file warned, when it cannot."""
    try:
        return asr.prepare(_check_options(ctx.config, name)).load(files=len(files))
    except PreannotateError as e:
        log.warning("%s cannot be loaded by faster-whisper: %s", name, e)
        unloadable(files, name, e)
        return None


def on_ray(config: RunConfig) -> bool:
    """Whether the check stage runs on the Ray cluster (`run.executor: ray`), each file alone."""
    return config.run.executor == "ray"


def checking(config: RunConfig) -> bool:
    """Whether the check stage runs.

    Not when turned off, with a team's own review model fitted without checks, or under `auto` with a tiny
    draft: then nothing would be checked, and the run keeps the keys it had without the stage.
    """
    option = config.annotation.cross_check
    if option is None or not reads_check(config.annotation):
        return False
    return option != "auto" or not _tiny(config.model.name)


def prepare_check_model(config: RunConfig) -> None:
    """Resolves a check model named in `annotation.cross_check` before any work, so that a typo fails early.

    Raises:
        ModelError: The model cannot be found.
        ConfigError: The name is not one faster-whisper can load, or a team's review model calibrated on checked
            drafts is given to a run that checks nothing (`auto` with a tiny draft model).
    """
    refuse_unchecked_team_model(config)
    if checking(config) and config.annotation.cross_check != "auto":
        asr.prepare(_check_options(config, str(config.annotation.cross_check)))
    mismatch = calibrated_check_mismatch(config)
    if mismatch:
        log.warning("%s", mismatch)


def refuse_unchecked_team_model(config: RunConfig) -> None:
    """Refuses a team's review model calibrated on checked drafts where `auto` checks nothing (a tiny draft model).

    `Reviewer.from_options` refuses it with `cross_check: null`; this case needs the draft model's name, which
    the annotation options do not hold. Both the run and a re-export (`export_chunks`) ask.

    Raises:
        ConfigError: Such a model, `annotation.cross_check: auto`, and a tiny draft model.
    """
    team = config.annotation.review_model is not None and config.annotation.cross_check == "auto"
    if team and reads_check(config.annotation) and not checking(config):
        raise ConfigError(
            f"annotation.review_model {config.annotation.review_model!r} was calibrated on checked drafts, but "
            f"annotation.cross_check auto checks no file drafted by {config.model.name} (a tiny model): name a "
            "check model in annotation.cross_check, or use another review model"
        )


def calibrated_check_mismatch(config: RunConfig) -> str | None:
    """Why a team's model calibrated on checked drafts may misjudge this run's: another check model; else None.

    The number of words a check hears otherwise depends on the check model (tiny.en disagrees with base more
    than a larger model would), so a model calibrated on one check's words is only calibrated for that one.
    """
    path = config.annotation.review_model
    if path is None or not checking(config):
        return None
    try:
        calibrated = ReviewModel.load(path).provenance.get("checked_with")
    except (OSError, ValueError, KeyError, TypeError):
        return None  # Reviewer.from_options has named the file and the problem
    model = check_model(config.annotation.cross_check, config.model.name, "en")
    if not isinstance(calibrated, list) or not calibrated or model is None or model in calibrated:
        return None
    return (
        f"annotation.review_model {path!r} was calibrated on drafts checked by {', '.join(map(str, calibrated))}, "
        f"and this run checks with {model}: its predicted WER may be off; calibrate again on this run's corrections"
    )


def _check_options(config: RunConfig, name: str) -> ModelOptions:
    """The check model's options: faster-whisper (the fastest on CPU) on the draft model's device."""
    return ModelOptions(
        name=name, engine="faster-whisper", device=config.model.device, download_root=config.model.download_root
    )


def _store(out: Path, result: FileResult, meta: dict[str, Any], words: list | None) -> None:
    """Writes an item's check: its words, or None when no model checks it."""
    write_json_atomic(check_path(out, result.item), {"meta": meta, "words": words})


def _add_slowed(out: Path, job: CheckJob, words: list | None) -> None:
    """Adds the slowed decode's words (None: unavailable) to an item's stored check."""
    stored = read_json(check_path(out, job.result.item))
    if not isinstance(stored, dict) or not isinstance(stored.get("meta"), dict):
        return  # removed or damaged meanwhile: the next run checks the file again
    meta = {**stored["meta"], "slowed": DONE if words is not None else UNAVAILABLE}
    write_json_atomic(check_path(out, job.result.item), {**stored, "meta": meta, "slowed": words})


def _tiny(name: str) -> bool:
    return _basename(name).startswith("tiny")


def _basename(name: str) -> str:
    """`tiny.en` of `bundled:tiny.en`, `tiny` of `tiny`, the folder's name of a path."""
    return Path(name.removeprefix("bundled:")).name
