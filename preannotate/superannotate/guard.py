"""Keeping uploads off human work: which items a person has touched on SuperAnnotate, and backups.

The local ledger is not enough to tell: a new output folder has none, and annotators work on the
server. So before uploading an item that is already in the project, its status and current
annotation are read from SuperAnnotate. An item is human-touched when its status is beyond
InProgress (QualityCheck, Returned, Completed, Skipped), or when its annotation differs from the last
one this tool uploaded (without a ledger entry: when it holds any annotation other than the one
about to be uploaded).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..storage import read_json, write_json_atomic
from .client import UploadSession
from .ledger import Ledger
from .plan import PlannedItem
from .redact import get_logger
from .validate import annotation_essentials

log = get_logger(__name__)

#: Statuses only people (or their workflow) give: an item in one of them has been worked on.
HUMAN_STATUSES = ("QualityCheck", "Returned", "Completed", "Skipped")
BACKUPS_DIR = "backups"
READ_CHUNK = 100  # annotations per download call; the SDK streams them, this bounds memory


@dataclass
class HumanEdit:
    """An item a person has worked on, and what SuperAnnotate holds for it now.

    Attributes:
        item: The item name.
        reason: Why it counts as human work, for the upload table and run.json.
        status: Its annotation status on SuperAnnotate.
        annotation: Its current annotation as downloaded (None when it was not read or holds none).
    """

    item: str
    reason: str
    status: str | None
    annotation: dict | None = None


def find_human_edits(
    session: UploadSession,
    project: str,
    todo: list[PlannedItem],
    statuses: dict[str, str | None],
    ledger: Ledger,
    target: str,
    read_all: bool = False,
) -> dict[str, HumanEdit]:
    """Reads the items already in the project and returns those a person has worked on.

    Args:
        session: A connected session.
        project: The project name.
        todo: The items about to be uploaded.
        statuses: Items already in the project with their annotation status (from `existing_items`).
        ledger: The upload ledger (the last upload of each item to `target`).
        target: The ledger key of the project.
        read_all: Also download the annotation of items whose status alone decides (for backups).

    Returns:
        Human-touched items by name; every other item of `todo` may be uploaded.
    """
    present = [p for p in todo if p.item in statuses]
    by_status = {p.item for p in present if statuses[p.item] in HUMAN_STATUSES}
    wanted = [p.item for p in present if read_all or p.item not in by_status]
    held = read_annotations(session, project, wanted)
    edits = {}
    for p in present:
        status, annotation = statuses[p.item], held.get(p.item)
        if p.item in by_status:
            edits[p.item] = HumanEdit(p.item, f"human-edited: status {status} on SuperAnnotate", status, annotation)
            continue
        reason = _edit_reason(annotation, _last_upload(ledger, target, p.item), p.annotation)
        if reason:
            edits[p.item] = HumanEdit(p.item, f"human-edited: {reason}", status, annotation)
    return edits


def read_annotations(session: UploadSession, project: str, names: list[str]) -> dict[str, dict]:
    """The current annotations of the named items, by name, read in chunks; items holding none are absent."""
    held: dict[str, dict] = {}
    for start in range(0, len(names), READ_CHUNK):
        for annotation in session.get_annotations(project, names[start : start + READ_CHUNK]):
            name = (annotation.get("metadata") or {}).get("name") if isinstance(annotation, dict) else None
            if name:
                held[name] = annotation
    return held


def _last_upload(ledger: Ledger, target: str, item: str) -> dict | None:
    """The copy of the item's last upload to the target, or None (no entry, or the copy is gone)."""
    entry = ledger.entry(target, item)
    copy = read_json(ledger.output_dir / entry.copy) if entry else None
    return copy if isinstance(copy, dict) else None


def _edit_reason(held: dict | None, last: dict | None, planned: dict | None) -> str | None:
    """Why the held annotation is a person's work, or None when uploading over it loses nothing."""
    if _blank(held):
        # Empty is how an item starts; but an upload of this tool emptied since then was deleted by someone.
        if last is None or _blank(last):
            return None
        return "the annotation this tool uploaded was emptied on SuperAnnotate"
    content = _content(held)
    if content == _content(planned) or (last is not None and content == _content(last)):
        return None
    if last is None:
        return "holds an annotation this tool did not upload from this output folder"
    return "the annotation on SuperAnnotate was changed since this tool's last upload"


def _blank(annotation: dict | None) -> bool:
    return annotation is None or not (annotation.get("instances") or annotation.get("tags"))


def _content(annotation: dict | None) -> tuple:
    """What annotators see: events and texts (without SDK and platform stamps), plus the item's tags."""
    if annotation is None:
        return (None, [])
    tags = sorted(json.dumps(t, sort_keys=True) for t in annotation.get("tags") or [])
    return annotation_essentials(annotation), tags


def backup_folder(output_dir: Path) -> Path:
    """A new `<output>/backups/<UTC time>` folder name (not created), safe in file names."""
    return output_dir / BACKUPS_DIR / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")


def write_backups(folder: Path, project: str, edits: list[HumanEdit]) -> None:
    """Saves each item's status and annotation as SuperAnnotate holds them, atomically, before an overwrite."""
    for edit in edits:
        record: dict[str, Any] = {"item": edit.item, "project": project, "status": edit.status}
        record.update(annotation=edit.annotation, saved_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        write_json_atomic(folder / f"{edit.item}.json", record)
    log.warning("saved the current state of %d human-edited item(s) in %s before overwriting", len(edits), folder)
