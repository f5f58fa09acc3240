"""Files whose Ray worker died on them: retried a few times, then failed alone instead of stopping the run.

A file that kills the process handling it (a crash in a C decoder, the OOM killer on a huge file) would, with
Ray Data's defaults, be retried forever (tasks and actor tasks alike), and one that runs out of retries would abort
the whole Dataset. Here each file's task is retried `CRASH_RETRIES` times (enough for a node lost to something
else), its block is then dropped (`max_errored_blocks`), and the driver fails each file that yielded no outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import TranscriptionError

if TYPE_CHECKING:
    from .ray_data import Worker

log = logging.getLogger(__name__)
CRASH_RETRIES = 2  # retries of a file whose worker died: a node lost to something else still gets one


def tolerate_lost_files(context: Any) -> None:
    """Lets the Dataset whose `DataContext` this is go on past files whose retries ran out.

    `context` must be the Dataset's own copy (`Dataset.context`), not `DataContext.get_current()`: the current
    one is global to this process, and a notebook's own Ray Data would inherit the change.
    """
    context.max_errored_blocks = -1  # none aborts the run: the driver fails each file that yields nothing


def crashed_files(
    ray: Any, dataset: Any, blocks: list[list[int]], seen: set[int], worker: Worker
) -> Iterator[tuple[int, str]]:
    """The index and error of each file (in `blocks`, the Dataset's) not in `seen`: dropped when its worker kept dying.

    Raises:
        TranscriptionError: Files are missing and the cluster itself is gone (no node alive): one error for the
            run, not one per file.
    """
    missing = [i for block in blocks for i in block if i not in seen]
    if not missing:
        return
    _check_cluster_alive(ray, len(missing), worker)
    lost = sum(1 for block in blocks if any(i not in seen for i in block))
    stage, cause = _stage(dataset, len(blocks), lost, worker)
    error = f"its Ray worker died {CRASH_RETRIES + 1} times while {stage} it: out of memory, or a crash in {cause}"
    error += " (the Ray logs on its node say which)"
    for index in missing:
        yield index, error


def _check_cluster_alive(ray: Any, missing: int, worker: Worker) -> None:
    try:
        alive = any(node["Alive"] for node in ray.nodes())
    except Exception as e:  # the cluster cannot even be asked
        log.debug("the Ray cluster did not answer: %s", e)
        alive = False
    if not alive:
        raise TranscriptionError(f"the Ray cluster went away: {missing} file(s) were lost {worker.doing}")


def _stage(dataset: Any, blocks: int, lost: int, worker: Worker) -> tuple[str, str]:
    """Where the `lost` blocks died, from the rows the decoding operator output (one per block), and what crashed."""
    either = (f"decoding or {worker.doing}", f"the decoder or {worker.model}")
    try:
        rows = _rows_by_operator(dataset.get_stats_summary())
        log.debug("rows output by each Ray Data operator: %s", rows)
        decoded = next(n for name, n in rows.items() if "_decode_row" in name)
    except Exception as e:  # Ray's stats are a developer API: without them, both stages are named
        log.debug("Ray Data's stats do not say where files were lost: %s", e)
        return either
    if decoded >= blocks:  # every block was decoded: the lost ones died in the worker
        return worker.doing, worker.model
    return ("decoding", "the decoder") if decoded + lost == blocks else either


def _rows_by_operator(summary: Any) -> dict[str, int]:
    rows = {op.operator_name: op.output_num_rows.sum if op.output_num_rows else 0 for op in summary.operators_stats}
    for parent in summary.parents:  # the operators before the last one may be kept there
        rows.update(_rows_by_operator(parent))
    return rows
