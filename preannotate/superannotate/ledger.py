"""The local record of what was uploaded where: `<output>/uploads.json` plus a copy of each upload.

A run uploads an item only when its annotation differs from what the ledger says that
project already holds, so runs repeat safely and an interrupted run resumes. The correction
workflow later compares SuperAnnotate's annotations with the copies kept here.

Format (version 1)::

    {"format": 1,
     "targets": {"<host>/team/<team id>/<project>": {
         "host": ..., "team_id": ..., "project": ...,
         "items": {"<item>": {"sha256": "<hex of the canonical JSON>", "uploaded_at": "<UTC ISO 8601>",
                              "annotation": "superannotate/<item>.json",
                              "copy": "uploaded/<item>/<sha256[:16]>.json", "instances": 12}}}}}
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import UploadError
from ..storage import read_json, write_json_atomic, write_text_atomic

LEDGER_FILE = "uploads.json"
COPIES_DIR = "uploaded"
FORMAT = 1


def canonical_json(annotation: Any) -> str:
    """The annotation as compact JSON with sorted keys: equal content gives equal text."""
    return json.dumps(annotation, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def annotation_sha256(annotation: Any) -> str:
    """SHA-256 of the canonical JSON, so formatting changes alone do not count as new content."""
    return hashlib.sha256(canonical_json(annotation).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LedgerEntry:
    """One item's last upload to one target."""

    sha256: str
    uploaded_at: str
    annotation: str
    copy: str
    instances: int


class Ledger:
    """The upload ledger of one output folder."""

    def __init__(self, output_dir: Path, data: dict[str, Any]) -> None:
        self.output_dir = output_dir
        self.data = data

    @classmethod
    def load(cls, output_dir: str | Path) -> Ledger:
        """Reads `<output>/uploads.json`, or starts an empty ledger when there is none.

        Raises:
            UploadError: The file exists but is not a ledger (it is never silently replaced).
        """
        output_dir = Path(output_dir)
        path = output_dir / LEDGER_FILE
        if not path.exists():
            return cls(output_dir, {"format": FORMAT, "targets": {}})
        data = read_json(path)
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("targets"), dict):
            raise UploadError(f"{path} is not an upload ledger of format {FORMAT}; move it away to start afresh")
        return cls(output_dir, data)

    @property
    def path(self) -> Path:
        """Where the ledger is stored."""
        return self.output_dir / LEDGER_FILE

    def items(self, target: str) -> dict[str, LedgerEntry]:
        """The entries recorded for a target, by item name."""
        raw = self.data["targets"].get(target, {}).get("items", {})
        return {name: LedgerEntry(**entry) for name, entry in raw.items()}

    def entry(self, target: str, item: str) -> LedgerEntry | None:
        """The item's last upload to the target, if any."""
        raw = self.data["targets"].get(target, {}).get("items", {}).get(item)
        return LedgerEntry(**raw) if raw else None

    def is_current(self, target: str, item: str, sha256: str) -> bool:
        """Whether the target already holds exactly this annotation of the item."""
        entry = self.entry(target, item)
        return entry is not None and entry.sha256 == sha256

    def record(self, target: str, meta: dict[str, Any], item: str, annotation: dict, source_file: Path) -> None:
        """Records an upload and keeps a copy of what was uploaded (call `save` to persist).

        Args:
            target: The ledger key of the project (see `UploadSession.target`).
            meta: What identifies the target: host, team_id, project.
            item: The item name.
            annotation: The annotation as uploaded (before the SDK's additions).
            source_file: The annotation file it was read from.
        """
        sha = annotation_sha256(annotation)
        copy_path = Path(COPIES_DIR) / item / f"{sha[:16]}.json"
        write_text_atomic(self.output_dir / copy_path, json.dumps(annotation, ensure_ascii=False, indent=2) + "\n")
        entry = LedgerEntry(
            sha256=sha,
            uploaded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            annotation=_relative(source_file, self.output_dir),
            copy=copy_path.as_posix(),
            instances=len(annotation.get("instances") or []),
        )
        record = self.data["targets"].setdefault(target, {**meta, "items": {}})
        record["items"][item] = entry.__dict__.copy()

    def save(self) -> None:
        """Writes the ledger atomically."""
        write_json_atomic(self.path, self.data)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
