"""Transcription on a Ray cluster: files streamed through Ray Data, one model per actor, results back to the driver.

Decoding runs as one-CPU Ray tasks on any node; transcription runs in a pool of long-lived actors (`map_batches`
with a callable class), each of which loads the registered engine once. Every file is one block, so a worker or
node that dies costs only the files it held: Ray retries their tasks on the actors that remain, a few times, and a
file that keeps killing its worker then fails alone (`ray_crashes`). The driver gets each file's outcome as soon
as it is ready and stores it (see `pipeline`), so a killed driver resumes from there. The speakers stage sends
its files through the same pipeline to actors that diarize (`rows_on_ray` with another `Worker`).
"""

from __future__ import annotations

import json
import logging
import pickle
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import errors
from ..errors import ModelError, PreannotateError, TranscriptionError
from .ray_crashes import CRASH_RETRIES, crashed_files, tolerate_lost_files
from .ray_session import check_paths_visible, import_ray, joined

if TYPE_CHECKING:
    from ..options import ModelOptions, RayOptions, SilenceOptions, TranscribeOptions
    from ..results import Transcript

log = logging.getLogger(__name__)
_RAISED = re.compile(r"^preannotate\.errors\.(\w+): (.+)$", re.MULTILINE)  # a traceback's last line
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the colours Ray puts in its messages


@dataclass(frozen=True)
class RemoteOutcome:
    """What the cluster made of one file.

    Attributes:
        index: The file's position in the list given to `transcribe_on_ray`.
        transcript: Its transcript, or None when it failed.
        warnings: What decoding or transcribing it warned about.
        error: Why it failed (message only; the driver adds the path).
        engine: The loaded engine's description (`EngineInfo` fields) from the actor that did it.
        seconds: Seconds the actor spent on it.
        node: The Ray node that transcribed it.
    """

    index: int
    transcript: Transcript | None
    warnings: list[str]
    error: str | None
    engine: dict[str, Any]
    seconds: float
    node: str


def transcribe_on_ray(
    paths: list[str | Path],
    model: ModelOptions,
    transcribe: TranscribeOptions,
    identity: str,
    options: RayOptions,
    silence: SilenceOptions | None = None,
    slow: bool = False,
) -> Iterator[RemoteOutcome]:
    """Transcribes `paths` on the Ray cluster `options` names, yielding each file's outcome as it arrives.

    Args:
        paths: The media files: bucket objects, or paths every node can read.
        model: The model options (each actor prepares and loads the model from them).
        transcribe: The decoding options.
        identity: The model identity the driver prepared; an actor that resolves other weights refuses to work.
        options: The cluster and the actor pool.
        silence: How long quiet stretches are cut out as each file decodes, as in a local run (None: never).
        slow: Decode each file slowed down (`audio_speed`; the check stage's second decode by the draft's model):
            the transcripts' times are then the slowed audio's.

    Raises:
        ConfigError: Ray is not installed, the cluster cannot be joined, or it spans machines and the inputs are
            local paths not declared shared (raised before any work).
        ModelError: The actors cannot load the model.
    """
    worker = Worker(_Transcriber, {"model": model, "transcribe": transcribe, "identity": identity})
    for row in rows_on_ray(paths, options, worker, silence, slow):
        yield _outcome(row)


@dataclass(frozen=True)
class Worker:
    """The actors that work on the decoded files: their class, its arguments, and what they do (for messages).

    The class is constructed once per actor with `kwargs` and called with a batch of one decoded file (`index`,
    `samples`, `declared`, `timeline`, `error`, `repairs`: `_decode_row`'s columns); it returns one row for it,
    with its `index` and `error`.
    """

    cls: type
    kwargs: dict[str, Any]
    doing: str = "transcribing"
    model: str = "the speech model"


