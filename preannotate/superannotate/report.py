"""What an upload did, per item: the `upload` section of `run.json`."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from ..journal import read_run
from ..storage import write_json_atomic
from .ledger import LEDGER_FILE
from .redact import redact

Outcome = Literal["succeeded", "failed", "skipped"]
UNCHANGED = "unchanged since the last upload"
DRY_RUN = "dry run"


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class ItemOutcome:
    """What happened to one item."""

    item: str
    source: str
    status: Outcome
    reason: str | None = None
    url: str | None = None


@dataclass
class UploadReport:
    """The outcome of one upload (or dry run).

    Attributes:
        project: The SuperAnnotate project.
        dry_run: True when nothing was sent.
        target: The ledger key (host, team, project), None in a dry run.
        items: One outcome per file of the run.
        created_project: Whether this run created the project.
        created_classes: Classes this run created.
        attached: Items this run attached by URL.
        kept_human_edits: Items people have worked on, left as they are (skipped, not failed).
        overwritten_human_edits: Items people had worked on that were replaced (overwrite_human_edits).
        backups: Where their prior state was saved, relative to the output folder.
        metadata: What was sent besides annotations (counts): priority (the option), priority_scores,
            custom_values (items whose scores / values SuperAnnotate took; in a dry run, would be sent) and
            custom_fields_created; unknown lists the run.json fields some items lacked.
        warnings: Problems that did not fail items (a status that could not be set, a broken ledger entry...).
    """

    project: str
    dry_run: bool
    target: str | None = None
    items: list[ItemOutcome] = field(default_factory=list)
    created_project: bool = False
    created_classes: list[str] = field(default_factory=list)
    attached: list[str] = field(default_factory=list)
    kept_human_edits: list[str] = field(default_factory=list)
    overwritten_human_edits: list[str] = field(default_factory=list)
    backups: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    started_at: str = field(default_factory=utc_now)
    finished_at: str | None = None

    def add(self, item: str, source: str, status: Outcome, reason: str | None = None, url: str | None = None) -> None:
        """Records one item's outcome (a signed URL with its signature masked: the record is kept and shown)."""
        self.items.append(ItemOutcome(item, source, status, reason, redact(url) if url else url))

    def names(self, status: Outcome) -> list[str]:
        """Items with the given outcome."""
        return [i.item for i in self.items if i.status == status]

    @property
    def succeeded(self) -> list[str]:
        """Items that succeeded."""
        return self.names("succeeded")

    @property
    def failed(self) -> list[str]:
        """Items that failed."""
        return self.names("failed")

    @property
    def skipped(self) -> list[str]:
        """Items that were skipped."""
        return self.names("skipped")

    @property
    def no_url(self) -> list[str]:
        """Items that cannot be attached because no URL is known for them."""
        return [i.item for i in self.items if i.reason and "no URL" in i.reason]

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form, as stored under `upload` in run.json."""
        counts = Counter(i.status for i in self.items)
        summary = {k: counts.get(k, 0) for k in ("succeeded", "failed", "skipped")}
        summary.update(unchanged=sum(i.reason == UNCHANGED for i in self.items), no_url=len(self.no_url))
        summary.update(kept_human_edits=len(self.kept_human_edits), overwritten=len(self.overwritten_human_edits))
        data = asdict(self)
        data.update(summary=summary, no_url=self.no_url, ledger=LEDGER_FILE)
        return data

    def summary_line(self) -> str:
        """One line for people: what was uploaded, skipped and failed."""
        d = self.to_dict()["summary"]
        head = "dry run, nothing uploaded" if self.dry_run else f"uploaded {d['succeeded']} to {self.project!r}"
        skipped = f"{d['unchanged']} unchanged"
        if d["kept_human_edits"]:
            skipped += f", kept {d['kept_human_edits']} human-edited"
        parts = [head, f"skipped {d['skipped']} ({skipped})", f"failed {d['failed']}"]
        if d["overwritten"]:
            parts.append(f"overwrote {d['overwritten']} human-edited (backups in {self.backups})")
        if d["no_url"]:
            parts.append(f"{d['no_url']} without URL")
        return ", ".join(parts)

    def table(self) -> str:
        """The items that were not simply uploaded, one line each: item, outcome and reason."""
        rows = [("item", "outcome", "reason")]
        rows += [(i.item, i.status, i.reason or "") for i in self.items if i.status != "succeeded" or i.reason]
        if len(rows) == 1:
            return ""
        widths = [max(len(r[n]) for r in rows) for n in range(2)]
        lines = [f"{r[0].ljust(widths[0])}  {r[1].ljust(widths[1])}  {r[2]}".rstrip() for r in rows]
        return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def write_upload_record(output_dir: str | Path, report: UploadReport) -> Path:
    """Stores the report under `upload` in `<output>/run.json` (atomically; other keys kept).

    Returns:
        The path of run.json.
    """
    path = Path(output_dir) / "run.json"
    data = read_run(output_dir)  # a killed run's run.json is rebuilt first, not overwritten
    if not isinstance(data, dict):
        data = {}
    data["upload"] = report.to_dict()
    write_json_atomic(path, data)
    return path


def recorded_urls(output_dir: str | Path) -> dict[str, str]:
    """The audio URL of each item in the last upload record of run.json (`upload.items`), by item name.

    Read leniently: entries that are not objects with text `item` and `url` are left out, and a run
    never uploaded (or uploaded by other means) gives none.
    """
    data = read_run(output_dir)
    upload = data.get("upload") if isinstance(data, dict) else None
    items = upload.get("items") if isinstance(upload, dict) else None
    if not isinstance(items, list):
        return {}
    return {
        i["item"]: i["url"]
        for i in items
        if isinstance(i, dict) and isinstance(i.get("item"), str) and isinstance(i.get("url"), str) and i["url"]
    }
