"""The orchestrator: discover, transcribe what is not finished, chunk, export, upload.

Each step is one call into a stage module. Everything that can fail for one
file is caught per file and recorded; the run goes on and reports it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from pathlib import Path

from tqdm.auto import tqdm

from . import asr
from .audio import DecodedAudio, decode_audio, probe_duration
from .config import config_to_dict
from .discover import MediaFile, discover
from .errors import ChunkingError, DiskFullError, PreannotateError, TranscriptionError, UploadError
from .exports import ItemChunks, write_exports
from .lock import locked
from .options import RunConfig, TranscribeOptions
from .report import FileResult, RunReport, versions
from .results import Transcript
from .resume import is_finished, options_key, source_state
from .review import Reviewer
from .routing import route_item
from .storage import read_json, write_json_atomic
from .superannotate import preflight, upload_run

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class _Job:
    media: MediaFile
    source: dict
    transcript_path: Path
    warnings: tuple[str, ...] = ()  # why a stored transcript was not reused


@locked("run")
def run_pipeline(config: RunConfig, *, progress: bool = True) -> RunReport:
    """Runs the whole job described by `config`.

    Args:
        config: A validated run configuration.
        progress: Show a progress bar over files and audio seconds.

    Returns:
        The run's report, also written to `<output>/run.json`.

    Raises:
        InputError: The input folder is missing or holds no media.
        ModelError: The model is missing or broken (raised before any file is processed).
        ConfigError: An option does not suit the model, or the review model cannot be loaded (raised
            before any file is processed).
        CredentialsError: Uploading is asked for and the token is missing, malformed or rejected
            (raised before any file is processed).
        LockError: Another process works on the same output folder (raised before anything is done).
        DiskFullError: The disk holding the output is full; the run stops, finished files are kept.
    """
    out = Path(config.output.dir)
    media = discover(config.input.dir, config.input.extensions)
    session = preflight(config.superannotate)  # a bad token must fail before hours of transcription
    reviewer = Reviewer.from_options(config.annotation)  # so must a bad review model path
    model = asr.prepare(config.model)  # resolved and checked once: a bad model fails before any work
    report = RunReport(out, config_to_dict(config), versions=versions())
    key = options_key(model.identity, config.transcribe)  # an engine or weights switch redoes files
    report.model = {"name": config.model.name, "identity": model.identity}
    jobs, report.files = _plan(media, out, key, config.output.force)
    try:
        if jobs:
            _transcribe_jobs(jobs, model, config, key, report, progress)
    except KeyboardInterrupt:
        report.interrupted = True
        report.write()
        raise
    export_chunks(config, report, reviewer)
    report.write()
    _upload(config, report, session)
    return report


def _upload(config: RunConfig, report: RunReport, session) -> None:
    """Uploads (or, without a session, dry-runs) the annotations and records the outcome in run.json."""
    try:
        outcome = upload_run(
            report.output_dir, config.superannotate, config.annotation, Path(config.input.dir), session,
            files=report.files,
        )  # fmt: skip
        report.upload = outcome.to_dict()
    except UploadError as e:  # transcripts and exports are kept: `preannotate upload` retries later
        log.error("upload failed: %s", e)
        report.upload = {"error": str(e), "summary": {"failed": 1}}
    report.write()


def export_chunks(config: RunConfig, report: RunReport, reviewer: Reviewer | None = None) -> list[ItemChunks]:
    """Chunks every finished transcript of the run, assesses and routes the items, writes all exports.

    Chunks always come from the stored transcripts, so changing only the chunking,
    annotation or control-arm options re-chunks without transcribing again.

    Args:
        config: The run's configuration.
        report: The run's report; each exported file gets its chunks, predicted WER and route.
        reviewer: The review model; from `config.annotation` when None.
    """
    reviewer = reviewer or Reviewer.from_options(config.annotation)
    entries, owners = [], []
    for result in report.files:
        if result.status == "failed":
            continue
        stored = read_json(report.output_dir / "transcripts" / f"{result.item}.json")
        try:
            if stored is None:
                raise ChunkingError("its transcript is missing or unreadable")
            entry = ItemChunks.from_transcript(
                result.item, result.source, Transcript.from_dict(stored), config.chunking, reviewer
            )
        except (ChunkingError, TranscriptionError) as e:
            result.status, result.error = "failed", f"{result.source}: cannot chunk: {e}"
            continue
        entry = _routed(entry, config)
        result.chunks, result.route = len(entry.chunks), entry.route
        result.predicted_wer, result.doubtful_share = entry.predicted_wer, entry.doubtful_share
        entries.append(entry)
        owners.append(result)
    refused = write_exports(report.output_dir, entries, config.annotation)
    for index, problem in refused.items():  # one item's bad name or unwritable file fails that item only
        owners[index].status, owners[index].error = "failed", f"{owners[index].source}: cannot export: {problem}"
    return [entry for index, entry in enumerate(entries) if index not in refused]


def _routed(entry: ItemChunks, config: RunConfig) -> ItemChunks:
    """The entry with its route: draft, from scratch (predicted WER too high) or control arm."""
    sa = config.superannotate
    route = route_item(
        entry.item, entry.predicted_wer, config.annotation.draft_max_wer, sa.control_share, sa.control_seed
    )
    return dataclasses.replace(entry, route=route)


def _plan(media: list[MediaFile], out: Path, key: str, force: bool) -> tuple[list[_Job], list[FileResult]]:
    """Splits files into those to transcribe and those already finished.

    A stored transcript that cannot be used (not JSON, or a field of the wrong type) counts as
    unfinished: the file is transcribed again and its result warns which transcript was bad and why.
    """
    jobs, results = [], []
    for m in media:
        path = out / "transcripts" / f"{m.item}.json"
        stored, transcript, problem = _stored_transcript(path)
        try:
            source = source_state(m.path, _stored_source(stored))
        except PermissionError:
            results.append(FileResult(m.item, m.source, "failed", f"{m.path}: permission denied (cannot be read)"))
            continue
        except OSError as e:
            results.append(FileResult(m.item, m.source, "failed", f"{m.path}: cannot read ({e.strerror or e})"))
            continue
        if not force and transcript is not None and is_finished(stored, source, key):
            results.append(_result_from_transcript(m, "skipped", transcript))
        else:
            results.append(FileResult(m.item, m.source, "failed", "not processed (run interrupted)"))
            jobs.append(_Job(m, source, path, (problem,) if problem else ()))
    return jobs, results


def _stored_transcript(path: Path) -> tuple[dict | None, Transcript | None, str | None]:
    """(raw dict, transcript, None) for a usable stored transcript; (None, None, why) for a damaged one."""
    if not path.exists():
        return None, None, None
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


def _transcribe_jobs(
    jobs: list[_Job], model: asr.PreparedModel, config: RunConfig, key: str, report: RunReport, progress: bool
) -> None:
    durations = [probe_duration(j.media.path) or 0.0 for j in jobs]
    if config.run.executor == "ray":
        from .executors.ray_stage import results_from_ray  # Ray is an optional extra

        results = results_from_ray(jobs, model, config, key, report)
    else:
        results = _results_here(jobs, durations, model, config, key, report)
    index = {r.source: i for i, r in enumerate(report.files)}
    with tqdm(total=round(sum(durations), 1), unit="s", disable=not progress, desc="transcribing") as bar:
        for n, result in enumerate(results, start=1):
            report.files[index[result.source]] = result
            report.write()  # a killed run still leaves an up-to-date record
            bar.set_postfix_str(f"{n}/{len(jobs)} files")
            bar.update(min(round(result.duration or 0.0, 1), bar.total - bar.n))


def _results_here(
    jobs: list[_Job], durations: list[float], model: asr.PreparedModel, config: RunConfig, key: str, report: RunReport
) -> Iterator[FileResult]:
    """Loads the engine in this process (before the first result is asked for) and transcribes the jobs here."""
    engine = model.load(files=len(jobs))
    engine.check(config.transcribe)
    info = engine.info
    report.model.update(engine=info.engine, id=info.model_id, device=info.device, source=info.description)
    report.versions.update(info.versions)
    if engine.workers > 1:  # longest first: the files still running when the others are done are short ones
        jobs = [job for _, job in sorted(zip(durations, jobs), key=lambda pair: -pair[0])]
    run = _in_parallel if engine.workers > 1 else _in_turn
    log.info(
        "transcribing %d file(s), %.1f min, with %s: %s", len(jobs), sum(durations) / 60, info.engine, info.description
    )
    return run(jobs, engine, config, key)


def _in_turn(jobs: list[_Job], engine: asr.Engine, config: RunConfig, key: str) -> Iterator[FileResult]:
    """Transcribes one file after another on this thread (Ctrl-C stops it), the next one decoding meanwhile."""
    for job, decoded in _prefetch(jobs):
        yield _transcribe_one(job, decoded, engine, config, key)


def _in_parallel(jobs: list[_Job], engine: asr.Engine, config: RunConfig, key: str) -> Iterator[FileResult]:
    """Transcribes `engine.workers` files at once, yielding results as they finish.

    One file more than the workers is always submitted, so that it decodes while they transcribe.
    """
    decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode")
    pool = ThreadPoolExecutor(max_workers=engine.workers, thread_name_prefix="transcribe")
    running: set[Future[FileResult]] = set()
    try:
        for job in jobs:
            while len(running) > engine.workers:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)
            decoded = decoder.submit(decode_audio, job.media.path)
            running.add(pool.submit(_transcribe_one, job, decoded, engine, config, key))
        for future in as_completed(running):
            yield future.result()
    except BaseException:  # Ctrl-C: the workers' files stop at their next window instead of running to the end
        engine.interrupt()
        raise
    finally:
        decoder.shutdown(cancel_futures=True)
        pool.shutdown(cancel_futures=True)


def _prefetch(jobs: list[_Job]) -> Iterator[tuple[_Job, Future[DecodedAudio]]]:
    """Yields each job with its decoding already started, so audio decodes while the model runs."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode") as pool:
        pending = pool.submit(decode_audio, jobs[0].media.path)
        for i, job in enumerate(jobs):
            current = pending
            if i + 1 < len(jobs):
                pending = pool.submit(decode_audio, jobs[i + 1].media.path)
            yield job, current


