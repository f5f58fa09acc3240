"""Naming media files as items, and which paths count as media.

An item name is derived from the file's path relative to the dataset folder, so
it is stable across runs. It is safe as a file name on every common file
system and keeps to SuperAnnotate's limits on item names (at most 120
characters, none of the characters its import skips). Names are unique within a
dataset even where file systems would confuse them: two paths whose names
differ only in Unicode normalization or letter case get different items.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from itertools import count
from pathlib import Path, PurePosixPath

# Joins path components in item names: `a/b/c.wav` -> `a__b__c.wav`.
SEPARATOR = "__"
# SuperAnnotate refuses longer item names.
MAX_NAME_CHARS = 120
# File names are limited to 255 bytes: room for suffixes such as `.json` or `.srt`.
MAX_NAME_BYTES = 180
MAX_EXTENSION_CHARS = 8
# Unsafe in file names on some system, or skipped by SuperAnnotate's import
# (`< > : ” ' / \ ? * & $ ! +`, the typographic quotes included).
# Lone surrogates stand for the bytes of a file name that is not UTF-8 (Python's surrogateescape).
_UNSAFE = re.compile(
    r'[\x00-\x1f\x7f-\x9f<>:"/\\|?*#%&{}$!`\'@+=\[\]\u2018\u2019\u201c\u201d\u2028\u2029\ud800-\udfff]'
)
_DIGEST_CHARS = 8
# The file `preannotate export` leaves in each dataset folder it makes (correction/destination.py): discovery of a
# folder or a bucket leaves such a folder out, so that a dataset exported (or copied) into the input is not
# transcribed as new audio.
EXPORT_MARKER = ".preannotate-export.json"


@dataclass(frozen=True)
class MediaFile:
    """One media file of the dataset.

    Attributes:
        path: Absolute path to the file; for a bucket, the object's URL (a `preannotate.cloud.ObjectUrl`).
        source: Path relative to the dataset folder, with `/` separators.
        item: The item name used for outputs and on SuperAnnotate.
    """

    path: Path | str
    source: str
    item: str


def is_media_source(source: str, extensions: tuple[str, ...]) -> bool:
    """Whether a relative path (`/` separators) is a media file discovery keeps.

    No component may be hidden (start with `.`), and the name must end with one of `extensions`
    (lower-case, like `.wav`), in any letter case.
    """
    parts = source.split("/")
    return not any(p.startswith(".") for p in parts) and parts[-1].lower().endswith(extensions)


def in_export_folder(source: str, exports: set[str]) -> bool:
    """Whether a relative path lies below one of `exports`, the folders holding an `EXPORT_MARKER`."""
    parts = source.split("/")
    return any("/".join(parts[:depth]) in exports for depth in range(1, len(parts)))


def item_name(source: str) -> str:
    """Returns the item name of a file from its path relative to the dataset folder.

    Components are joined with `__`. When the plain join would be ambiguous or
    unsafe (a component holds `__` or characters unsafe in file or item names,
    or the name is too long), unsafe characters become `_` and a short hash of
    the (NFC-normalized) source path is added, so different paths do not share
    a name. `unique_item_names` settles the rare clashes that remain.

    Args:
        source: A relative path with `/` separators, e.g. `speaker1/take 2.wav`.

    Returns:
        A name such as `speaker1__take 2.wav` or `speaker1__take_2-1a2b3c4d.wav`.
    """
    text = unicodedata.normalize("NFC", source)
    parts = PurePosixPath(text).parts
    plain = SEPARATOR.join(parts)
    # A bucket key may hold `//`, which the parts lose: `a//x.wav` must not take the name of `a/x.wav`.
    lossy = "/".join(parts) != text or any(SEPARATOR in p or _UNSAFE.search(p) or p != p.strip() for p in parts)
    if not lossy and _fits(plain) and not plain.startswith("."):
        return plain
    raw = text.encode("utf-8", "surrogatepass")  # the same bytes as plain UTF-8 for any name that is valid
    return _hashed(text, hashlib.sha1(raw).hexdigest()[:_DIGEST_CHARS])


def unique_item_names(sources: list[str]) -> list[str]:
    """Item names for `sources`, unique even on case-insensitive or normalizing file systems.

    Names are compared NFC-normalized and case-folded. In every group of
    sources that would share a name, the one whose path maps to the name
    exactly (already NFC, nothing replaced; the smallest path when several do)
    keeps it and each other one gets a name with a hash of its own raw path,
    so a name depends on the path alone wherever that is possible. Repeated
    until no two names clash.

    Args:
        sources: Relative paths with `/` separators, all different.

    Returns:
        One name per source, in the same order; the same for the same sources.
    """
    names = [item_name(s) for s in sources]
    for attempt in count(1):
        groups: dict[str, list[int]] = defaultdict(list)
        for i, name in enumerate(names):
            groups[folded(name)].append(i)
        clashes = [g for g in groups.values() if len(g) > 1]
        if not clashes:
            return names
        for group in clashes:
            exact = sorted((os.fsencode(sources[i]), i) for i in group if _maps_exactly(sources[i], names[i]))
            keep = exact[0][1] if exact else None
            for i in group:
                if i != keep:
                    names[i] = _disambiguated(sources[i], attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def plain_item_problem(name: object) -> str | None:
    """Why a stored item name cannot be used to build an output path, or None when it can.

    An item name read back from a state file (run.json, pulled.json) must be a
    non-empty string naming one file: no path separators, NUL, `.` or `..`.
    """
    if not isinstance(name, str) or not name or name in (".", "..") or any(c in name for c in "/\\\0"):
        return f"item name {name!r} is not a plain item name"
    return None


def folded(name: str) -> str:
    """A name as a case-insensitive, normalizing file system (macOS) sees it: two such names would clash."""
    return unicodedata.normalize("NFC", name).casefold()


def _maps_exactly(source: str, name: str) -> bool:
    return SEPARATOR.join(PurePosixPath(source).parts) == name


def _disambiguated(source: str, attempt: int) -> str:
    # The raw path (bytes before normalization) tells apart the NFC and NFD spellings of one name.
    raw = b"%d\0" % attempt + os.fsencode(source)
    return _hashed(unicodedata.normalize("NFC", source), hashlib.sha256(raw).hexdigest()[: _DIGEST_CHARS + 2])


def _hashed(text: str, digest: str) -> str:
    plain = SEPARATOR.join(PurePosixPath(text).parts)
    stem, dot, ext = plain.rpartition(".")
    if not dot or len(ext) > MAX_EXTENSION_CHARS:
        stem, ext = plain, ""
    suffix = f"-{digest}" + (f".{_UNSAFE.sub('_', ext)}" if ext else "")
    safe = re.sub(r"_{3,}", "__", _UNSAFE.sub("_", stem)).strip(" ._") or "item"
    safe = _truncate(safe, MAX_NAME_CHARS - len(suffix), MAX_NAME_BYTES - len(suffix.encode("utf-8")))
    return safe.rstrip(" .") + suffix


def _fits(name: str) -> bool:
    return len(name) <= MAX_NAME_CHARS and len(name.encode("utf-8")) <= MAX_NAME_BYTES


def _truncate(text: str, max_chars: int, max_bytes: int) -> str:
    encoded = text[:max_chars].encode("utf-8")[:max_bytes]
    return encoded.decode("utf-8", errors="ignore")
