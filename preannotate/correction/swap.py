"""Putting a finished export in place of the old one, so that a kill at any instant leaves one or the other.

Where the file system can (Linux's `renameat2` with RENAME_EXCHANGE: ext4, xfs, btrfs, tmpfs), the two folders
trade names in one call: the destination is always a whole export. Elsewhere the old export is renamed aside
(`.<name>.old-<pid>`) and the new one renamed in: a Ctrl-C between the two puts the old one back, and a kill
between them leaves the old one aside, which the next export restores before it does anything else
(`destination.remove_leftovers`).
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
from collections.abc import Callable
from pathlib import Path

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
# A file system or kernel without the call: fall back to two renames.
_UNSUPPORTED = frozenset({errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV})


def _renameat2() -> Callable[..., int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # not Linux, or a C library older than glibc 2.28
        return None


_RENAMEAT2 = _renameat2()


def exchange(a: Path, b: Path) -> bool:
    """Swaps the names of `a` and `b` in one step; False when this file system cannot (nothing changed).

    Raises:
        OSError: The exchange failed for another reason (nothing changed).
    """
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), str(a))


def put_in_place(staging: Path, dest: Path) -> None:
    """Makes `staging` the folder `dest`, the old `dest` (if any) removed once the new one is in place.

    Args:
        staging: The finished export.
        dest: Where it goes.
    """
    if dest.exists() and exchange(staging, dest):
        shutil.rmtree(staging, ignore_errors=True)  # the old export, under the staging folder's name
        return
    old = dest.parent / f".{dest.name}.old-{os.getpid()}"
    try:
        if dest.exists():
            dest.rename(old)
        staging.rename(dest)
    except BaseException:  # Ctrl-C too, even as the first rename returns: the previous export goes back
        if old.exists() and not dest.exists():
            old.rename(dest)
        raise
    shutil.rmtree(old, ignore_errors=True)
