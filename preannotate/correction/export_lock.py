"""One export at a time into a destination: a second one stops at once, naming the first.

Each export holds its run's output folder's lock, but two runs can export into one `--dest`. Both would
check the folder, build their export aside and swap it in: the second would replace the first's export, whose
command had just said where it was. The lock is a hidden folder beside the destination, not the destination's
parent (two exports into sibling folders run side by side) nor inside it (the swap moves the destination).
It is removed when the export ends; one a killed export left is taken over, and removed too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from ..errors import LockError
from ..lock import output_lock

SUFFIX = ".export-lock"  # `.<destination's name>.export-lock` beside it


def lock_folder(dest: Path) -> Path:
    """The folder whose lock guards `dest`."""
    return dest.parent / f".{dest.name}{SUFFIX}"


@contextlib.contextmanager
def destination_lock(dest: Path) -> Iterator[None]:
    """Holds `dest`'s export lock for the block.

    Raises:
        LockError: Another export into `dest` holds it; the message names the destination and that export.
    """
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(output_lock(lock_folder(dest), "export", sweep=False, remove=True))
        except LockError as e:
            raise LockError(
                f"{dest} is being exported into by {e.holder}; wait for it to finish (or stop it) and try again, "
                "or export to another folder",
                e.holder,
            ) from None
        yield
