"""Transcription on a Ray cluster: one engine per actor, each file alone or short files packed as a local run packs.

The driver (`ray_stage`, `ray_check`) groups short files into the batches a local run makes
(`packed_jobs.batches`, sized by the engine's `EngineSpec.packing`, known without loading the model); an actor
given such a batch transcribes it with the local run's own function (`packed_jobs.transcribe_batch`), so the
transcripts and their resume key are a local run's. Other files go alone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelError, PreannotateError
from .ray_data import DecodedFile, Worker, decoded_blocks, rows_on_ray

if TYPE_CHECKING:
    from ..options import ModelOptions, RayOptions, SilenceOptions, TranscribeOptions
    from ..results import Transcript


@dataclass(frozen=True)
class RemoteOutcome:
    """What the cluster made of one file.

    Attributes:
        index: The file's position in the list given to `transcribe_on_ray`.
        transcript: Its transcript, or None when it failed.
        warnings: What decoding or transcribing it warned about.
        error: Why it failed (message only; the driver adds the path).
        engine: The loaded engine's description (`EngineInfo` fields) from the actor that did it.
        seconds: Seconds the actor spent on it (a packed batch's, shared among its files).
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
    packs: Sequence[list[int]] = (),
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
        packs: Batches of short files (positions in `paths`) that one actor transcribes packed together.

    Raises:
        ConfigError: Ray is not installed, the cluster cannot be joined, or it spans machines and the inputs are
            local paths not declared shared (raised before any work).
        ModelError: The actors cannot load the model.
    """
    worker = Worker(_Transcriber, {"model": model, "transcribe": transcribe, "identity": identity})
    for row in rows_on_ray(paths, options, worker, silence, slow, packs):
        yield _outcome(row)


Made = tuple[str, list[str], str]  # a file's transcript (JSON), its warnings, and why it failed ("" when it did not)


class _Transcriber:
    """One transcription actor: loads the registered engine once, then transcribes block after block."""

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

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"index": [], "transcript": [], "warnings": [], "error": [], "seconds": []}
        for files, packed in decoded_blocks(batch):
            started = time.perf_counter()
            made = self._packed(files) if packed else [self._one(audio) for _, audio in files]
            share = round((time.perf_counter() - started) / len(files), 3)
            for (index, _), (transcript, warnings, error) in zip(files, made):
                out["index"].append(index)
                out["transcript"].append(transcript)
                out["warnings"].append(json.dumps(warnings))
                out["error"].append(error)
                out["seconds"].append(share)
        return {**out, "engine": [self.info] * len(out["index"]), "node": [self.node] * len(out["index"])}

    def _one(self, audio: Any) -> Made:
        """Transcribes one decoded file (or passes on why it could not be decoded)."""
        from .transcribe_jobs import transcribe_audio

        return _made(lambda: transcribe_audio(self.engine, audio, self.options), audio)

    def _packed(self, files: list[DecodedFile]) -> list[Made]:
        """Transcribes a batch of short files together, as a local run does; each file fails alone."""
        from .packed_jobs import transcribe_batch

        decoded = [PreannotateError(audio) if isinstance(audio, str) else audio for _, audio in files]
        try:
            produced = transcribe_batch(self.engine, self.options, decoded)
        except Exception as e:  # the whole batch failed: each of its files with that error, the actor lives on
            error = str(e) if isinstance(e, PreannotateError) else f"{type(e).__name__}: {e}"
            return [("", [], audio if isinstance(audio, str) else error) for _, audio in files]
        return [_made(produce, audio) for produce, (_, audio) in zip(produced, files)]


def _made(produce: Any, audio: Any) -> Made:
    """A file's transcript and warnings from `produce`, or why it failed; a bug must not kill the actor."""
    if isinstance(audio, str):  # it could not be decoded
        return "", [], audio
    try:
        transcript, warnings = produce()
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
