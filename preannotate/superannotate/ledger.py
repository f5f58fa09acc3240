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
                              "copy": "uploaded/<item>/<sha256[:16]>.json", "instances": 12}},
         "pending": {"<item>": [{"sha256": ..., "copy": ..., "url": ...}]}}}}

`pending` holds the uploads sent and not yet confirmed, oldest first: each is recorded (with its copy
written) before the call that sends it, and all of an item's are dropped once `items` records it (one
SuperAnnotate reported it did not take is dropped at once), so that after a stop in between SuperAnnotate's
copy is still recognised as this folder's own (see `guard`). Versions without it ignore the key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import UploadError
from ..storage import atomic_writer, read_json, write_json_atomic, write_text_atomic
from .redact import redact

LEDGER_FILE = "uploads.json"
COPIES_DIR = "uploaded"
FORMAT = 1
PENDING = "pending"
MAX_PENDING = 8  # unconfirmed uploads kept per item (each a failed or stopped send); the oldest go first


def canonical_json(annotation: Any) -> str:
    """The annotation as compact JSON with sorted keys: equal content gives equal text."""
    return json.dumps(annotation, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def annotation_sha256(annotation: Any) -> str:
    """SHA-256 of the canonical JSON, so formatting changes alone do not count as new content."""
    return hashlib.sha256(canonical_json(annotation).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LedgerEntry:
    """One item's last upload to one target.

    `url`: the audio it was attached with; `status`: the status this folder then gave it, when it gave one;
    `audio`: the identity of the recording its draft was made of (`cloud.object_id` of the transcript's
    source); each None in older ledgers.
    """

    sha256: str
    uploaded_at: str
    annotation: str
    copy: str
    instances: int
    url: str | None = None
    status: str | None = None
    audio: str | None = None


@dataclass(frozen=True)
class PendingUpload:
    """An upload sent and not confirmed: its content's hash, its copy and the audio URL it went with."""

    sha256: str
    copy: str
    url: str | None = None


class Ledger:
    """The upload ledger of one output folder."""

    def __init__(self, output_dir: Path, data: dict[str, Any]) -> None:
        self.output_dir = output_dir
        self.data = data
        self.problems: list[str] = []  # what was wrong in the file read, see `load`
        self._original: bytes | None = None  # that file, kept aside before it is first replaced

    @classmethod
    def load(cls, output_dir: str | Path) -> Ledger:
        """Reads `<output>/uploads.json`, or starts an empty ledger when there is none.

        A file with wrong types (not JSON, an entry that is not an object, targets or items that are
        lists...) is not fatal: what is wrong is listed in `problems`, one line per target or item, the
        broken parts are dropped (those items are recorded anew at their next upload) and the original
        is kept beside the ledger at the next `save`. Uploads stay safe without the record: the server's
        state decides whether a person has worked on an item.

        Raises:
            UploadError: The ledger was written by a newer version of this tool (it is never replaced).
        """
        output_dir = Path(output_dir)
        path = output_dir / LEDGER_FILE
        if not path.exists():
            return cls(output_dir, _empty())
        data = read_json(path)
        if isinstance(data, dict) and _is_int(data.get("format")) and data["format"] > FORMAT:
            raise UploadError(f"{path} has format {data['format']}, newer than this version reads ({FORMAT})")
        clean, problems = _sanitized(data)
        ledger = cls(output_dir, clean)
        ledger.problems = [f"{path}: {p}" for p in problems]
        ledger._original = path.read_bytes() if problems else None
        return ledger

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

    def urls(self) -> dict[str, list[str]]:
        """Every audio URL each item was uploaded or sent unconfirmed with, over all targets, by item name.

        All of them, not the newest: a project keeps playing the URL an item was attached with there (another
        project's newer upload, or the audio moving, does not change it), and an item attached by an upload
        that stopped before it was confirmed plays the URL only `pending` records.
        """
        found: dict[str, list[str]] = {}
        for target in self.data["targets"].values():
            sent = [(name, p.get("url")) for name, ps in target.get(PENDING, {}).items() for p in ps]
            for name, url in [*((n, e.get("url")) for n, e in target.get("items", {}).items()), *sent]:
                if isinstance(url, str) and url not in found.setdefault(name, []):
                    found[name].append(url)
        return found

    def size(self) -> int:
        """How many item and unconfirmed upload entries the ledger holds, over all targets (what a save writes)."""
        targets = self.data["targets"].values()
        return sum(len(t.get("items", {})) + sum(map(len, t.get(PENDING, {}).values())) for t in targets)

    def is_current(self, target: str, item: str, sha256: str) -> bool:
        """Whether the target already holds exactly this annotation of the item."""
        entry = self.entry(target, item)
        return entry is not None and entry.sha256 == sha256

    def sent(self, target: str, item: str) -> list[PendingUpload]:
        """The item's uploads sent to the target and never confirmed (a stop came between), oldest first."""
        return [PendingUpload(**raw) for raw in self.data["targets"].get(target, {}).get(PENDING, {}).get(item, [])]

    def refused(self, target: str, item: str, annotation: dict) -> None:
        """Forgets an unconfirmed upload SuperAnnotate reported it did not take (call `save` to persist)."""
        sha, pending = annotation_sha256(annotation), self.data["targets"].get(target, {}).get(PENDING, {})
        kept = [raw for raw in pending.get(item, []) if raw["sha256"] != sha]
        if kept:
            pending[item] = kept
        else:
            pending.pop(item, None)

    def begin(self, target: str, meta: dict[str, Any], item: str, annotation: dict, url: str | None = None) -> None:
        """Records an upload about to be sent, its copy written first (call `save` before sending).

        Args:
            target: The ledger key of the project (see `UploadSession.target`).
            meta: What identifies the target: host, team_id, project.
            item: The item name.
            annotation: The annotation about to be uploaded (before the SDK's additions).
            url: The audio URL the item is attached with, when known.
        """
        sha = annotation_sha256(annotation)
        pending = {"sha256": sha, "copy": self._keep_copy(item, annotation, sha), "url": _recorded(url)}
        record = self.data["targets"].setdefault(target, {**meta, "items": {}})
        earlier = [raw for raw in record.setdefault(PENDING, {}).get(item, []) if raw["sha256"] != sha]
        # Every unconfirmed one is kept: a send that failed after one that SuperAnnotate took must not hide that one.
        record[PENDING][item] = [*earlier[-(MAX_PENDING - 1) :], pending]

    def record(
        self,
        target: str,
        meta: dict[str, Any],
        item: str,
        annotation: dict,
        source_file: Path,
        url: str | None = None,
        audio: str | None = None,
    ) -> None:
        """Records an upload and keeps a copy of what was uploaded (call `save` to persist).

        Args:
            target: The ledger key of the project (see `UploadSession.target`).
            meta: What identifies the target: host, team_id, project.
            item: The item name.
            annotation: The annotation as uploaded (before the SDK's additions).
            source_file: The annotation file it was read from.
            url: The audio URL the item was attached with, when known.
            audio: The identity of the recording the annotation was drafted from, when known.
        """
        sha = annotation_sha256(annotation)
        record = self.data["targets"].setdefault(target, {**meta, "items": {}})
        # `begin` wrote this copy just before the send: written once, unless it has gone since.
        begun = [raw["copy"] for raw in record.get(PENDING, {}).get(item, []) if raw["sha256"] == sha]
        kept = begun[0] if begun and (self.output_dir / begun[0]).is_file() else None
        entry = LedgerEntry(
            sha256=sha,
            uploaded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            annotation=_relative(source_file, self.output_dir),
            copy=kept or self._keep_copy(item, annotation, sha),
            instances=len(annotation.get("instances") or []),
            url=_recorded(url),
            audio=audio,
        )
        record["items"][item] = {k: v for k, v in entry.__dict__.items() if v is not None or k != "audio"}
        record.get(PENDING, {}).pop(item, None)

    def gave(self, target: str, items: list[str], status: str) -> None:
        """Records the status this folder gave the items it just uploaded (call `save` to persist)."""
        recorded = self.data["targets"].get(target, {}).get("items", {})
        for item in items:
            if item in recorded:
                recorded[item]["status"] = status

    def _keep_copy(self, item: str, annotation: dict, sha: str) -> str:
        """Writes the copy of an upload (its name is its content's hash); returns its relative path."""
        copy_path = Path(COPIES_DIR) / item / f"{sha[:16]}.json"
        write_text_atomic(self.output_dir / copy_path, json.dumps(annotation, ensure_ascii=False, indent=2) + "\n")
        return copy_path.as_posix()

    def save(self) -> None:
        """Writes the ledger atomically (a broken original is first kept as `uploads.json.invalid-<time>`)."""
        if self._original is not None:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            with atomic_writer(self.output_dir / f"{LEDGER_FILE}.invalid-{stamp}", binary=True) as f:
                f.write(self._original)
            self._original = None
        write_json_atomic(self.path, self.data)


def _empty() -> dict[str, Any]:
    return {"format": FORMAT, "targets": {}}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_FIELD_TYPES = {"sha256": str, "uploaded_at": str, "annotation": str, "copy": str, "instances": int}


def _sanitized(data: Any) -> tuple[dict[str, Any], list[str]]:
    """The ledger's well-typed part, and one line per part dropped."""
    if not isinstance(data, dict):
        what = "not valid JSON" if data is None else f"a JSON {type(data).__name__}, not an object"
        return _empty(), [f"is {what}; a new ledger is started"]
    problems = [] if data.get("format") == FORMAT else [f"format is {data.get('format')!r}, not {FORMAT}"]
    targets = data.get("targets")
    if not isinstance(targets, dict):
        return _empty(), [*problems, f"targets is {_kind(targets)}, not an object; a new ledger is started"]
    kept: dict[str, Any] = {}
    for key, target in targets.items():
        if not isinstance(target, dict):
            problems.append(f"target {key!r} is {_kind(target)}, not an object; its records are dropped")
            continue
        kept[key] = {**target, "items": _items(key, target.get("items"), problems)}
        if PENDING in target:
            kept[key][PENDING] = _pending(key, target[PENDING], problems)
    return {"format": FORMAT, "targets": kept}, problems


def _items(target: str, items: Any, problems: list[str]) -> dict[str, Any]:
    if not isinstance(items, dict):
        problems.append(f"target {target!r}: items is {_kind(items)}, not an object; its records are dropped")
        return {}
    kept = {}
    for name, entry in items.items():
        why = _entry_problem(entry)
        if why:
            problems.append(f"item {name!r} (target {target!r}): {why}; ignored, recorded anew at its next upload")
        else:
            kept[name] = {k: entry[k] for k in _FIELD_TYPES}
            for optional in ("url", "status", "audio"):  # ledgers before them lack them
                if isinstance(entry.get(optional), str):
                    kept[name][optional] = entry[optional]
    return kept


def _pending(target: str, pending: Any, problems: list[str]) -> dict[str, Any]:
    """The well-typed unconfirmed uploads; a broken one is dropped (its item is then judged without it)."""
    if not isinstance(pending, dict):
        problems.append(f"target {target!r}: pending is {_kind(pending)}, not an object; dropped")
        return {}
    kept = {}
    for name, entries in pending.items():
        sound = [_pending_entry(e) for e in entries] if isinstance(entries, list) else [None]
        if None in sound:
            problems.append(f"unconfirmed upload of {name!r} (target {target!r}) is malformed; dropped")
        if good := [e for e in sound if e is not None]:
            kept[name] = good
    return kept


def _pending_entry(entry: Any) -> dict[str, Any] | None:
    """The entry's well-typed fields, or None when one is missing or of the wrong type."""
    if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("sha256", "copy")):
        return None
    url = entry.get("url")
    return (
        {"sha256": entry["sha256"], "copy": entry["copy"], "url": url} if url is None or isinstance(url, str) else None
    )


def _entry_problem(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return f"the entry is {_kind(entry)}, not an object"
    wrong = [k for k, t in _FIELD_TYPES.items() if not isinstance(entry.get(k), t) or isinstance(entry.get(k), bool)]
    return f"{', '.join(wrong)} missing or of the wrong type" if wrong else None


def _kind(value: Any) -> str:
    return "missing" if value is None else f"a {type(value).__name__}"


def _recorded(url: str | None) -> str | None:
    """The URL as recorded: a signed URL's signature masked (URLs are compared without their query)."""
    return redact(url) if url else url


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
