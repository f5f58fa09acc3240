"""Transcription on a Ray cluster: files streamed through Ray Data, one model per actor, results back to the driver.

Decoding runs as one-CPU Ray tasks on any node; transcription runs in a pool of long-lived actors (`map_batches`
with a callable class), each of which loads the registered engine once. Every file is one block, so a worker or
node that dies costs only the files it held: Ray retries their tasks on the actors that remain, a few times, and a
file that keeps killing its worker then fails alone (`ray_crashes`). The driver gets each file's outcome as soon
as it is ready and stores it (see `pipeline`), so a killed driver resumes from there.
"""

from __future__ import annotations

import json
import logging
import math
import os
import pickle
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import errors
from ..cloud import ObjectUrl
from ..errors import ConfigError, ModelError, PreannotateError, TranscriptionError
from .ray_crashes import CRASH_RETRIES, crashed_outcomes, tolerate_lost_files

if TYPE_CHECKING:
    from ..options import ModelOptions, RayOptions, SilenceOptions, TranscribeOptions
    from ..results import Transcript

log = logging.getLogger(__name__)
LOCAL_CPUS = 3  # a local Ray with fewer logical CPUs than a decode task, an actor and Ray Data's own can deadlock
PROBE_TIMEOUT_S = 10.0  # seconds to wait for a cluster address to accept a connection
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
    ray = _import_ray()
    with _connected(ray, options):
        check_paths_visible(ray, options, paths)
        dataset = _dataset(ray, paths, model, transcribe, identity, options, silence, slow)
        seen: set[int] = set()
        try:
            for row in dataset.iter_rows():
                outcome = _outcome(row)
                seen.add(outcome.index)
                yield outcome
        except ray.exceptions.RayError as e:
            raise _cause(e) from e
        yield from crashed_outcomes(ray, dataset, len(paths), seen)  # files whose worker kept dying


def check_paths_visible(ray: Any, options: RayOptions, paths: list[str | Path]) -> None:
    """Refuses local paths on a cluster with nodes on other machines, unless they are declared shared.

    Raises:
        ConfigError: Some node runs on another machine and `ray.shared_paths` is false.
    """
    local = [p for p in paths if not isinstance(p, ObjectUrl)]  # bucket objects are read from anywhere
    if options.shared_paths or not local:
        return
    here = ray.util.get_node_ip_address()
    elsewhere = sorted({n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]} - {here})
    if elsewhere:
        raise ConfigError(
            f"ray: the cluster has nodes on other machines ({', '.join(elsewhere)}) that cannot read local input "
            f"paths such as {local[0]}; put the input where every node sees it at the same path and set "
            "ray.shared_paths=true"
        )


def _import_ray() -> Any:
    """Ray, imported (with Ray Data).

    Raises:
        ConfigError: Ray is not installed.
    """
    try:
        import ray
        import ray.data  # noqa: F401  (the executor's engine)
    except ImportError as e:
        raise ConfigError(f"run.executor ray needs Ray: pip install 'preannotate[ray]' ({e})") from e
    return ray


def check_ray(options: RayOptions) -> None:
    """Checks what can fail before the cluster is joined: Ray is installed, and the cluster's address answers.

    Raises:
        ConfigError: Ray is not installed, or nothing answers at the address.
    """
    _import_ray()
    named, address = _address(options)
    if address:
        check_reachable(address, named)


def _address(options: RayOptions) -> tuple[str, str | None]:
    """Where the cluster's address comes from (for messages), and the address; None: a Ray started here."""
    named = "ray.address" if options.address else "RAY_ADDRESS"
    address = options.address or os.environ.get("RAY_ADDRESS")
    if address == "local":  # Ray's name for a Ray started here: the same as none
        address = None
    return named, address


@contextmanager
def connected(options: RayOptions) -> Iterator[None]:
    """Joins the cluster (or starts a local Ray) for the block, so that the transcriptions inside share it.

    Raises:
        ConfigError: Ray is not installed, or the cluster cannot be joined.
    """
    with _connected(_import_ray(), options):
        yield


@contextmanager
def _connected(ray: Any, options: RayOptions) -> Iterator[None]:
    """Joins the cluster (or starts a local Ray) for the block, unless this process is already connected."""
    if ray.is_initialized():
        yield
        return
    named, address = _address(options)
    # "local" starts a Ray for this run (it inherits this environment: bucket credentials, the model cache), with
    # logical CPUs enough for the ray.min_workers actors and a decode task: Ray Data waits forever for them.
    actors = math.ceil(options.min_workers * options.cpus_per_worker) + 1
    local = {} if address else {"address": "local", "num_cpus": max(os.cpu_count() or 1, LOCAL_CPUS, actors)}
    if address:
        check_reachable(address, named)
    try:
        ray.init(**({"address": address} if address else local), log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise ConfigError(f"{named} {address}: cannot join the Ray cluster ({e})") from e
    try:
        if not address:  # a Ray started for this run has this machine's CPUs and GPUs, and never grows
            check_fits(ray, options)
        yield
    finally:
        ray.shutdown()


def check_fits(ray: Any, options: RayOptions) -> None:
    """Refuses actors whose GPUs the Ray started for this run lacks: Ray Data would wait for them forever.

    Raises:
        ConfigError: The `ray.min_workers` actors ask for more GPUs than that Ray has.
    """
    gpus = ray.cluster_resources().get("GPU", 0.0)
    wanted = options.min_workers * options.gpus_per_worker
    if wanted > gpus:
        raise ConfigError(
            f"ray.gpus_per_worker: ray.min_workers={options.min_workers} actor(s) of {options.gpus_per_worker:g} "
            f"GPU(s) need {wanted:g}, and the Ray started for this run (no ray.address) has {gpus:g}, so they would "
            "never start; lower them, or set ray.address to a cluster with GPUs"
        )


def check_reachable(address: str, named: str = "ray.address", timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Refuses a cluster address (`host:port` of the head's GCS) where nothing answers.

    `ray.init` retries such an address for minutes, printing only Ray's own log lines. Ray Client addresses
    (`ray://`) time out on their own, and `auto` and `local` name no port: those are left to Ray.

    Args:
        address: The address.
        named: Where it was given, for the message (`ray.address`, or the `RAY_ADDRESS` variable).
        timeout_s: Seconds to wait for the connection.

    Raises:
        ConfigError: The host is unknown, or nothing accepts a connection on the port within `timeout_s`.
    """
    host, colon, port = address.rpartition(":")
    if "://" in address or not colon or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise ConfigError(f"{named} {address}: cannot join the Ray cluster (nothing answers there: {e})") from e


def _dataset(
    ray: Any,
    paths: list[str | Path],
    model: ModelOptions,
    transcribe: TranscribeOptions,
    identity: str,
    options: RayOptions,
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
        _Transcriber,
        fn_constructor_kwargs={"model": model, "transcribe": transcribe, "identity": identity},
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
