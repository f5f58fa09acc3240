"""What a pull may replace in `corrected/`: only a file the last pull stored, unchanged since; others are kept.

`corrected/<item>.json` mirrors SuperAnnotate, so a pull replaces it with the item's current annotation.
But the file may hold work of someone's own: a correction made by hand after the pull, or a file put
there before any pull. A pull proves a file is its own by the SHA-256 the last pull recorded for it in
pulled.json; any other file is moved to `corrected-kept/<pull time>/<item>.json` before it is replaced
(or, for an item SuperAnnotate no longer gives, instead of being listed again: `pull_gone`), and a warning
says so. Nothing is deleted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from ..errors import listed
from ..storage import raise_if_unwritable, read_json

log = logging.getLogger(__name__)

KEPT_DIR = "corrected-kept"
_SHOWN = 5  # names listed in the warning


def file_sha256(path: Path) -> str | None:
    """The SHA-256 of a file's bytes; None when it cannot be read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def keep_changed(
    out: Path,
    items: Sequence[str],
    stored: Mapping[str, Collection[str]],
    pulled_at: str,
    why: str = "before the pull replaced them",
) -> list[str]:
    """Moves aside each `corrected/<item>.json` of `items` that the last pull did not store as it is now.

    Args:
        out: The run's output folder.
        items: The items this pull is about to replace (or no longer lists, `pull_gone`).
        stored: Item -> the SHA-256s the last pull recorded for its file (`stored_hashes`).
        pulled_at: This pull's time (ISO 8601), which names the folder they are kept in.
        why: Why they are moved, for the warning (`kept in <folder> <why>: <items>`).

    Returns:
        The items whose file was kept, in `<out>/corrected-kept/<pull time>/`.

    Raises:
        OutputWriteError: The folder cannot be written (see `raise_if_unwritable`).
    """
    changed = []
    for item in items:
        path = out / "corrected" / f"{item}.json"
        if (path.exists() or path.is_symlink()) and file_sha256(path) not in stored.get(item, ()):
            changed.append(item)
    if not changed:
        return []
    folder = kept_folder(out / KEPT_DIR, pulled_at)
    move_aside([out / "corrected" / f"{item}.json" for item in changed], folder)
    shown = listed(changed, _SHOWN)
    log.warning(
        "%d file(s) in corrected/ were not as the last pull stored them (changed since, or not a pull's): "
        "kept in %s %s: %s", len(changed), folder, why, shown,
    )  # fmt: skip
    return changed


def kept_folder(parent: Path, at: str) -> Path:
    """Where files moved aside at time `at` (ISO 8601) are kept: `<parent>/<at as 20250102T030405Z>`."""
    return parent / (re.sub(r"[^0-9T]", "", at[:19]) + "Z")


def move_aside(paths: Sequence[Path], folder: Path) -> list[Path]:
    """Moves each file (or link) of `paths` into `folder` under its name, or a free one: nothing is replaced.

    Returns:
        Where each one is now, in the order of `paths`.

    Raises:
        OutputWriteError: The folder cannot be written (see `raise_if_unwritable`).
    """
    moved = []
    for path in paths:
        target = free_name(folder / path.name)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        except OSError as e:
            raise_if_unwritable(e, target)
            raise
        moved.append(target)
    return moved


def stored_hashes(out: Path) -> dict[str, tuple[str, ...]]:
    """Item -> the SHA-256s the last pull recorded for its file; {} without a readable pulled.json.

    An item the last pull left out (by status, say) whose file an earlier pull stored keeps that hash there.
    An item a stopped pull was replacing has two: the file's before (`sha256`) and its download (`sha256_moving`).
    """
    index = read_json(out / "pulled.json")
    listed = index.get("items") if isinstance(index, dict) else None
    hashes = {}
    for entry in listed if isinstance(listed, list) else []:
        if isinstance(entry, dict):
            known = tuple(entry[key] for key in ("sha256", "sha256_moving") if isinstance(entry.get(key), str))
            if known:
                hashes[str(entry.get("item"))] = known
    return hashes


def vouched_hash(path: Path, known: Sequence[str]) -> str | None:
    """The hash that vouches for a file a pull leaves in place: the file's own when it is one of `known`.

    Args:
        path: The `corrected/<item>.json` file.
        known: The SHA-256s the last pull recorded for it (`stored_hashes`), the first its usual one.
    """
    if len(known) > 1 and (now := file_sha256(path)) in known:
        return now
    return known[0] if known else None


def free_name(path: Path) -> Path:
    """`path`, or `path` with `.2`, `.3`... before its suffix when it is taken: a kept file is never replaced."""
    n, free = 1, path
    while free.exists() or free.is_symlink():
        n += 1
        free = path.with_name(f"{path.stem}.{n}{path.suffix}")
    return free
