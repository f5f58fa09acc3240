"""The transcribe stage's work: the files to transcribe, in turn or several at once, each one's transcript stored.

Everything that can fail for one file is caught and recorded in its result; the others go on.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from pathlib import Path

from tqdm.auto import tqdm

from .. import asr
from ..audio import DecodedAudio, probe_duration
from ..errors import InputError, PreannotateError, RunStoppedError
from ..interrupts import raise_if_pressed
from ..journal import stored_state
from ..options import RunConfig, TranscribeOptions
from ..report import FileResult, RunReport
from ..results import Transcript
from ..speakers.channels import channel_names
from ..speakers.merge import CHANNELS_META, merge_channels
from ..storage import write_json_atomic
from .decode import Decoded, Decoding
from .packed_jobs import engine_packing, in_batches, pack
from .plan import Job, result_from_transcript

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class _Work:
    """What every file's transcription needs besides its audio."""

    engine: asr.Engine
    config: RunConfig
    key: str


@dataclasses.dataclass(frozen=True)
class Loaded:
    """What transcribing a run's jobs needs, made ready before the run's journal starts.

    Attributes:
        durations: Each job's probed seconds (0 when unknown), in the jobs' order.
        engine: The engine loaded in this process and checked against the decoding options; None on Ray,
            whose actors load their own.
    """

    durations: list[float]
    engine: asr.Engine | None = None


def load_engine(jobs: list[Job], model: asr.PreparedModel, config: RunConfig) -> Loaded:
    """Loads and checks the engine for `jobs` (on Ray: checks that Ray is installed and the cluster answers).

    A run calls it before its journal starts: a model that cannot load, or cannot honour the options (an
    English-only model asked for French), then leaves the output folder as it found it.

    Raises:
        ModelError: The model is missing, broken or cannot be loaded.
        ConfigError: The model cannot honour the decoding options, or Ray is asked for and not installed, or
            nothing answers at the cluster's address.
    """
    durations = [probe_duration(j.media.path) or 0.0 for j in jobs]
    if config.run.executor == "ray":
        from .ray_session import check_ray  # Ray is an optional extra

        check_ray(config.ray)
        return Loaded(durations)
    engine = model.load(files=model.transcriptions_at_once(durations))
    engine.check(config.transcribe)
    return Loaded(durations, engine)


def transcribe_jobs(
    jobs: list[Job], loaded: Loaded, audio: Decoding, model: asr.PreparedModel, config: RunConfig, key: str,
    report: RunReport, progress: bool,
) -> None:  # fmt: skip
    """Transcribes every job, replacing its result in `report` and journaling it.

    Args:
        jobs: The files to transcribe (at least one).
        loaded: Their durations and the engine (`load_engine`).
        audio: Decodes their audio.
        model: The run's model.
        config: The run's configuration.
        key: The transcript key, stored in each transcript's meta.
        report: The run's report.
        progress: Show a progress bar over audio seconds.
    """
    durations = loaded.durations
    if loaded.engine is None:
        from .ray_stage import results_from_ray  # decoding and transcribing run on the cluster

        results = results_from_ray(jobs, durations, model, config, key, report)
    else:
        results = _results_here(jobs, durations, audio, loaded.engine, config, key, report)
    # The bar moves by each file's probed seconds, what its total is made of, so that it ends full even when a
    # file fails or decodes shorter than its header says.
    by_source = {job.media.source: (job, seconds) for job, seconds in zip(jobs, durations)}
    with tqdm(total=round(sum(durations), 1), unit="s", disable=not progress, desc="transcribing") as bar:
        for n, result in enumerate(results, start=1):
            job, seconds = by_source[result.source]
            report.record(result, _stored(job, result, key))  # one journal line
            bar.set_postfix_str(f"{n}/{len(jobs)} files")
            advance(bar, seconds)