def rows_on_ray(
    paths: list[str | Path],
    options: RayOptions,
    worker: Worker,
    silence: SilenceOptions | None = None,
    slow: bool = False,
) -> Iterator[dict[str, Any]]:
    """Decodes `paths` on the cluster and has `worker`'s actors work on each, yielding each file's row as it arrives.

    A file whose worker kept dying comes back as a row of only its `index` and `error`.

    Raises:
        ConfigError: Ray is not installed, the cluster cannot be joined, or it spans machines and the inputs are
            local paths not declared shared (raised before any work).
        PreannotateError: What stopped the actors (`ModelError`: they cannot load their model).
    """
    ray = import_ray()
    with joined(ray, options):
        check_paths_visible(ray, options, paths)
        dataset = _dataset(ray, paths, options, worker, silence, slow)
        seen: set[int] = set()
        try:
            for row in dataset.iter_rows():
                seen.add(int(row["index"]))
                yield row
        except ray.exceptions.RayError as e:
            raise _cause(e) from e
        for index, error in crashed_files(ray, dataset, len(paths), seen, worker):  # their worker kept dying
            yield {"index": index, "error": error}


def _dataset(
    ray: Any,
    paths: list[str | Path],
    options: RayOptions,
    worker: Worker,
    silence: SilenceOptions | None = None,
    slow: bool = False,
) -> Any:
    # Pickled, so that a listed bucket object keeps the identity it was listed with (`ObjectUrl`).
    items = [{"index": i, "path": pickle.dumps(p)} for i, p in enumerate(paths)]
    files = ray.data.from_items(items, override_num_blocks=len(items))  # a block per file: failures cost one file
    # The Dataset's own copy of the DataContext (the current one is global: a notebook's Ray Data would inherit it).
    files.context.enable_progress_bars = False  # the driver shows its own bar over audio seconds
    tolerate_lost_files(files.context)
    # Args made by a function keep Ray Data from fusing decoding into the actors: it stays on CPU tasks anywhere.
    decoded = files.map(_decode_row, fn_kwargs={"silence": silence, "slow": slow}, ray_remote_args_fn=_decode_task_args)
    return decoded.map_batches(
        worker.cls,
        fn_constructor_kwargs=worker.kwargs,
        batch_size=1,
        # One file at a time per actor: a file that kills its actor takes no other file's retries with it.
        compute=ray.data.ActorPoolStrategy(
            min_size=options.min_workers, max_size=options.max_workers, max_tasks_in_flight_per_actor=1
        ),
        num_cpus=options.cpus_per_worker,
        num_gpus=options.gpus_per_worker,
        max_restarts=-1,  # a dead actor is replaced, so the pool never shrinks
        max_task_retries=CRASH_RETRIES,  # Ray Data's default retries a file that kills its actor forever
    )


def _decode_task_args() -> dict[str, Any]:
    return {"num_cpus": 1, "max_retries": CRASH_RETRIES}  # Ray Data's default retries forever


def _decode_row(row: dict[str, Any], silence: SilenceOptions | None = None, slow: bool = False) -> dict[str, Any]:
    """Decodes one file on a worker; a file that cannot be decoded carries its error instead of samples.

    Long quiet stretches are cut out as in a local run; where the kept audio lies in the file (its timeline,
    pickled, empty when nothing was cut) goes with the samples, so that the transcript's times are the file's
    (the slowed file's, with `slow`).
    """
    from ..audio import decode_audio
    from ..audio_speed import decode_slowed

    samples, error, timeline, repairs = b"", "", b"", "[]"
    declared: float | None = None
    try:
        path = pickle.loads(row["path"])
        audio = decode_slowed(path, silence) if slow else decode_audio(path, silence)
        samples, declared = audio.samples.astype(np.float32).tobytes(), audio.declared_duration
        timeline = b"" if audio.timeline is None else pickle.dumps(audio.timeline)
        repairs = json.dumps(audio.repairs)
    except PreannotateError as e:
        error = str(e)
    except Exception as e:  # a bug must not cost the rest of the run
        error = f"{type(e).__name__}: {e}"
    declared = np.nan if declared is None else float(declared)
    row = {"index": row["index"], "samples": samples, "declared": declared, "timeline": timeline, "error": error}
    return {**row, "repairs": repairs}


