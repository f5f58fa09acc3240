"""Deciding, offline, what an upload would send: files, annotations, URLs and local problems."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cloud import object_id
from ..errors import StateFileError, UploadInputError
from ..journal import read_run, run_record_problem
from ..naming import plain_item_problem
from ..results import recorded_source
from ..storage import read_json
from .client import ListedItem
from .ledger import annotation_sha256
from .redact import get_logger
from .urls import UrlMap, not_ours, without_query
from .validate import annotation_problems, class_index

ANNOTATIONS_DIR = "superannotate"
TRANSCRIPTS_DIR = "transcripts"
RUN_FILE = "run.json"


@dataclass
class PlannedItem:
    """One file of the run and what becomes of it.

    Attributes:
        item: Item name (the project's item, and `<item>.json`).
        source: Path relative to the input folder.
        file: The annotation file.
        annotation: Its content, when it could be read.
        sha256: Hash of its canonical JSON (see `ledger.annotation_sha256`).
        url: Where the audio lives, when known.
        integration: The SuperAnnotate storage integration to attach it through (None: a plain http(s) URL).
        audio: The identity of the recording the draft was made of (`cloud.object_id` of the source its
            transcript records), when known; read (`recorded_audio`) only for the items an upload sends.
        status: None while the item can be uploaded; `skipped` or `failed` when planning decided.
        reason: Why it is skipped or failed.
    """

    item: str
    source: str
    file: Path
    annotation: dict | None = None
    sha256: str | None = None
    url: str | None = None
    integration: str | None = None
    status: str | None = None
    reason: str | None = None
    audio: str | None = None


def run_files(output_dir: Path, files: Sequence[Any] | None = None) -> list[dict[str, str]]:
    """The run's files as dicts with item, source, status and problem: from `files` or `<output>/run.json`.

    run.json may have been edited: an entry whose item name is not a plain item name (`../..`,
    `a/b`, empty, not a string) keeps its text for reports, gets a `problem`, and no path may be
    built from it; the other entries' `problem` is empty.

    Raises:
        UploadInputError: There is no list of files to upload (an InputError too: nothing was processed).
    """
    if files is None:
        data = read_run(output_dir)  # rebuilt from the journal if the run was killed
        if not isinstance(data, dict) or not isinstance(data.get("files"), list):
            raise UploadInputError(
                f"{output_dir / RUN_FILE} {run_record_problem(output_dir)}: run `preannotate run` first"
            )
        files = data["files"]
    listed = []
    for f in files:
        entry = {k: str(_field(f, k) or "") for k in ("item", "source", "status")}
        problem = plain_item_problem(_field(f, "item"))
        entry["problem"] = f"{RUN_FILE} {problem}" if problem else ""
        listed.append(entry)
    return listed


def _field(entry: Any, name: str) -> Any:
    return entry.get(name) if isinstance(entry, dict) else getattr(entry, name, None)


def group_values(output_dir: Path, files: list[dict[str, str]], group: str | None) -> set[str]:
    """Every value of one attribute group in the run's annotation files (the speakers, for the class).

    Files that cannot be read are passed over: planning reports them.
    """
    values: set[str] = set()
    for f in files if group is not None else []:
        path = output_dir / ANNOTATIONS_DIR / f"{f['item']}.json"
        if f.get("problem") or not f["item"] or not path.is_file():
            continue
        try:
            annotation = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            continue
        values.update(_values(annotation, group))
    return values


def _values(annotation: Any, group: str | None) -> list[str]:
    """The names of `group` at every keyframe; a malformed part yields nothing (validation names it)."""
    found = []
    for instance in _dicts(annotation.get("instances") if isinstance(annotation, dict) else None):
        for parameter in _dicts(instance.get("parameters")):
            for stamp in _dicts(parameter.get("timestamps")):
                found += [a["name"] for a in _dicts(stamp.get("attributes")) if a.get("groupName") == group]
    return [name for name in found if isinstance(name, str)]


def _dicts(value: Any) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def plan_items(output_dir: Path, files: list[dict[str, str]], urls: UrlMap, classes: list[dict]) -> list[PlannedItem]:
    """Reads and checks every file's annotation and finds its URL; nothing touches the network.

    Args:
        output_dir: The run's output folder.
        files: The run's files (see `run_files`).
        urls: Where item audio lives.
        classes: The class definitions the annotations must fit.
    """
    index = class_index(classes)
    planned = []
    for f in files:
        if f.get("problem"):  # no path is built from a name that is not plain: it points at run.json instead
            planned.append(
                PlannedItem(f["item"], f["source"], output_dir / RUN_FILE, status="failed", reason=f["problem"])
            )
            continue
        item = PlannedItem(f["item"], f["source"], output_dir / ANNOTATIONS_DIR / f"{f['item']}.json")
        link = urls.link_for(item.item, item.source)
        item.url, item.integration = (link.url, link.integration) if link else (None, None)
        _load(item, f["status"], index)
        planned.append(item)
    return planned


def recorded_audio(output_dir: Path, item: str) -> str | None:
    """The identity of the recording the item's transcript was made of (None: no transcript, or an old one)."""
    try:
        transcript = read_json(output_dir / TRANSCRIPTS_DIR / f"{item}.json")
    except StateFileError:  # not a file: no identity, as without a transcript
        return None
    return object_id(recorded_source(transcript))


def _load(item: PlannedItem, run_status: str, index: dict) -> None:
    if not item.item:
        item.status, item.reason = "failed", "run.json entry without an item name"
    elif run_status == "failed":
        item.status, item.reason = "skipped", "transcription failed"
    elif not item.file.is_file():
        item.status, item.reason = "skipped", f"no annotation file {ANNOTATIONS_DIR}/{item.item}.json"
    else:
        try:
            item.annotation = json.loads(item.file.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as e:
            item.status, item.reason = "failed", f"cannot read {item.file.name}: {e}"
            return
        problems = annotation_problems(item.annotation, item.item, index)
        if problems:
            more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
            item.status, item.reason = "failed", "invalid annotation: " + "; ".join(problems[:3]) + more
        else:
            item.sha256 = annotation_sha256(item.annotation)


def as_attached(items: list[PlannedItem], present: dict[str, ListedItem]) -> list[PlannedItem]:
    """The items, those already in the project with the URL they play there (SuperAnnotate keeps an item's URL).

    After the audio moved (a new `url_prefix`), an upload sends new drafts to items attached at the old URL;
    recorded with the new one, this folder's own items looked like someone else's to the next upload and
    `pull` (they play a URL none of its records held), which kept them for good and left their corrections out.
    """
    moved = {p.item for p in items if p.item in present and p.url and not_ours([p.url], present[p.item].url)}
    if moved:
        first = sorted(moved)[0]
        get_logger(__name__).warning(
            "%d item(s) already in the project keep the audio they were attached with (%s plays %s): "
            "SuperAnnotate does not change an item's URL; to attach the new audio, remove them there first",
            len(moved), first, without_query(present[first].url or ""),
        )  # fmt: skip
    for p in items:
        if p.item in moved:
            p.url = present[p.item].url
    return items
