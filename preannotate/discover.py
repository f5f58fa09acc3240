"""Finding media files in a dataset folder and naming them as items.

An item name is derived from the file's path relative to the dataset folder
alone, so it is stable across runs and does not change when other files come or
go. It is safe as a file name on every common file system and as a
SuperAnnotate item name.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import InputError

# Joins path components in item names: `a/b/c.wav` -> `a__b__c.wav`.
SEPARATOR = "__"
# Item names stay well under the 255-byte file name limit, leaving room for
# suffixes such as `.json` or `.srt` and a hash.
MAX_NAME_BYTES = 180
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*#%&{}$!`\'@+=\[\]]')


@dataclass(frozen=True)
class MediaFile:
    """One media file of the dataset.

    Attributes:
        path: Absolute path to the file.
        source: Path relative to the dataset folder, with `/` separators.
        item: The item name used for outputs and on SuperAnnotate.
    """

    path: Path
    source: str
    item: str


def discover(root: str | Path, extensions: tuple[str, ...]) -> list[MediaFile]:
    """Lists the media files under `root`, recursively, in a deterministic order.

    Hidden files and folders (names starting with `.`) are skipped. Symbolic
    links to folders are followed once; a link back into a folder already seen
    is not followed again, so loops end.

    Args:
        root: The dataset folder.
        extensions: File name endings that count as media, like `.wav`; case-insensitive.

    Returns:
        The files sorted by their relative path.

    Raises:
        InputError: `root` does not exist, is not a folder, or holds no media.
    """
    base = Path(root).expanduser()
    if not base.exists():
        raise InputError(f"input folder {base} does not exist")
    if not base.is_dir():
        raise InputError(f"input {base} is not a folder")
    wanted = tuple(e.lower() for e in extensions)
    sources = sorted(_walk(base.resolve(), wanted))
    if not sources:
        raise InputError(f"input folder {base} holds no media files ({', '.join(wanted)})")
    return [MediaFile(base.resolve() / src, src, item_name(src)) for src in sources]


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
            if not name.startswith(".") and name.lower().endswith(extensions):
                found.append((rel / name).as_posix())
    return found


def item_name(source: str) -> str:
    """Returns the item name of a file from its path relative to the dataset folder.

    Components are joined with `__`. When the plain join would be ambiguous or
    unsafe (a component holds `__` or characters unsafe in file or item names,
    or the name is too long), unsafe characters become `_` and a short hash of
    the exact source path is added, so different paths never share a name.

    Args:
        source: A relative path with `/` separators, e.g. `speaker1/take 2.wav`.

    Returns:
        A name such as `speaker1__take 2.wav` or `speaker1__take_2-1a2b3c4d.wav`.
    """
    text = unicodedata.normalize("NFC", source)
    parts = PurePosixPath(text).parts
    plain = SEPARATOR.join(parts)
    lossy = any(SEPARATOR in p or _UNSAFE.search(p) or p != p.strip() for p in parts)
    if not lossy and len(plain.encode("utf-8")) <= MAX_NAME_BYTES and not plain.startswith("."):
        return plain
    stem, dot, ext = plain.rpartition(".")
    if not dot or len(ext) > 8:
        stem, ext = plain, ""
    safe = re.sub(r"_{3,}", "__", _UNSAFE.sub("_", stem)).strip(" ._") or "item"
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    safe = _truncate_utf8(safe, MAX_NAME_BYTES - 20)
    return f"{safe}-{digest}" + (f".{_UNSAFE.sub('_', ext)}" if ext else "")


def _truncate_utf8(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8")[:max_bytes]
    return encoded.decode("utf-8", errors="ignore")
