"""The locks `calibrate` holds (`preannotate.lock`), as every command that works in a run holds its lock.

`calibrate` holds the lock of every run it is given while it reads them and fits, so that a `pull` rewriting
a run's `pulled.json` and `corrected/` (or a `run`, `report` or `export` there) never runs under it, and
neither side waits: the second stops at once, naming the first. `write_model` holds the lock that guards
the model file while it checks and replaces it: that of the run it lies in (the default, a run's
`correction/`), else the model file's own (`lock_beside`: two calibrates writing two models into one folder
of the user's go on side by side), so that two calibrates never replace one file at the same moment.
`calibration_lock` holds both for a whole command, so that a second calibrate writing the same model file
stops before its fit. Locks are taken in one order (their real paths sorted), so that two commands wanting
several of the same locks never refuse each other both.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from ..journal import JOURNAL_FILE, RUN_FILE
from ..lock import output_lock
from ..lock_beside import lock_beside, lock_folder
from ..storage import expand_home

COMMAND = "calibrate"  # how the locks it holds name it to a second process


def model_run(path: str | Path) -> Path | None:
    """The run the model file at `path` lies in (its lock guards the file), or None: the file's own lock does.

    Commands that work in a run lock the run's folder, not its sub-folders: a model in `<run>/correction/`
    (the default) is guarded by the run's lock, which `report` (writing that folder) and `pull` hold too.
    """
    folder = Path(_real(expand_home(path).parent))  # `runs/a/../b`: the parents of b, not a
    return next((above for above in (folder, *folder.parents) if _is_run(above)), None)


def _is_run(folder: Path) -> bool:
    """Whether `folder` is a run's output folder (its state file or journal is there)."""
    return any(_is_file(folder / name) for name in (RUN_FILE, JOURNAL_FILE))


@contextlib.contextmanager
def calibration_lock(runs: Sequence[str | Path], path: str | Path) -> Iterator[None]:
    """Holds, for a whole `calibrate` command, the lock of every run and the one that guards the model file.

    `calibrate` and `write_model` take theirs again inside it (the lock is reentrant within a process): held
    from before the fit, a second calibrate writing the same model file stops at once, naming this one,
    instead of replacing this one's model after its own fit.

    Raises:
        InputError: A run's folder does not exist, or the model's folder cannot be used.
        LockError: Another process holds one of them; none is kept.
    """
    with holding(runs, runs, model=path):
        yield


@contextlib.contextmanager
def holding(
    folders: Iterable[str | Path], runs: Iterable[str | Path] = (), model: str | Path | None = None
) -> Iterator[None]:
    """Holds the lock of each folder and the one that guards `model`, in the order of their real paths.

    One order for every process: two commands that both want some of the same locks cannot each take one
    and be refused the other. `runs`: the folders that must exist.
    """
    must = set(map(_real, runs))
    locks: dict[str, Callable[[], contextlib.AbstractContextManager]] = {}
    for folder in folders:
        real = _real(folder)
        # only a run's folder is swept of stale temporary files: another folder may be any of the user's
        sweep = real in must or _is_run(Path(real))
        locks[real] = functools.partial(output_lock, folder, COMMAND, existing=real in must, sweep=sweep)
    if model is not None:
        home, file = model_run(model), Path(_real(expand_home(model)))
        if home is not None:  # a run given with -o keeps its entry (which must exist)
            locks.setdefault(str(home), functools.partial(output_lock, home, COMMAND))
        else:
            locks[str(lock_folder(file, COMMAND))] = functools.partial(
                lock_beside, file, COMMAND, "is being written by"
            )
    with contextlib.ExitStack() as stack:
        for key in sorted(locks):
            stack.enter_context(locks[key]())
        yield


def _real(folder: str | Path) -> str:
    return os.path.realpath(os.path.expanduser(folder))


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a folder that cannot be searched holds no run of ours
        return False
