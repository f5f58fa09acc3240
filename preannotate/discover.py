"""Finding media files in a dataset folder or a bucket, in a deterministic order.

Item names come from `preannotate.naming`, so a bucket listing (`preannotate.cloud`) and a folder walk
name the same relative paths alike.
"""

from __future__ import annotations

import os
from pathlib import Path

from .cloud import discover_bucket
from .errors import InputError
from .locations import is_bucket_url
from .naming import MediaFile, is_media_source, unique_item_names


def discover(root: str | Path, extensions: tuple[str, ...]) -> list[MediaFile]:
    """Lists the media files under `root`, recursively, in a deterministic order.

    Hidden files and folders (names starting with `.`) are skipped. Symbolic
    links to folders are followed once; a link back into a folder already seen
    is not followed again, so loops end. A bucket URL (`s3://`, `gs://`, `az://`)
    is listed with the same rules, its keys relative to the prefix as paths.

    Args:
        root: The dataset folder, or a bucket URL.
        extensions: File name endings that count as media, like `.wav`; case-insensitive.

    Returns:
        The files sorted by their relative path, each with an item name no other file shares.

    Raises:
        InputError: `root` does not exist, is not a folder, or holds no media; for a bucket, also no
            credentials or no access.
    """
    if is_bucket_url(root):
        return discover_bucket(str(root), extensions)
    base = Path(root).expanduser()
    if not base.exists():
        raise InputError(f"input folder {base} does not exist")
    if not base.is_dir():
        raise InputError(f"input {base} is not a folder")
    wanted = tuple(e.lower() for e in extensions)
    sources = sorted(_walk(base.resolve(), wanted))
    if not sources:
        raise InputError(f"input folder {base} holds no media files ({', '.join(wanted)})")
    items = unique_item_names(sources)
    return [MediaFile(base.resolve() / src, src, item) for src, item in zip(sources, items)]


def _walk(root: Path, extensions: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    seen: set[tuple[int, int]] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        try:
            st = os.stat(folder)
        except OSError:
            dirs[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:  # a symlink loop or a second link to the same folder
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel = Path(folder).relative_to(root)
        for name in files:
            if is_media_source(name, extensions):
                found.append((rel / name).as_posix())
    return found
