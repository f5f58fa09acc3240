"""Planning what is finished: which files have a usable transcript made with the same key, which need transcribing."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from ..errors import TranscriptionError
from ..journal import Replayed, reused_result, stored_state
from ..naming import MediaFile
from ..report import FileResult, Status
from ..results import Transcript
from ..storage import raise_if_unwritable, read_json
from .resume import is_finished, source_state

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Job:
    """A file to transcribe.

    Attributes:
        media: The file.
        source: Its content's state (size, mtime, SHA-256), stored with its transcript.
        transcript_path: Where its transcript goes.
        warnings: Why a stored transcript was not reused, if one was damaged.
    """

    media: MediaFile
    source: dict
    transcript_path: Path
    warnings: tuple[str, ...] = ()


@dataclasses.dataclass
class Plan:
    """What a run has to do.

    Attributes:
        jobs: The files to transcribe.
        results: One result per file: `skipped` for a finished file, `failed` for one that cannot be
            read, and for a job a placeholder `failed` (not processed) that its transcription replaces.
        stored: Item -> the journaled state of each finished file's transcript (`journal.stored_state`).
        reused: How many finished files were taken from the last journal without reading their transcript.
    """

    jobs: list[Job] = dataclasses.field(default_factory=list)
    results: list[FileResult] = dataclasses.field(default_factory=list)
    stored: dict[str, dict] = dataclasses.field(default_factory=dict)
    reused: int = 0


def plan(media: list[MediaFile], out: Path, key: str, force: bool, previous: Replayed | None = None) -> Plan:
    """Splits files into those to transcribe and those already finished.

    A finished file whose key, media file and transcript are as the last journal recorded them is
    taken from it, without reading its transcript. Any other stored transcript is read; one that
    cannot be used (not JSON, or a field of the wrong type) counts as unfinished: the file is
    transcribed again and its result warns which transcript was bad and why.

    Args:
        media: The run's files.
        out: The output folder.
        key: The transcript key (`preannotate.run.stages.stage_keys`).
        force: Transcribe every file again.
        previous: The output folder's last journal, played back.
    """
    done = Plan()
    prior = {f.item: f for f in previous.report.files} if previous and not force else {}
    for m in media:
        path = out / "transcripts" / f"{m.item}.json"
        journaled = previous.stored.get(m.item) if previous else None
        if journaled is not None and (reused := reused_result(m, prior.get(m.item), journaled, key, path)):
            done.results.append(reused)
            done.stored[m.item], done.reused = journaled, done.reused + 1
            continue
        _plan_read(m, path, key, force, done)
    return done


def _plan_read(m: MediaFile, path: Path, key: str, force: bool, done: Plan) -> None:
    """Plans one file by reading its stored transcript."""
    results, jobs = done.results, done.jobs
    stored, transcript, problem = _stored_transcript(path)
    try:
        source = source_state(m.path, _stored_source(stored))
    except PermissionError:
        results.append(FileResult(m.item, m.source, "failed", f"{m.path}: permission denied (cannot be read)"))
        return
    except OSError as e:
        results.append(FileResult(m.item, m.source, "failed", f"{m.path}: cannot read ({e.strerror or e})"))
        return
    if not force and transcript is not None and is_finished(stored, source, key):
        results.append(result_from_transcript(m, "skipped", transcript))
        warnings = transcript.meta.get("warnings") or []
        done.stored[m.item] = stored_state(key, {"path": m.source, **source}, path, warnings)
    else:
        results.append(FileResult(m.item, m.source, "failed", "not processed (run interrupted)"))
        jobs.append(Job(m, source, path, (problem,) if problem else ()))


def _stored_transcript(path: Path) -> tuple[dict | None, Transcript | None, str | None]:
    """(raw dict, transcript, None) for a usable stored transcript; (None, None, why) for a damaged one.

    Raises:
        OutputWriteError: The transcripts' folder cannot be searched (no permission): nor could it be written.
    """
    try:
        if not path.exists():
            return None, None, None
    except OSError as e:  # exists() says False only for a missing path: any other error stops the run, named
        raise_if_unwritable(e, path)
        raise
    stored = read_json(path)
    try:
        if stored is None:
            raise TranscriptionError("it is not valid JSON")
        transcript = Transcript.from_dict(stored)
        _check_meta(transcript.meta)
    except TranscriptionError as e:
        problem = f"stored transcript {path.parent.name}/{path.name} is damaged ({e}): transcribed again"
        log.warning("%s", problem)
        return None, None, problem
    return stored, transcript, None


def _check_meta(meta: dict) -> None:
    """Raises TranscriptionError when the fields resuming and reporting read have the wrong type."""
    if not isinstance(meta.get("source") or {}, dict):
        raise TranscriptionError(f"meta: source is {type(meta['source']).__name__}, not an object")
    warnings = meta.get("warnings") or []
    if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
        raise TranscriptionError("meta: warnings is not a list of strings")
    if not isinstance(meta.get("options_key") or "", str):
        raise TranscriptionError(f"meta: options_key is {type(meta['options_key']).__name__}, not a string")


def _stored_source(stored: dict | None) -> dict | None:
    """The source state stored with a transcript, when its hash can be reused."""
    source = (stored or {}).get("meta", {}).get("source")
    return source if isinstance(source, dict) and isinstance(source.get("sha256"), str) else None


def result_from_transcript(media: MediaFile, status: Status, transcript: Transcript) -> FileResult:
    """A file's result as its transcript describes it."""
    return FileResult(
        item=media.item,
        source=media.source,
        status=status,
        duration=round(transcript.duration, 3),
        language=transcript.language,
        language_probability=transcript.language_probability,
        segments=len(transcript.segments),
        warnings=list(transcript.meta.get("warnings") or []),
    )
