"""The check stage: each item transcribed again by a second model (`annotation.cross_check`), its words stored.

The chunk stage compares the draft's words with these (`preannotate.quality.crosscheck`): words the
check model heard otherwise raise a chunk's predicted WER. A check is stored in `checks/<item>.json`
with the draft's source state and the stage's key, so it is redone only when the draft or the check's
options change. A check that fails for one file costs that file its check only (a warning): its chunks
are assessed without it, and the draft is kept.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .. import asr
from ..errors import PreannotateError
from ..options import ModelOptions, RunConfig
from ..quality.crosscheck import CheckWord
from ..report import FileResult
from ..storage import read_json, write_json_atomic
from .check_jobs import CheckJob, check_all
from .context import RunContext
from .resume import is_finished

log = logging.getLogger(__name__)
CHECK_FORMAT = 2  # 2: short files checked packed. Bump when the stored check's form or the way it is made changes
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
    for result in ctx.report.files:
        if result.status == "failed" or result.item not in paths:
            continue
        draft = read_json(out / "transcripts" / f"{result.item}.json") or {}
        source, language = draft.get("meta", {}).get("source") or {}, draft.get("language")
        meta = {"item": result.item, "source": source, "options_key": ctx.keys["check"], "language": language}
        if not config.output.force and is_finished(read_json(check_path(out, result.item)), source, ctx.keys["check"]):
            continue
        name = check_model(config.annotation.cross_check, config.model.name, language)
        if name is None:
            _store(out, result, {**meta, "model": None}, None)
            continue
        todo.setdefault(name, []).append(CheckJob(result, paths[result.item], {**meta, "model": name}))
    for name, files in todo.items():
        _check_with(ctx, name, files)


def _check_with(ctx: RunContext, name: str, files: list[CheckJob]) -> None:
    """Loads the check model once and checks the files with it; each file's words are stored as it is done."""
    try:
        engine = asr.prepare(_check_options(ctx.config, name)).load(files=len(files))
    except PreannotateError as e:
        log.warning("annotation.cross_check: %s cannot be loaded (%s): chunks are assessed without a check", name, e)
        for job in files:
            job.result.warnings.append(f"not checked: {name} cannot be loaded: {e}")
        return
    log.info("checking %d file(s) with %s", len(files), name)
    out = ctx.report.output_dir
    check_all(engine, ctx.config, files, lambda job, words: _store(out, job.result, job.meta, words))


def check_path(output_dir: Path, item: str) -> Path:
    """Where an item's check is stored."""
    return output_dir / "checks" / f"{item}.json"


def checking(config: RunConfig) -> bool:
    """Whether the check stage runs.

    Not when turned off, with a team's own review model (fitted without checks), or under `auto` with a tiny
    draft: then nothing would be checked, and the run keeps the keys it had without the stage.
    """
    option = config.annotation.cross_check
    if option is None or config.annotation.review_model is not None:
        return False
    return option != "auto" or not _tiny(config.model.name)


def read_check(output_dir: Path, item: str, key: str) -> list[CheckWord] | None:
    """An item's stored check words, made under the stage key `key`.

    Returns:
        None when it has none: no model checks it, its check failed, or the one stored is of other options.
    """
    stored = read_json(check_path(output_dir, item))
    if not isinstance(stored, dict) or not isinstance(stored.get("meta"), dict):
        return None
    words = stored.get("words") if stored["meta"].get("options_key") == key else None
    if not isinstance(words, list):
        return None
    try:
        return [CheckWord(float(s), float(e), str(w)) for s, e, w in words]
    except (TypeError, ValueError):
        return None  # a damaged check: the chunks are assessed without it


def prepare_check_model(config: RunConfig) -> None:
    """Resolves a check model named in `annotation.cross_check` before any work, so that a typo fails early.

    Raises:
        ModelError: The model cannot be found.
        ConfigError: The name is not one faster-whisper can load.
    """
    if checking(config) and config.annotation.cross_check != "auto":
        asr.prepare(_check_options(config, str(config.annotation.cross_check)))


def _check_options(config: RunConfig, name: str) -> ModelOptions:
    """The check model's options: faster-whisper (the fastest on CPU) on the draft model's device."""
    return ModelOptions(
        name=name, engine="faster-whisper", device=config.model.device, download_root=config.model.download_root
    )


def _store(out: Path, result: FileResult, meta: dict[str, Any], words: list | None) -> None:
    """Writes an item's check: its words, or None when no model checks it."""
    write_json_atomic(check_path(out, result.item), {"meta": meta, "words": words})


def _tiny(name: str) -> bool:
    return _basename(name).startswith("tiny")


def _basename(name: str) -> str:
    """`tiny.en` of `bundled:tiny.en`, `tiny` of `tiny`, the folder's name of a path."""
    return Path(name.removeprefix("bundled:")).name
