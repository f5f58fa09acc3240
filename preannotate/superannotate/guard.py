"""Keeping uploads off human work: which items a person has touched on SuperAnnotate, and backups.

The local ledger is not enough to tell: a new output folder has none, and annotators work on the
server. So before uploading an item that is already in the project, its status and current
annotation are read from SuperAnnotate. An item is human-touched when its status is beyond
InProgress (QualityCheck, Returned, Completed, Skipped, or a status of a team's own workflow) and not the
one this run gives that this folder's last upload gave it (`superannotate.status: QualityCheck`, recorded in
the ledger: judged by the annotation alone), or when
its annotation differs from the last one this tool uploaded (without a ledger entry: when it holds any
annotation other than the one about to be uploaded). An annotation equal to an upload this folder sent and
never saw confirmed (the ledger's `pending`: a stop came between) is this folder's too. Without a ledger
entry an item is also kept when it
has been worked on (not NotStarted) and SuperAnnotate's download leaves its annotation out. An item that
plays other audio than this upload would attach and than this output folder last uploaded it with is
someone else's item of the same name: always kept, `overwrite_human_edits` or not; so is one that plays the
audio this folder's last upload attached when that upload was drafted from another recording than this run's.
Each batch is read again just before it is sent (`changed_since`): an item changed since the first read was
changed by people while the upload ran.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..storage import read_json, write_json_atomic
from .client import ListedItem, UploadSession
from .ledger import Ledger, LedgerEntry, PendingUpload
from .plan import PlannedItem
from .redact import get_logger
from .urls import not_ours, without_query
from .validate import annotation_essentials

log = get_logger(__name__)

#: The statuses an item has before people work on it; any other (QualityCheck, Returned, Completed, Skipped)
#: only people or their workflow give. The SDK names statuses after the project's workflow, so a team's own
#: workflow brings names of its own (an approval...): those are people's too.
MACHINE_STATUSES = ("NotStarted", "InProgress")
BACKUPS_DIR = "backups"
_VERSION = re.compile(r"\|version:[^|]*")  # in a bucket object's identity (`cloud.object_id`)
READ_CHUNK = 100  # annotations per download call; the SDK streams them, this bounds memory


@dataclass
class HumanEdit:
    """An item a person has worked on, and what SuperAnnotate holds for it now.

    Attributes:
        item: The item name.
        reason: Why it counts as human work, for the upload table and run.json.
        status: Its annotation status on SuperAnnotate.
        annotation: Its current annotation as downloaded (None when it was not read or holds none).
        foreign: It plays other audio than this run's item of the name: someone else's item, which
            `overwrite_human_edits` must not replace either (this run's draft is of other audio).
    """

    item: str
    reason: str
    status: str | None
    annotation: dict | None = None
    foreign: bool = False


def find_human_edits(
    session: UploadSession,
    project: str,
    todo: list[PlannedItem],
    listed: dict[str, ListedItem],
    ledger: Ledger,
    target: str,
    read_all: bool = False,
    own_status: str | None = None,
    seen: dict[str, tuple] | None = None,
) -> dict[str, HumanEdit]:
    """Reads the items already in the project and returns those a person has worked on.

    Args:
        session: A connected session.
        project: The project name.
        todo: The items about to be uploaded.
        listed: Items already in the project with their status and URL (from `listed_items`).
        ledger: The upload ledger (the last upload of each item to `target`).
        target: The ledger key of the project.
        read_all: Also download the annotation of items whose status alone decides (for backups).
        own_status: The status this run's uploads give items (`superannotate.status`): an item in it that
            this folder's last upload gave it (the ledger records it) is judged by its content alone, as one
            in NotStarted or InProgress is.
        seen: Gets the state (`item_state`) of each item whose annotation was read, for `changed_since`.

    Returns:
        Human-touched items by name; every other item of `todo` may be uploaded.
    """
    present = [p for p in todo if p.item in listed]
    by_status = {
        p.item
        for p in present
        if is_human_status(listed[p.item].status)
        and not _gave(listed[p.item].status, own_status, ledger.entry(target, p.item))
    }
    wanted = [p.item for p in present if read_all or p.item not in by_status]
    held = read_annotations(session, project, wanted)
    if seen is not None:
        seen.update({name: item_state(listed[name], held.get(name)) for name in wanted})
    edits = {}
    for p in present:
        status, annotation = listed[p.item].status, held.get(p.item)
        sent = ledger.sent(target, p.item)
        if foreign := _other_audio(p, listed[p.item], ledger.entry(target, p.item), sent):
            edits[p.item] = HumanEdit(p.item, foreign, status, annotation, foreign=True)
            continue
        if p.item in by_status:
            edits[p.item] = HumanEdit(p.item, f"human-edited: status {status} on SuperAnnotate", status, annotation)
            continue
        if _is_sent(annotation, ledger, sent):
            continue  # what this folder sent before a stop kept it from recording the upload
        last = _last_upload(ledger, target, p.item)
        reason = _unread(listed[p.item], p.item in held) if last is None else None
        reason = reason or _edit_reason(annotation, last, p.annotation, status)
        if reason:
            edits[p.item] = HumanEdit(p.item, reason, status, annotation)
    return edits


def changed_since(
    session: UploadSession, project: str, batch: list[PlannedItem], seen: dict[str, tuple]
) -> dict[str, HumanEdit]:
    """The batch's items no longer as `find_human_edits` saw them before the upload began, read again now.

    An item it did not see (this upload attached it, or someone attached one of the name since) is as left
    while it holds no annotation and no status people give, and plays this item's audio. Any other change
    is counted as people's work: it came while this upload ran, and only people (or another tool) made it.
    Items gone from the project are passed over (the upload reports them not found).
    """
    listed = session.listed_items(project, [p.item for p in batch])
    held = read_annotations(session, project, [p.item for p in batch if p.item in listed])
    edits = {}
    for p in (p for p in batch if p.item in listed):
        item, annotation = listed[p.item], held.get(p.item)
        if p.item in seen:
            if item_state(item, annotation) == seen[p.item]:
                continue
            reason = f"human-edited: changed on SuperAnnotate while this upload ran (status {item.status})"
        elif foreign := not_ours([p.url] if p.url else [], item.url):
            edits[p.item] = HumanEdit(p.item, foreign, item.status, annotation, foreign=True)
            continue
        elif _blank(annotation) and not is_human_status(item.status):
            continue
        else:
            reason = f"human-edited: worked on since this upload attached it (status {item.status})"
        edits[p.item] = HumanEdit(p.item, reason, item.status, annotation)
    return edits


def item_state(item: ListedItem, annotation: dict | None) -> tuple:
    """What a change by people would change: the item's status, audio and annotation content."""
    return item.status, item.url, _content(annotation)


def not_as_left(
    unchanged: list[PlannedItem], listed: dict[str, ListedItem], ledger: Ledger, target: str, own_status: str | None
) -> dict[str, str]:
    """Why items skipped as unchanged are no longer as this folder left them, by the listing alone; by name.

    Such an item gets no priority or custom values: it is gone, someone else's item of the name now plays
    other audio, or people have given it a status (an annotator's own edit in NotStarted or InProgress is
    not seen without downloading every unchanged item's annotation, which metadata does not warrant).
    """
    reasons = {}
    for p in unchanged:
        item, entry = listed.get(p.item), ledger.entry(target, p.item)
        if item is None:
            reasons[p.item] = "no longer in the project"
        elif foreign := _other_audio(p, item, entry, ledger.sent(target, p.item)):
            reasons[p.item] = foreign
        elif is_human_status(item.status) and not _gave(item.status, own_status, entry):
            reasons[p.item] = f"human-edited: status {item.status} on SuperAnnotate"
    return reasons


def _gave(status: str | None, own_status: str | None, entry: LedgerEntry | None) -> bool:
    """Whether the item's status is the one this run gives and this folder gave it at its last upload (`entry`)."""
    return status == own_status and entry is not None and entry.status == status


def is_human_status(status: str | None) -> bool:
    """Whether the status says people worked on the item (None: the listing gave none, the content decides)."""
    return status is not None and status not in MACHINE_STATUSES


def _other_audio(
    planned: PlannedItem, item: ListedItem, entry: LedgerEntry | None, sent: list[PendingUpload]
) -> str | None:
    """Why the project's item of this name is someone else's, or None.

    It is when it plays neither the audio this upload would attach nor the audio this output folder last
    uploaded it with or sent it with unconfirmed (the audio may have moved to a new URL since). An entry of
    an older ledger, which recorded no URL, vouches for the item.
    """
    if entry is not None and entry.url is None:
        return None
    known = (planned.url, entry.url if entry else None, *(p.url for p in sent))
    if why := not_ours([url for url in known if url], item.url):
        return why
    if entry and planned.url and not_ours([planned.url], item.url) and not same_audio(entry.audio, planned.audio):
        # It plays the audio this folder's last upload attached, and that was drafted from another recording
        # than this run's: a copied output folder pointed at other recordings of the same names.
        return (
            f"not this run's recording: the item plays {without_query(item.url or '')}, which this output "
            f"folder's last upload attached for another recording than this run's {planned.source}"
        )
    return None


def same_audio(recorded: str | None, now: str | None) -> bool:
    """Whether two recordings' identities (`cloud.object_id`) may be the same one; unknown ones may.

    A bucket object's version id is left out: the same content copied to another bucket gets another.
    """
    if not recorded or not now:
        return True
    return _VERSION.sub("", recorded) == _VERSION.sub("", now)


def _unread(item: ListedItem, read: bool) -> str | None:
    """Why an item this output folder never uploaded, worked on but not read, is not provably its to replace."""
    if not read and item.status != "NotStarted":
        # The platform can leave an item out of a download; an item worked on might hold anything.
        return f"human-edited: status {item.status} and SuperAnnotate did not return its annotation to check"
    return None


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
    return _copy(ledger, entry.copy) if entry else None


def _is_sent(held: dict | None, ledger: Ledger, sent: list[PendingUpload]) -> bool:
    """Whether the held annotation is one this folder sent unconfirmed (its copy is still here).

    Never an empty one: emptying an item is what people do too (their verdict of no speech), and a send of an
    empty draft that never arrived would pass their verdict off as this folder's; the rules for empty items
    decide then.
    """
    if _blank(held):
        return False
    copies = (_copy(ledger, p.copy) for p in sent)
    return any(copy is not None and _content(held) == _content(copy) for copy in copies)


def _copy(ledger: Ledger, relative: str) -> dict | None:
    """A copy the ledger keeps of an upload, or None when it is gone or unreadable."""
    copy = read_json(ledger.output_dir / relative)
    return copy if isinstance(copy, dict) else None


def _edit_reason(
    held: dict | None, last: dict | None, planned: dict | None, status: str | None = "NotStarted"
) -> str | None:
    """Why the held annotation is a person's work, or None when uploading over it loses nothing.

    Args:
        held: The annotation SuperAnnotate holds now (None: none).
        last: The copy of this output folder's last upload of the item (None: never uploaded from here).
        planned: The annotation about to be uploaded.
        status: The item's status on SuperAnnotate.
    """
    if _blank(held):
        # Empty is how an item starts (NotStarted); but an upload of this tool emptied since then was deleted by
        # someone, and an empty item someone has worked on may be their verdict (no speech) on an upload of
        # another folder's or tool's.
        if last is None:
            empty_is_theirs = status != "NotStarted" and not _blank(planned)
            return f"human-edited: status {status} with an empty annotation" if empty_is_theirs else None
        return None if _blank(last) else "human-edited: the annotation this tool uploaded was emptied on SuperAnnotate"
    content = _content(held)
    if content == _content(planned) or (last is not None and content == _content(last)):
        return None
    if last is None:
        return "human-edited: holds an annotation this tool did not upload from this output folder"
    return "human-edited: the annotation on SuperAnnotate was changed since this tool's last upload"


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
