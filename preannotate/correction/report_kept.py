"""What `preannotate report` may replace in `correction/`: only a file it wrote, unchanged since; others are kept.

A report writes fixed names (`items.csv`, `summary.json`...). A person may have edited one (notes added to
items.csv) or put a file of their own there under such a name. Each report records the SHA-256 of the files it
wrote in `correction/report-files.json`; before the next report writes, a file there that is not as recorded is
moved to `correction-kept/<report time>/`, with a warning naming it, as `pull` keeps corrections
(`pull_kept`). A file that already holds exactly what the report writes is replaced as it is: nothing is lost.
Nothing is deleted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import stat
from collections.abc import Mapping
from pathlib import Path

from ..storage import atomic_writer, read_json
from .pull_kept import file_sha256, kept_folder, move_aside

log = logging.getLogger(__name__)

INDEX_FILE = "report-files.json"
INDEX_FORMAT = "preannotate-report-files"
# How each file opened in every version of the report (before the index existed), for `_older_report`.
OLD_OPENINGS = {
    "items.csv": b"item,", "groups.csv": b"item,", "chunks.csv": b"item,", "calibration.csv": b"predicted_wer_bin,",
    "summary.json": b'{\n  "summary": ',
    "report.html": b"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Correction report</title>",
}  # fmt: skip
EMPTY_TABLE = b"\n"  # a table without columns (a pull of no items)
# One report writes all its files within seconds; a person's edit comes later than that.
OLD_REPORT_WINDOW_S = 60.0


def kept_dir(folder: Path) -> Path:
    """Where files moved aside from the report's `folder` are kept: `correction-kept` beside `correction`."""
    return folder.parent / f"{folder.name}-kept"


def keep_foreign(folder: Path, data: Mapping[str, bytes], at: str) -> list[Path]:
    """Moves aside each file the report is about to replace that is not its own as it wrote it.

    Args:
        folder: The report's folder (usually `<run>/correction`).
        data: File name -> the bytes the report writes there.
        at: The report's time (ISO 8601), which names the folder the files are kept in.

    Returns:
        Where the files moved aside are now (`<folder>-kept/<report time>/<name>`).

    Raises:
        OutputWriteError: The files cannot be moved (see `pull_kept.move_aside`).
    """
    present = [name for name in (*data, INDEX_FILE) if _exists(folder / name)]
    hashes = {name: file_sha256(folder / name) for name in present}
    recorded = recorded_hashes(folder)
    if recorded is None:  # no index of ours (the first report here, or the first since upgrading)
        ours = _older_report(folder, present)
    else:
        ours = {INDEX_FILE} | {name for name in present if hashes[name] and hashes[name] == recorded.get(name)}
    same = {name for name in present if name in data and hashes[name] == _sha256(data[name])}
    foreign = [name for name in present if name not in ours | same]
    if not foreign:
        return []
    moved = move_aside([folder / name for name in foreign], kept_folder(kept_dir(folder), at))
    log.warning(
        "%d file(s) in %s were not as the last report wrote them (changed since, or not a report's): kept as %s "
        "before the report replaced them", len(moved), folder, ", ".join(str(path) for path in moved),
    )  # fmt: skip
    return moved


def write_owned(folder: Path, data: Mapping[str, bytes], at: str) -> None:
    """Writes each file atomically, then the index of their hashes that proves them the report's own.

    The index comes last: a report stopped halfway leaves the last index, so its new files are kept aside
    (not lost) by the next report.

    Raises:
        OSError: A file cannot be written (DiskFullError and OutputWriteError too).
    """
    for name, content in data.items():
        with atomic_writer(folder / name, binary=True) as f:
            f.write(content)
    index = {"format": INDEX_FORMAT, "written_at": at, "files": {name: _sha256(b) for name, b in data.items()}}
    with atomic_writer(folder / INDEX_FILE, binary=True) as f:
        f.write((json.dumps(index, indent=2) + "\n").encode("utf-8"))


def recorded_hashes(folder: Path) -> dict[str, str] | None:
    """File name -> the SHA-256 the last report recorded; None without an index of the report's own."""
    index = read_json(folder / INDEX_FILE)
    files = index.get("files") if isinstance(index, dict) and index.get("format") == INDEX_FORMAT else None
    if not isinstance(files, dict):
        return None
    return {str(name): sha for name, sha in files.items() if isinstance(sha, str)}


def _older_report(folder: Path, present: list[str]) -> set[str]:
    """The files present that a report of a version before the index wrote and no one changed since, as far as seen.

    Those versions recorded nothing, so ownership cannot be proved. Moving every file aside would bury each
    upgraded user's last report in correction-kept/ for nothing; trusting every file would lose exactly the
    edits this guards. So a file counts as such a report's when it is a plain file that opens as that report
    wrote it, and was written together with the others: a report writes all of them within seconds, so a file
    changed later by a person is newer than the oldest of them by more than OLD_REPORT_WINDOW_S, and is kept.
    """
    written = {}
    for name in present:
        path = folder / name
        try:
            st = path.lstat()
            if stat.S_ISREG(st.st_mode) and _opens_as_written(path, name):
                written[name] = st.st_mtime
        except OSError:
            continue
    first = min(written.values(), default=0.0)
    return {name for name, mtime in written.items() if mtime - first <= OLD_REPORT_WINDOW_S}


def _opens_as_written(path: Path, name: str) -> bool:
    opening = OLD_OPENINGS.get(name)
    if opening is None:  # the index: one without our format is not ours
        return False
    with path.open("rb") as f:
        head = f.read(len(opening))
    return head == opening or (name.endswith(".csv") and head == EMPTY_TABLE)


def _exists(path: Path) -> bool:
    try:
        return path.exists() or path.is_symlink()
    except OSError:
        return False


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
