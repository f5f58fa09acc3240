"""Sending annotations in batches: bulk upload, retries of failed items, read-back, statuses, ledger."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..errors import UploadError
from ..options import SuperAnnotateOptions
from .client import UploadSession
from .guard import is_human_status, read_annotations
from .ledger import Ledger
from .plan import PlannedItem
from .redact import get_logger, redact
from .report import Outcome, UploadReport
from .validate import annotation_essentials

log = get_logger(__name__)

NOT_FOUND = "SuperAnnotate did not find the item"
FAILED_EVERY_TIME = "not uploaded: SuperAnnotate failed on every attempt"
# Failures SuperAnnotate reported item by item: it did not take them. A request that failed as a whole may
# have been taken before its answer was lost, so its items stay unconfirmed (`Ledger.sent`).
NOT_TAKEN = (NOT_FOUND, FAILED_EVERY_TIME)
ROUND_SHARE = 8  # a round of batches holds at least this share of the ledger's items (see `rounds`)


def send_batches(
    session: UploadSession,
    options: SuperAnnotateOptions,
    items: list[PlannedItem],
    ledger: Ledger,
    report: UploadReport,
    notes: dict[str, str] | None = None,
    recheck: Callable[[list[PlannedItem]], list[PlannedItem]] | None = None,
) -> None:
    """Uploads the items batch by batch, recording each success in the ledger and the report.

    Args:
        session: A connected session.
        options: The superannotate section of the configuration.
        items: Items in the project, ready to upload.
        ledger: The upload ledger; saved before every batch (what is being sent) and after it (what was
            confirmed), so an interrupted run resumes with the rest and replaces its own unconfirmed uploads.
        report: Gets one outcome per item.
        notes: Reasons to record with items that succeed (an overwrite of human edits...).
        recheck: Called with each batch just before it is sent; returns the items still to send (it reports
            those it keeps back, whose unconfirmed record in the ledger is dropped).
    """
    notes = notes or {}
    target = report.target or ""
    meta = {"host": session.host, "team_id": session.team_id, "project": options.project}
    # A status people give too (QualityCheck) is vouched for only by the ledger's record that this folder gave
    # it: saved once per round, a stop inside one would leave the round's earlier items kept as human-edited.
    grow = options.keep_status or not is_human_status(options.status)
    for batches in rounds(items, options.batch_size, ledger, grow):
        for p in (p for batch in batches for p in batch):  # recorded before sending: a stop before the
            ledger.begin(target, meta, p.item, p.annotation or {}, p.url)  # confirmation still knows the upload ours
        ledger.save()
        for planned in batches:
            last = planned is batches[-1]  # the ledger is saved as the round ends (see `rounds`)
            batch = recheck(planned) if recheck else planned
            sending = {p.item for p in batch}
            for p in (p for p in planned if p.item not in sending):
                ledger.refused(target, p.item, p.annotation or {})  # begun above, never sent
            outcomes = upload_batch(session, options.project, batch, options.verify_upload) if batch else {}
            for p in batch:
                if outcomes[p.item] is None:
                    ledger.record(target, meta, p.item, p.annotation or {}, p.file, p.url, p.audio)
                elif outcomes[p.item] in NOT_TAKEN:
                    ledger.refused(target, p.item, p.annotation or {})
            if last:
                ledger.save()
            done = [p.item for p in batch if outcomes[p.item] is None]
            if set_status(session, options, done, report):  # recorded: only a status this folder gave is its own
                ledger.gave(target, done, options.status)
                if last:
                    ledger.save()
            for p in batch:
                reason = outcomes[p.item]
                outcome: Outcome = "succeeded" if reason is None else "failed"
                report.add(p.item, p.source, outcome, reason or notes.get(p.item), p.url)


def rounds(items: list[PlannedItem], size: int, ledger: Ledger, grow: bool = True) -> Iterator[list[list[PlannedItem]]]:
    """The items in batches of `size`, and the batches in rounds (ledger saves: before a round, after it).

    A round is one batch while the ledger is small, and grows with it to hold at least 1/ROUND_SHARE of the
    items the ledger records (measured as each round starts). Why: uploads.json is rewritten whole at every
    save, and saving it around every batch of 100 made an upload write entries in proportion to the square of
    its size (16,000 items: 480 saves of a ledger of up to 16,000 entries). In rounds, it writes about 3 *
    (ROUND_SHARE + 1) times the final ledger in all. A stop costs at most one round uploaded again: those items
    stay unconfirmed in the ledger, where the next upload recognises SuperAnnotate's copies as its own (`guard`).
    With `grow` false, every round is one batch.
    """
    start = 0
    while start < len(items):
        count = max(size, ledger.size() // ROUND_SHARE if grow else 0)
        count = -(-count // size) * size  # whole batches
        yield [items[i : i + size] for i in range(start, min(start + count, len(items)), size)]
        start += count


def upload_batch(session: UploadSession, project: str, batch: list[PlannedItem], verify: bool) -> dict[str, str | None]:
    """Uploads a batch, retrying the items SuperAnnotate reports failed; item -> None or failure reason."""
    pending = {p.item: p for p in batch}
    outcome: dict[str, str | None] = {}
    delays = session.policy.delays()
    while pending:
        try:
            result = session.upload(project, [_annotation(p) for p in pending.values()])
        except UploadError as e:
            outcome.update(dict.fromkeys(pending, redact(str(e))))
            break
        done = [n for n in result.get("succeeded", []) if n in pending]
        if verify and done:
            done = _verified(session, project, [pending[n] for n in done])
        for name in done:
            outcome[name] = None
            del pending[name]
        for name in result.get("skipped", []):
            outcome[name] = NOT_FOUND
            pending.pop(name, None)
        if not pending:
            break
        delay = next(delays, None)
        if delay is None:
            outcome.update(dict.fromkeys(pending, FAILED_EVERY_TIME))
            break
        log.warning("%d annotation(s) not uploaded; retrying in %.1f s", len(pending), delay)
        session.policy.sleep(delay)
    return outcome


def _annotation(item: PlannedItem) -> dict:
    """The item's annotation; planning leaves an item uploadable only once its annotation was read."""
    if item.annotation is None:
        raise UploadError(f"{item.file}: no annotation was read, so there is nothing to upload")
    return item.annotation


def _verified(session: UploadSession, project: str, items: list[PlannedItem]) -> list[str]:
    """The items whose annotation SuperAnnotate now holds as sent.

    Why: superannotate 4.6.2 retries a dropped upload with an empty body and still reports the
    items as succeeded; reading them back is the only way to know.
    """
    try:
        held = read_annotations(session, project, [p.item for p in items])  # one without a name is not held
    except UploadError as e:
        log.warning("cannot read uploaded annotations back (%s); uploading them again", e)
        return []
    ok = [p.item for p in items if annotation_essentials(held.get(p.item)) == annotation_essentials(p.annotation)]
    if len(ok) < len(items):
        log.warning("%d annotation(s) reported uploaded are not on SuperAnnotate", len(items) - len(ok))
    return ok


def set_status(session: UploadSession, options: SuperAnnotateOptions, names: list[str], report: UploadReport) -> bool:
    """Gives uploaded items the configured status (unless keep_status); a failure is a warning.

    Returns:
        Whether the items now have that status from this call.
    """
    if options.keep_status or not names:
        return False
    try:
        session.set_status(options.project, options.status, names)
    except UploadError as e:
        report.warnings.append(f"status {options.status} not set on {len(names)} item(s): {e}")
        log.warning("%s", report.warnings[-1])
        return False
    return True
