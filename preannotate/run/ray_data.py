"""Work on a Ray cluster: files streamed through Ray Data, decoded by tasks, handed to a pool of actors.

Decoding runs as one-CPU Ray tasks on any node; the work runs in a pool of long-lived actors (`map_batches` with
a callable class, a `Worker`), each of which loads its model once: the transcription's engine
(`ray_transcribe`), or the speakers stage's diarizer (`ray_speakers`). Every file is one block, or every batch of
short files packed together as a local run packs them, so a worker or node that dies costs only the files it
held: Ray retries their tasks on the actors that remain, a few times, and files that keep killing their worker
then fail alone (`ray_crashes`). The driver gets each file's outcome as soon as it is ready and stores it, so a
killed driver resumes from there.
"""

from __future__ import annotations

import logging
import pickle
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import errors
from ..errors import PreannotateError, TranscriptionError
from .ray_crashes import CRASH_RETRIES, crashed_files, tolerate_lost_files
from .ray_session import check_paths_visible, import_ray, joined

if TYPE_CHECKING:
    from ..audio import DecodedAudio
    from ..options import RayOptions, SilenceOptions

log = logging.getLogger(__name__)
_RAISED = re.compile(r"^preannotate\.errors\.(\w+): (.+)$", re.MULTILINE)  # a traceback's last line
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the colours Ray puts in its messages
Unit = tuple[list[int], bool]  # a block's files (positions in the paths) and whether they go packed together
DecodedFile = tuple[int, "DecodedAudio | str"]  # a file's position and its audio, or why it could not be decoded


@dataclass(frozen=True)
class Worker:
    """The actors that work on the decoded files: their class, its arguments, and what they do (for messages).

    The class is constructed once per actor with `kwargs` and called with a batch of one block (`decoded_blocks`
    reads it); it returns one row per file of the block, each with the file's `index` and `error`.
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
    packs: Sequence[list[int]] = (),
) -> Iterator[dict[str, Any]]:
    """Decodes `paths` on the cluster and has `worker`'s actors work on each, yielding each file's row as it arrives.

    Args:
        paths: The media files: bucket objects, or paths every node can read.
        options: The cluster and the actor pool.
        worker: The actors.
        silence: How long quiet stretches are cut out as each file decodes, as in a local run (None: never).
        slow: Decode each file slowed down (`audio_speed`; the check stage's second decode by the draft's model).
        packs: Batches of short files (positions in `paths`), each one block that an actor works on together;
            every other file is a block of its own.

    Yields:
        The worker's row for each file; a file whose worker kept dying comes back as a row of only its `index`
        and `error`.

    Raises:
        ConfigError: Ray is not installed, the cluster cannot be joined, or it spans machines and the inputs are
            local paths not declared shared (raised before any work).
        PreannotateError: What stopped the actors (`ModelError`: they cannot load their model).
    """
    packed = {i for pack in packs for i in pack}
    units: list[Unit] = [(pack, True) for pack in packs] + [([i], False) for i in range(len(paths)) if i not in packed]
    ray = import_ray()
    with joined(ray, options):
        check_paths_visible(ray, options, paths)
        dataset = _dataset(ray, paths, units, options, worker, silence, slow)
        seen: set[int] = set()
        try:
            for row in dataset.iter_rows():
                seen.add(int(row["index"]))
                yield row
        except ray.exceptions.RayError as e:
            raise _cause(e) from e
        for index, error in crashed_files(ray, dataset, [u for u, _ in units], seen, worker):  # kept dying
            yield {"index": index, "error": error}


def _dataset(
    ray: Any,
    paths: list[str | Path],
    units: list[Unit],
    options: RayOptions,
    worker: Worker,
    silence: SilenceOptions | None,
    slow: bool,
) -> Any:
    # Pickled, so that a listed bucket object keeps the identity it was listed with (`ObjectUrl`).
    items = [{"files": pickle.dumps([(i, paths[i]) for i in unit]), "packed": packed} for unit, packed in units]
    blocks = ray.data.from_items(items, override_num_blocks=len(items))  # a block each: a failure costs its files
    # The Dataset's own copy of the DataContext (the current one is global: a notebook's Ray Data would inherit it).
    blocks.context.enable_progress_bars = False  # the driver shows its own bar over audio seconds
    tolerate_lost_files(blocks.context)
    # Args made by a function keep Ray Data from fusing decoding into the actors: it stays on CPU tasks anywhere.
    decoded = blocks.map(
        _decode_row, fn_kwargs={"silence": silence, "slow": slow}, ray_remote_args_fn=_decode_task_args
    )
    return decoded.map_batches(
        worker.cls,
        fn_constructor_kwargs=worker.kwargs,
        batch_size=1,
        # One block at a time per actor: a block that kills its actor takes no other block's retries with it.
        compute=ray.data.ActorPoolStrategy(
            min_size=options.min_workers, max_size=options.max_workers, max_tasks_in_flight_per_actor=1
        ),
        num_cpus=options.cpus_per_worker,
        num_gpus=options.gpus_per_worker,
        max_restarts=-1,  # a dead actor is replaced, so the pool never shrinks
        max_task_retries=CRASH_RETRIES,  # Ray Data's default retries a block that kills its actor forever
    )


def _decode_task_args() -> dict[str, Any]:
    return {"num_cpus": 1, "max_retries": CRASH_RETRIES}  # Ray Data's default retries forever


def _decode_row(row: dict[str, Any], silence: SilenceOptions | None = None, slow: bool = False) -> dict[str, Any]:
    """Decodes a block's files on a worker; a file that cannot be decoded carries its error instead of audio.

    Long quiet stretches are cut out as in a local run, and each file's audio keeps its timeline, so that the
    transcript's times are the file's (the slowed file's, with `slow`).
    """
    decoded = [_decode(index, path, silence, slow) for index, path in pickle.loads(row["files"])]
    return {"decoded": pickle.dumps(decoded), "packed": row["packed"]}


def _decode(index: int, path: Any, silence: SilenceOptions | None, slow: bool) -> DecodedFile:
    from ..audio import decode_audio
    from ..audio_speed import decode_slowed

    try:
        return index, decode_slowed(path, silence) if slow else decode_audio(path, silence)
    except PreannotateError as e:
        return index, str(e)
    except Exception as e:  # a bug must not cost the rest of the run
        return index, f"{type(e).__name__}: {e}"


def decoded_blocks(batch: dict[str, Any]) -> Iterator[tuple[list[DecodedFile], bool]]:
    """The blocks in a batch a worker is called with: each block's decoded files, and whether they go packed."""
    for decoded, packed in zip(batch["decoded"], batch["packed"]):
        yield pickle.loads(decoded), bool(packed)


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
