"""Joining a Ray cluster (or starting a local Ray) for a run, and what is checked before any work goes to it.

A run joins once, the first time a stage sends it work (`RunContext.on_cluster`), and leaves when it ends: the
transcription, the speakers and the check stages share one Ray session.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cloud import ObjectUrl
from ..errors import ConfigError

if TYPE_CHECKING:
    from ..options import RayOptions

LOCAL_CPUS = 3  # a local Ray with fewer logical CPUs than a decode task, an actor and Ray Data's own can deadlock
PROBE_TIMEOUT_S = 10.0  # seconds to wait for a cluster address to accept a connection


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


def import_ray() -> Any:
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
    import_ray()
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
    with joined(import_ray(), options):
        yield


@contextmanager
def joined(ray: Any, options: RayOptions) -> Iterator[None]:
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
