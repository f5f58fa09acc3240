"""Where `preannotate export` may write, and swapping a finished export in.

An export is built in `.<name>.partial-<pid>` beside its destination and renamed into place at
the end. Every export-made folder carries MARKER (written first, in the staging folder), and only
such a folder, a missing one or an empty one is ever replaced: pointed at a folder of recordings,
export refuses and deletes nothing. Staging folders of exports that were killed are removed by the
next export to the same destination.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import socket
import time
from pathlib import Path

from ..errors import DestinationError
from ..storage import pid_alive, read_json
from ..superannotate.report import utc_now

log = logging.getLogger(__name__)
MARKER = ".preannotate-export.json"
MARKER_FORMAT = 1
# What exports made before MARKER existed hold: such a folder with its export.json is replaced too.
LEGACY_NAMES = frozenset({"clips", "metadata.csv", "manifest.jsonl", "segments.csv", "export.json"})
# A leftover whose pid is alive is normally a running export; one this old belongs to a process that
# reused the pid of a killed export (no export runs for a day).
LEFTOVER_AGE_S = 24 * 3600.0


def check_destination(dest: Path, protected: dict[str, Path]) -> None:
    """Raises DestinationError unless `dest` may be replaced by an export; deletes nothing.

    Args:
        dest: The dataset folder asked for.
        protected: Description -> folder that `dest` must be neither equal to nor above
            (the run's output folder, the input folder).
    """
    for what, folder in protected.items():
        resolved, target = folder.expanduser().resolve(), dest.expanduser().resolve()
        if target == resolved or target in resolved.parents:
            relation = "it is" if target == resolved else "it holds"
            raise DestinationError(
                f"cannot export to {dest}: {relation} {what} ({folder}), which an export would replace; "
                "nothing was deleted. Give a new folder with --dest (dataset.dir)"
            )
    if dest.is_symlink():
        raise DestinationError(f"cannot export to {dest}: it is a symbolic link; give the folder it points to")
    if not dest.exists():
        return
    if not dest.is_dir():
        raise DestinationError(f"cannot export to {dest}: it is a file, not a folder; nothing was deleted")
    if any(dest.iterdir()) and not made_by_export(dest):
        raise DestinationError(
            f"refusing to replace {dest}: it is not empty and was not made by `preannotate export` "
            f"(it has no {MARKER}); nothing was deleted. Give a new or empty folder with --dest "
            "(dataset.dir), or move its content away"
        )


def made_by_export(folder: Path) -> bool:
    """Whether `folder` is an export's: it carries MARKER, or is a complete export made before MARKER."""
    marker = read_json(folder / MARKER)
    if isinstance(marker, dict) and isinstance(marker.get("format"), int):
        return True
    record = read_json(folder / "export.json")
    legacy = isinstance(record, dict) and {"created_at", "options", "clips"} <= set(record)
    return legacy and {p.name for p in folder.iterdir()} <= LEGACY_NAMES


def new_staging(dest: Path) -> Path:
    """Creates the staging folder of this process for `dest`, marked, after removing dead leftovers."""
    remove_leftovers(dest)
    staging = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    staging.mkdir(parents=True)
    record = {"format": MARKER_FORMAT, "made_by": "preannotate export", "created_at": utc_now()}
    record.update(pid=os.getpid(), host=socket.gethostname())
    (staging / MARKER).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return staging


def remove_leftovers(dest: Path) -> list[Path]:
    """Removes `.<name>.partial-<pid>` and `.<name>.old-<pid>` folders of exports that no longer run.

    Only folders that look like an export's are removed, and never one of a live process.

    Returns:
        The folders removed.
    """
    pattern = re.compile(rf"^\.{re.escape(dest.name)}\.(?:partial|old)-(\d+)$")
    removed = []
    with contextlib.suppress(OSError):  # no parent yet, or unreadable: nothing of ours there
        for entry in dest.parent.iterdir():
            match = pattern.match(entry.name)
            if match and not entry.is_symlink() and entry.is_dir() and _abandoned(entry, int(match[1])):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
    if removed:
        log.info("removed %d folder(s) left by killed exports: %s", len(removed), ", ".join(p.name for p in removed))
    return removed


def _abandoned(folder: Path, pid: int) -> bool:
    if not _looks_like_export(folder):
        log.warning("%s looks like an export's leftover but holds other files: left alone", folder)
        return False
    marker = read_json(folder / MARKER)
    host = marker.get("host") if isinstance(marker, dict) else None
    local = host in (None, socket.gethostname())  # exports before MARKER named no host: they ran here
    if pid == os.getpid() or (local and not pid_alive(pid)):
        return True
    return time.time() - folder.stat().st_mtime > LEFTOVER_AGE_S


def _looks_like_export(folder: Path) -> bool:
    """A staging folder holds MARKER from its start; one of an older version only export files."""
    names = {p.name for p in folder.iterdir()}
    return MARKER in names or names <= LEGACY_NAMES


def swap(staging: Path, dest: Path, protected: dict[str, Path]) -> None:
    """Puts the finished export in place of the old one (renames: readers see one or the other).

    The destination is checked again: it may have changed during a long export.
    """
    check_destination(dest, protected)
    old = dest.parent / f".{dest.name}.old-{os.getpid()}"
    if dest.exists():
        dest.rename(old)
    try:
        staging.rename(dest)
    except OSError:
        if old.exists():
            old.rename(dest)  # the previous export stays in place
        raise
    shutil.rmtree(old, ignore_errors=True)
