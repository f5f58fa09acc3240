"""The lock of one file or folder a command replaces, kept beside it rather than in a whole folder's lock.

`export --dest` and `calibrate --out` outside a run replace one path in a folder that is not the tool's: a
dataset folder, a model file among the user's. A lock of that whole folder would stop two exports into
sibling folders, or two calibrates writing two models side by side, and leave a lock file among the user's
files. The lock is a hidden folder beside the path, `.<name>.<command>-lock`, neither inside it (an export's
swap moves its folder) nor above it, and it goes when released, even one that a killed command left
(`lock.output_lock`'s `remove`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from .errors import LockError
from .lock import output_lock


def lock_folder(path: Path, command: str) -> Path:
    """The hidden folder whose lock guards `path` for `command`."""
    return path.parent / f".{path.name}.{command}-lock"


@contextlib.contextmanager
def lock_beside(path: Path, command: str, doing: str) -> Iterator[None]:
    """Holds `path`'s own lock for the block.

    Args:
        path: What the command replaces.
        command: The command (`export`, `calibrate`): the lock's name, and how a second process hears of it.
        doing: What a second process is told the first does to `path` ("is being exported into by").

    Raises:
        LockError: Another process holds it; the message names `path` and that process.
    """
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(output_lock(lock_folder(path, command), command, sweep=False, remove=True))
        except LockError as e:
            raise LockError(
                f"{path} {doing} {e.holder}; wait for it to finish (or stop it) and try again, or give another path",
                e.holder,
            ) from None
        yield