_About = tuple[float, bytes, tuple[str, ...]]  # a decoded file's declared duration, pickled timeline, repairs


class _Transcriber:
    """One transcription actor: loads the registered engine once, then transcribes file after file."""

    def __init__(self, model: ModelOptions, transcribe: TranscribeOptions, identity: str) -> None:
        import ray

        from .. import asr

        prepared = asr.prepare(model)
        if prepared.identity != identity:
            raise ModelError(f"this node resolved the model to {prepared.identity}, the driver to {identity}")
        self.engine = prepared.load(files=1)
        self.engine.check(transcribe)
        self.options = transcribe
        self.info = json.dumps(self.engine.info.__dict__, default=str)
        self.node = ray.get_runtime_context().get_node_id()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"index": [], "transcript": [], "warnings": [], "error": [], "seconds": []}
        rows = zip(batch["index"], batch["samples"], batch["declared"], batch["timeline"], batch["error"])
        for (index, samples, declared, timeline, error), repairs in zip(rows, batch["repairs"]):
            started = time.perf_counter()
            cut = (declared, timeline, tuple(json.loads(repairs)))
            transcript, warnings, error = self._one(samples, cut, str(error))
            out["index"].append(int(index))
            out["transcript"].append(transcript)
            out["warnings"].append(json.dumps(warnings))
            out["error"].append(error)
            out["seconds"].append(round(time.perf_counter() - started, 3))
        return {**out, "engine": [self.info] * len(out["index"]), "node": [self.node] * len(out["index"])}

    def _one(self, samples: bytes, about: _About, error: str) -> tuple[str, list[str], str]:
        """Transcribes one decoded file; `about`: its declared duration, pickled timeline and repairs."""
        from ..audio import DecodedAudio
        from .transcribe_jobs import transcribe_audio

        if error:
            return "", [], error
        declared, timeline, repairs = about
        try:
            cut = pickle.loads(timeline) if timeline else None  # the kept audio's place in the file
            audio = DecodedAudio(
                np.frombuffer(samples, dtype=np.float32), None if np.isnan(declared) else declared, cut, repairs
            )
            transcript, warnings = transcribe_audio(self.engine, audio, self.options)
            return json.dumps(transcript.to_dict()), warnings, ""
        except PreannotateError as e:
            return "", [], str(e)
        except Exception as e:  # a bug must not cost the rest of the run, nor kill the actor
            return "", [], f"{type(e).__name__}: {e}"


def _outcome(row: dict[str, Any]) -> RemoteOutcome:
    from ..results import Transcript

    if "transcript" not in row:  # its worker kept dying
        return RemoteOutcome(int(row["index"]), None, [], row["error"], {}, 0.0, "")
    transcript = Transcript.from_dict(json.loads(row["transcript"])) if row["transcript"] else None
    return RemoteOutcome(
        int(row["index"]), transcript, json.loads(row["warnings"]), row["error"] or None, json.loads(row["engine"]),
        float(row["seconds"]), row["node"],
    )  # fmt: skip


def _cause(error: Exception) -> BaseException:
    """The project's own error behind a Ray failure (e.g. an actor that cannot load the model)."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, PreannotateError):
            return cause
        cause = getattr(cause, "cause", None) or cause.__cause__
    # Ray keeps only the text of an error raised in an actor (its constructor's: ActorDiedError; a call's:
    # UserCodeException), traceback included: the last of this project's errors named there stopped it.
    text = _ANSI.sub("", str(error))
    for name, message in reversed(_RAISED.findall(text)):
        kind = getattr(errors, name, None)
        if isinstance(kind, type) and issubclass(kind, PreannotateError):
            return kind(message.strip())
    log.debug("the Ray cluster failed: %s", text)
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(error).__name__)
    return TranscriptionError(f"the Ray cluster failed: {first}")  # one line: the traceback is in the log
