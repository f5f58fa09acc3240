"""Writing files so that a crash never leaves a half-written one behind."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_writer(path: str | Path, binary: bool = False) -> Iterator[IO]:
    """Opens a temporary file beside `path` that replaces it only once the block ends without error.

    Readers see either the old file or the whole new one, never a partial write;
    a failed or interrupted write leaves the old file and no temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """Writes text to `path` atomically (see `atomic_writer`)."""
    with atomic_writer(path) as f:
        f.write(text)


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Writes `data` as indented UTF-8 JSON, atomically."""
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def read_json(path: str | Path) -> Any | None:
    """Reads a JSON file; returns None when it is missing or not valid JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def remove_stale_temps(folder: str | Path, older_than: float = 0.0) -> None:
    """Deletes temporary files that a killed writer left in `folder` (not recursive).

    Args:
        folder: Where `atomic_writer` wrote.
        older_than: Seconds; younger files are kept, for folders other processes may be writing to.
    """
    for tmp in Path(folder).glob(".*.tmp"):
        with contextlib.suppress(OSError):  # another process may rename or remove it meanwhile
            if time.time() - tmp.stat().st_mtime >= older_than:
                tmp.unlink()