def audio_length(seconds: float) -> str:
    """A length of audio for people: `8.4 s`, `3.2 min` or `2.5 h`."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def advance(bar: tqdm, seconds: float) -> None:
    """Moves a progress bar over audio seconds by one file's, to a tenth of a second and never past its total.

    The count is set rather than added to: adding tenths as floats shows totals such as 15.200000000000001.
    """
    bar.n = min(round(bar.n + seconds, 1), bar.total)
    bar.refresh()


def _length_known(durations: list[float]) -> str:
    """The audio's length as far as headers told it: a bucket's objects are listed, not opened (0: not known)."""
    unknown = sum(1 for d in durations if d <= 0)
    if unknown == len(durations):
        return "length known once decoded"
    known = audio_length(sum(durations))
    return f"{known} and {unknown} file(s) of length known once decoded" if unknown else known


def _results_here(
    jobs: list[Job], durations: list[float], audio: Decoding, engine: asr.Engine, config: RunConfig, key: str,
    report: RunReport,
) -> Iterator[FileResult]:  # fmt: skip
    """Transcribes with the engine loaded in this process; its results as files finish."""
    info = engine.info
    model_fields = {
        "engine": info.engine, "id": info.model_id, "device": info.device, "source": info.description, "loaded": True,
    }  # fmt: skip
    report.note(model={**report.model, **model_fields}, versions={**report.versions, **info.versions})
    log.info(
        "transcribing %d file(s), %s, with %s: %s",
        len(jobs),
        _length_known(durations),
        info.engine,
        info.description,
    )
    work = _Work(engine, config, key)
    seconds = {id(job): d for job, d in zip(jobs, durations)}
    # Channels decode to one signal per channel, transcribed apart: never packed with other files.
    packing = (0.0, 0.0) if config.speakers.mode == "channels" else engine_packing(engine, config.transcribe)
    groups, jobs = pack(jobs, durations, packing)
    if groups:
        n = sum(map(len, groups))
        log.info("%d short file(s) packed together (model.faster_whisper.pack_short_files)", n)
    if engine.workers > 1:  # longest first: the files still running when the others are done are short ones
        jobs = sorted(jobs, key=lambda job: -seconds[id(job)])
    run = _in_parallel if engine.workers > 1 else _in_turn
    packed = in_batches(groups, audio, work, engine.workers) if groups else iter(())
    return itertools.chain(packed, run(jobs, audio, work) if jobs else iter(()))


def _stored(job: Job, result: FileResult, key: str) -> dict | None:
    """The journaled state of a newly stored transcript, so that the next run need not read it; None if failed."""
    if result.status != "ok":
        return None
    warnings = result.warnings[len(job.warnings) :]  # the transcript's own, after why an old one was redone
    return stored_state(key, {"path": job.media.source, **job.source}, job.transcript_path, warnings)


def _in_turn(jobs: list[Job], audio: Decoding, work: _Work) -> Iterator[FileResult]:
    """Transcribes one file after another on this thread (Ctrl-C stops it), the next one decoding meanwhile."""
    for job, decoded in audio.stream(jobs, ahead=1):
        yield _transcribe_one(job, decoded, work)


def _in_parallel(jobs: list[Job], audio: Decoding, work: _Work) -> Iterator[FileResult]:
    """Transcribes `engine.workers` files at once, yielding results as they finish.

    One file more than the workers is always submitted, so that it decodes while they transcribe.
    """
    workers = work.engine.workers
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="transcribe")
    running: set[Future[FileResult]] = set()
    stream = audio.stream(jobs, ahead=0)  # a file starts decoding when it is submitted, not before
    try:
        for _ in jobs:
            while len(running) > workers:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)
            job, decoded = next(stream)
            running.add(pool.submit(_transcribe_one, job, decoded, work))
        for future in as_completed(running):
            yield future.result()
    except BaseException:  # Ctrl-C: the workers' files stop at their next window instead of running to the end
        work.engine.interrupt()
        raise
    finally:
        pool.shutdown(cancel_futures=True)


def _transcribe_one(job: Job, decoded: Future[Decoded], work: _Work) -> FileResult:
    started = time.perf_counter()
    result = store_outcome(job, work.key, lambda: _transcribe_decoded(work, decoded.result()))
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _transcribe_decoded(work: _Work, audio: Decoded) -> tuple[Transcript, list[str]]:
    if isinstance(audio, list):
        return transcribe_channels(work.engine, audio, work.config.transcribe, work.config.speakers.channel_names)
    return transcribe_audio(work.engine, audio, work.config.transcribe)


def transcribe_channels(
    engine: asr.Engine, channels: list[DecodedAudio], options: TranscribeOptions, names: tuple[str, ...] = ()
) -> tuple[Transcript, list[str]]:
    """Transcribes each channel on its own and merges them, one speaker per channel (`speakers.mode: channels`).

    Args:
        engine: The loaded engine.
        channels: The file's channels, each decoded to 16 kHz mono.
        options: The decoding options.
        names: `speakers.channel_names`; channels past them are `ch<N>`.

    Returns:
        The merged transcript (`preannotate.speakers.merge`) and the warnings, each naming its channel.
    """
    speakers = channel_names(len(channels), names)
    transcripts, warnings = [], []
    if len(channels) == 1:
        warnings.append(f"mono file in speakers mode channels: every word is {speakers[0]}'s")
    for speaker, audio in zip(speakers, channels):
        transcript, found = transcribe_audio(engine, audio, options)
        transcripts.append(transcript)
        warnings += [f"channel {speaker}: {w}" for w in found]
    return merge_channels(transcripts, speakers), warnings


def transcribe_audio(
    engine: asr.Engine, audio: DecodedAudio, options: TranscribeOptions
) -> tuple[Transcript, list[str]]:
    """Transcribes decoded audio; returns the transcript and what its decoding or transcription warns about.

    Audio with long quiet stretches cut out (`audio.timeline`) is transcribed as it is (the engine told
    where its pieces lie) and its times put back on the file's timeline; audio with nothing above the
    silence threshold skips the model.
    """
    timeline = audio.timeline
    samples = audio.samples[:0] if timeline is not None and timeline.silent else audio.samples
    transcript = engine.transcribe(samples, options, timeline)
    if timeline is not None:
        transcript = timeline.restore(transcript)
    return transcript, audio_warnings(audio, transcript)


def store_outcome(job: Job, key: str, produce: Callable[[], tuple[Transcript, list[str]]]) -> FileResult:
    """Stores the transcript `produce` makes for `job` (atomically, with its meta) and returns the file's result.

    The transcript is not fsync'd on its own: the run's journal makes it durable with its line (`Journal`).

    An error of the file (`produce` raising) becomes its failed result; a full disk or a bucket that stopped
    answering (`RunStoppedError`) stops the run.
    """
    media = job.media
    raise_if_pressed()  # a Ctrl-C a finalizer swallowed while the last file was transcribed
    try:
        transcript, warnings = produce()
        raise_if_changed(job)
        for warning in warnings:  # also in run.json; said here so that no one has to look there to learn of it
            log.warning("%s: %s", media.source, warning)
        meta = {"item": media.item, "source": {"path": media.source, **job.source}, "options_key": key}
        if CHANNELS_META in transcript.meta:  # the channels' speaker names, in order (speakers/merge.py)
            meta[CHANNELS_META] = transcript.meta[CHANNELS_META]
        transcript = dataclasses.replace(transcript, meta={**meta, "warnings": warnings})
        write_json_atomic(job.transcript_path, transcript.to_dict(), sync=False)  # the journal syncs it
        result = result_from_transcript(media, "ok", transcript)
        result.warnings[:0] = job.warnings
    except RunStoppedError:
        raise  # every next file would fail the same way (the output unwritable, the bucket gone): stop the run
    except PreannotateError as e:
        log.warning("%s: %s", media.source, e)
        result = FileResult(media.item, media.source, "failed", _with_path(str(e), media.path))
    except Exception as e:  # a bug must not cost the rest of the run
        log.exception("%s: unexpected error", media.source)
        result = FileResult(media.item, media.source, "failed", f"{media.path}: {type(e).__name__}: {e}")
    return result


def raise_if_changed(job: Job) -> None:
    """Refuses the transcript of a local file whose size or modification time moved since the run planned it.

    The state stored with a transcript (size, mtime, SHA-256) is read when the run plans; the audio is decoded
    later. A file rewritten in between (a copy over it in progress, an edit) was transcribed from other bytes
    than its stored hash names, and once the file was back (the copy finished) every later run took that
    transcript as finished. Bucket objects are pinned by their ETag or version when read.

    Raises:
        InputError: The file changed or is gone: it fails, and the next run transcribes it as it is then.
    """
    planned, path = job.source, job.media.path
    if "mtime_ns" not in planned or not isinstance(path, Path):
        return
    try:
        st = path.stat()
    except OSError as e:
        raise InputError(f"gone while it was transcribed ({e.strerror or e}): run again") from e
    if (st.st_size, st.st_mtime_ns) != (planned.get("size"), planned["mtime_ns"]):
        raise InputError("changed while it was transcribed (its size or time of change moved): run again")


def audio_warnings(audio: DecodedAudio, transcript: Transcript) -> list[str]:
    """What a file's decoding (truncated, repaired) or transcription (model skipped) warns about."""
    found = list(audio.repairs)
    if audio.truncated:
        found.append(f"truncated: decoded {audio.duration:.2f}s of the {audio.declared_duration:.2f}s declared")
    if reason := transcript.meta.get("skipped_model"):
        found.append(f"not transcribed: {reason}")
    return found


def _with_path(message: str, path: object) -> str:
    return message if str(path) in message else f"{path}: {message}"