def _transcribe_one(
    job: _Job, decoded: Future[DecodedAudio], engine: asr.Engine, config: RunConfig, key: str
) -> FileResult:
    started = time.perf_counter()
    result = store_outcome(job, key, lambda: transcribe_audio(engine, decoded.result(), config.transcribe))
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def transcribe_audio(
    engine: asr.Engine, audio: DecodedAudio, options: TranscribeOptions
) -> tuple[Transcript, list[str]]:
    """Transcribes decoded audio; returns the transcript and what its decoding or transcription warns about."""
    transcript = engine.transcribe(audio.samples, options)
    return transcript, _warnings(audio, transcript)


def store_outcome(job: _Job, key: str, produce: Callable[[], tuple[Transcript, list[str]]]) -> FileResult:
    """Stores the transcript `produce` makes for `job` (atomically) and returns the file's result.

    An error of the file (`produce` raising) becomes its failed result; a full disk stops the run.
    """
    media = job.media
    try:
        transcript, warnings = produce()
        meta = {"item": media.item, "source": {"path": media.source, **job.source}, "options_key": key}
        transcript = dataclasses.replace(transcript, meta={**meta, "warnings": warnings})
        write_json_atomic(job.transcript_path, transcript.to_dict())
        result = _result_from_transcript(media, "ok", transcript)
        result.warnings[:0] = job.warnings
    except DiskFullError:
        raise  # every next file would fail the same way: stop the run
    except PreannotateError as e:
        log.warning("%s: %s", media.source, e)
        result = FileResult(media.item, media.source, "failed", _with_path(str(e), media))
    except Exception as e:  # a bug must not cost the rest of the run
        log.exception("%s: unexpected error", media.source)
        result = FileResult(media.item, media.source, "failed", f"{media.path}: {type(e).__name__}: {e}")
    return result


def _warnings(audio: DecodedAudio, transcript: Transcript) -> list[str]:
    found = []
    if audio.truncated:
        found.append(f"truncated: decoded {audio.duration:.2f}s of the {audio.declared_duration:.2f}s declared")
    if reason := transcript.meta.get("skipped_model"):
        found.append(f"not transcribed: {reason}")
    return found


def _with_path(message: str, media: MediaFile) -> str:
    return message if str(media.path) in message else f"{media.path}: {message}"


def _result_from_transcript(media: MediaFile, status: str, transcript: Transcript) -> FileResult:
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
