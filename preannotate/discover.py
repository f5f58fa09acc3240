"""Finding media files in a dataset folder or a bucket, in a deterministic order.

Item names come from `preannotate.naming`, so a bucket listing (`preannotate.cloud`) and a folder walk
name the same relative paths alike. Nothing is left out silently: a folder that cannot be listed and a
media-named path that is not a regular file (a named pipe, a socket, a device) are logged as warnings
naming the path and the reason, and `find_media` returns them for the run to report.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
from pathlib import Path

from .cloud import discover_bucket
from .errors import InputError, listed
from .locations import is_bucket_url
from .naming import EXPORT_MARKER, MediaFile, is_media_source, unique_item_names
from .storage import expand_home

log = logging.getLogger(__name__)

# Kinds of paths that are not regular files, in words; opening one could block forever (a named pipe).
_KINDS = {
    stat.S_IFIFO: "a named pipe",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}
_NAMED = 5  # unreadable paths named in the "holds no media" error


@dataclasses.dataclass(frozen=True)
class Unreadable:
    """A path under the dataset folder that discovery could not take.

    Attributes:
        path: Absolute path.
        source: Path relative to the dataset folder, with `/` separators.
        item: An item name that no media file of the same discovery shares, to report it as a failed file.
        error: The path and the problem, e.g. `/data/b.wav: not a regular file (a named pipe)`.
    """

    path: Path
    source: str
    item: str
    error: str


@dataclasses.dataclass(frozen=True)
class Discovery:
    """What `find_media` found.

    Attributes:
        media: The media files, sorted by their relative path.
        unreadable: Folders that could not be listed and media-named paths that are not regular files,
            sorted by their relative path; each was logged as a warning.
    """

    media: list[MediaFile]
    unreadable: list[Unreadable] = dataclasses.field(default_factory=list)


def discover(root: str | Path, extensions: tuple[str, ...]) -> list[MediaFile]:
    """Lists the media files under `root`, recursively, in a deterministic order.

    Hidden files and folders (names starting with `.`) are skipped, and so are folders below `root` that
    `preannotate export` made (holding `EXPORT_MARKER`): their clips are a finished dataset's. Symbolic
    links to folders are followed once; a link back into a folder already seen
    is not followed again, so loops end. A bucket URL (`s3://`, `gs://`, `az://`)
    is listed with the same rules, its keys relative to the prefix as paths.
    A folder that cannot be listed, and a media-named path that is not a regular
    file, is logged as a warning and left out (`find_media` returns them too).

    Args:
        root: The dataset folder, or a bucket URL.
        extensions: File name endings that count as media, like `.wav`; case-insensitive.

    Returns:
        The files sorted by their relative path, each with an item name no other file shares.

    Raises:
        InputError: `root` does not exist, is not a folder, or holds no media (also when it cannot be
            listed); for a bucket, also no credentials or no access.
    """
    return find_media(root, extensions).media


def find_media(root: str | Path, extensions: tuple[str, ...]) -> Discovery:
    """Lists the media files under `root` as `discover` does, with the paths it could not take.

    Raises:
        InputError: As `discover`; the "holds no media" message names up to five paths that could not
            be read (the input folder itself, when it cannot be listed).
    """
    if is_bucket_url(root):
        return Discovery(discover_bucket(str(root), extensions))
    base = expand_home(root)
    try:
        there, folder = base.exists(), base.is_dir()
    except OSError as e:  # a path too long, a loop of links
        raise InputError(f"cannot read input folder {base}: {e.strerror or e}") from None
    if not there:
        raise InputError(f"input folder {base} does not exist")
    if not folder:
        raise InputError(f"input {base} is not a folder")
    wanted = tuple(e.lower() for e in extensions)
    found = _named(base.resolve(), _Walk(base.resolve(), wanted))
    if not found.media:
        raise InputError(f"input folder {base} holds no media files ({', '.join(wanted)}){_listed(found.unreadable)}")
    return found


class _Walk:
    """One walk of a folder: the media files' relative paths, and why each path left out was left out."""

    def __init__(self, root: Path, extensions: tuple[str, ...]) -> None:
        self.root, self.extensions = root, extensions
        self.found: list[str] = []
        self.problems: dict[str, str] = {}  # relative path -> the problem
        self.exports: list[str] = []  # folders left out: datasets `preannotate export` made
        self._seen: set[tuple[int, int]] = set()
        for folder, dirs, files in os.walk(root, onerror=self._unlisted, followlinks=True):
            self._folder(folder, dirs, files)

    def _unlisted(self, error: OSError) -> None:
        """Records a folder os.walk could not list (it would skip it silently)."""
        rel = Path(error.filename).relative_to(self.root).as_posix()
        self.problems[rel] = f"cannot list the folder ({error.strerror or error})"

    def _folder(self, folder: str, dirs: list[str], files: list[str]) -> None:
        try:
            st = os.stat(folder)
        except OSError as e:  # listed, then gone or out of reach: say so rather than drop it
            dirs[:] = []
            self._unlisted(e)
            return
        if (st.st_dev, st.st_ino) in self._seen:  # a symlink loop or a second link to the same folder
            dirs[:] = []
            return
        self._seen.add((st.st_dev, st.st_ino))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel = Path(folder).relative_to(self.root)
        if EXPORT_MARKER in files and rel != Path("."):  # clips of a finished dataset are not new recordings
            dirs[:] = []
            self.exports.append(rel.as_posix())
            return
        for name in files:
            if is_media_source(name, self.extensions):
                source = (rel / name).as_posix()
                kind = _not_regular(os.path.join(folder, name))
                if kind:
                    self.problems[source] = f"not a regular file ({kind})"
                else:
                    self.found.append(source)


def _not_regular(path: str) -> str | None:
    """What `path` is, in words, when (after following links) it is there and not a regular file."""
    try:
        mode = os.stat(path).st_mode
    except OSError:  # a dangling link or a file out of reach: planning reports it as a failed file
        return None
    return None if stat.S_ISREG(mode) else _KINDS.get(stat.S_IFMT(mode), "an unknown kind of file")


def _named(root: Path, walk: _Walk) -> Discovery:
    """Names the found files and the unreadable paths together, so that no two share an item; logs the latter."""
    sources = sorted([*walk.found, *walk.problems])
    items = dict(zip(sources, unique_item_names(sources)))
    media = [MediaFile(root / s, s, items[s]) for s in sorted(walk.found)]
    unreadable = [Unreadable(root / s, s, items[s], f"{root / s}: {walk.problems[s]}") for s in sorted(walk.problems)]
    for u in unreadable:
        log.warning("%s; left out of the run", u.error)
    for folder in walk.exports:
        log.info("%s: a dataset `preannotate export` made (%s): its clips are left out", root / folder, EXPORT_MARKER)
    return Discovery(media, unreadable)


def _listed(unreadable: list[Unreadable]) -> str:
    """`; could not read: ...` naming up to `_NAMED` of the unreadable paths, or nothing."""
    if not unreadable:
        return ""
    return "; could not read: " + listed([u.error for u in unreadable], _NAMED, "; ")
