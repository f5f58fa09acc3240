"""Items the ledger records as uploaded unchanged, and whether they are still in the project.

An upload sends nothing for an item whose annotation this folder already uploaded to the project. But the
item may have been removed there since (or the whole project deleted): then "unchanged" would be untrue.
Such an item is uploaded again when its audio moved to a new URL (the README's way to attach new audio:
remove the items, then upload), and otherwise left out with that said, since removing an item is also how
a team takes a recording out of its annotation work (`--force-upload` attaches it again).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UploadError, listed
from ..options import SuperAnnotateOptions
from .client import ListedItem, UploadSession
from .ledger import Ledger
from .plan import PlannedItem
from .redact import get_logger
from .report import UNCHANGED, UploadReport
from .urls import without_query

REMOVED = "no longer in the project (removed there?): not attached again; --force-upload attaches it"
log = get_logger(__name__)


@dataclass
class Unchanged:
    """What the project holds of the items the ledger records as uploaded unchanged.

    Attributes:
        listed: The ones in the project, with their status and URL; None when the listing failed.
        again: Those removed from the project whose audio moved to a new URL: uploaded again.
        removed: Those removed from the project otherwise: left out.
    """

    listed: dict[str, ListedItem] | None
    again: list[PlannedItem]
    removed: list[PlannedItem]


def list_unchanged(
    session: UploadSession, options: SuperAnnotateOptions, unchanged: list[PlannedItem], ledger: Ledger, target: str
) -> Unchanged:
    """Lists the unchanged items in the project (one call per 100 or so) and sorts out those gone from it."""
    if not unchanged:
        return Unchanged({}, [], [])
    try:
        exists = session.find_project(options.project) is not None
        listed = session.listed_items(options.project, [p.item for p in unchanged]) if exists else {}
    except UploadError as e:
        log.warning("listing the unchanged items failed, so they are taken as still in the project: %s", e)
        return Unchanged(None, [], [])
    gone = [p for p in unchanged if p.item not in listed]
    again = [p for p in gone if _moved(p, ledger, target)]
    return Unchanged(listed, again, [p for p in gone if p not in again])


def _moved(planned: PlannedItem, ledger: Ledger, target: str) -> bool:
    entry = ledger.entry(target, planned.item)
    was = entry.url if entry is not None else None
    return bool(planned.url and was and without_query(planned.url) != without_query(was))


def report_unchanged(report: UploadReport, unchanged: list[PlannedItem], found: Unchanged) -> None:
    """Records each unchanged item not uploaded again as skipped: unchanged, or removed from the project."""
    again = {p.item for p in found.again}
    removed = {p.item for p in found.removed}
    for p in unchanged:
        if p.item not in again:
            report.add(p.item, p.source, "skipped", REMOVED if p.item in removed else UNCHANGED, p.url)
    if found.removed:
        names = listed([p.item for p in found.removed])
        report.warnings.append(
            f"{len(found.removed)} item(s) this folder uploaded are no longer in {report.target or 'the project'}: "
            f"not attached again (--force-upload attaches them): {names}"
        )
        log.warning("%s", report.warnings[-1])
    if found.again:
        log.info("%d item(s) removed from the project since their audio moved: attached again", len(found.again))
