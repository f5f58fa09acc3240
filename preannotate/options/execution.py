"""Where transcription runs: on this machine, or in an actor pool on a Ray cluster."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .base import check, option

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class RunOptions:
    """How the run executes."""

    executor: Literal["local", "ray"] = option(
        "local", "Where files are transcribed: local (this machine) or ray (an actor pool on a Ray cluster)."
    )

    def validate(self) -> None:
        """Raises ConfigError for an unknown executor."""
        check(self.executor in EXECUTORS, f"run.executor: {self.executor!r} is not one of local, ray")


@dataclass(frozen=True)
class RayOptions:
    """The Ray cluster that transcribes, diarizes and checks when run.executor is ray."""

    address: str | None = option(
        None, "Ray cluster to join (e.g. ray://head:10001, auto); null: the RAY_ADDRESS variable, else a local Ray."
    )
    min_workers: int = option(1, "Actors kept running for each stage on the cluster (each loads its model once).")
    max_workers: int = option(1, "Actors each stage's pool may grow to while files are waiting.")
    gpus_per_worker: float = option(0.0, "GPUs each actor reserves: 1 puts one actor per GPU, 0.5 two per GPU.")
    cpus_per_worker: float = option(1.0, "CPUs each actor reserves (decoding runs as separate one-CPU tasks).")
    shared_paths: bool = option(
        False, "The input folder is mounted at the same path on every node, so a multi-machine cluster may read it."
    )

    def validate(self) -> None:
        """Raises ConfigError for an empty or inverted worker range or negative resources."""
        check(self.min_workers >= 1, f"ray.min_workers: {self.min_workers} must be at least 1")
        check(
            self.max_workers >= self.min_workers,
            f"ray.max_workers: {self.max_workers} is below ray.min_workers ({self.min_workers})",
        )
        check(self.gpus_per_worker >= 0, f"ray.gpus_per_worker: {self.gpus_per_worker} must not be negative")
        check(self.cpus_per_worker > 0, f"ray.cpus_per_worker: {self.cpus_per_worker} must be positive")
