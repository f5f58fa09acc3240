"""Corrections of items SuperAnnotate no longer gives: a pull keeps listing the one an earlier pull stored.

An item the annotators corrected may later be deleted from the project or moved out of it (perhaps replaced by
someone else's item of its name, playing other audio: `OTHER_AUDIO`), or SuperAnnotate may answer a download
without its annotation. Its last pulled correction, in `corrected/<item>.json`, is the work `report` and
`export` are for, so a pull keeps listing it in pulled.json with `missing` (why) and `missing_since` (the
first pull that did not find it), and a warning names it. Its status is the one its file
was pulled in (None when no pull recorded it: the file was pulled before a status filter left the item out),
and the status filter applies to it as to any item.

Only a file that is still the one the earlier pull stored (its SHA-256 in pulled.json) is kept listed. One
changed by hand since is moved to `corrected-kept/` (`pull_kept`) and the item is a problem, as one never
pulled is. An item that comes back into the project is pulled as any other. Without a readable last pull
(pulled.json damaged), `pull_recovered` stands in for it.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

from ..errors import listed
from .pull_fields import CORRECTED_DIR, INTERRUPTED, PULLED_FILE, PulledItem
from .pull_kept import file_sha256, keep_changed

log = logging.getLogger(__name__)

NOT_IN_PROJECT = "no longer in the SuperAnnotate project"
NO_ANNOTATION = "SuperAnnotate holds no annotation for it"
OTHER_AUDIO = "the project's item of this name now plays other audio"  # someone else's took the name
STATUS_CHANGED = "its status changed while the pull read it"
# Ends the reason of a file listed again from corrected/ after a damaged index (`pull_recovered`), pull after pull.
RECOVERED = (
    f"recovered from its file in {CORRECTED_DIR}/ as {PULLED_FILE} was damaged; the status it was pulled in is unknown"
)
_GONE = (NOT_IN_PROJECT, NO_ANNOTATION)
_SHOWN = 5  # names listed in a summary line or warning


def keep_missing(
    out: Path,
    items: Sequence[PulledItem],
    last: dict[str, PulledItem],
    statuses: Sequence[str],
    pulled_at: str,
    foreign: Collection[str] = (),
) -> None:
    """Lists again the last pulled correction of each item this pull could not get, when its file is unchanged.

    Args:
        out: The run's output folder.
        items: This pull's items; those it could not get (`gone_reason`) are changed in place.
        last: The last pull's items by name (none when there was no readable pulled.json).
        statuses: This pull's status filter; empty for all.
        pulled_at: This pull's time.
        foreign: The items whose name the project now gives to an item playing other audio (someone else's).
    """
    changed: dict[str, tuple[str, ...]] = {}
    unhashed: list[str] = []  # stored by a pull made before pulls recorded hashes: no proof it is as stored
    for entry in items:
        before, reason = last.get(entry.item), gone_reason(entry, foreign)
        if reason is None or before is None:
            continue  # never stored: nothing to keep, a problem as before
        if before.sha256 is None:
            unhashed += [entry.item] if before.file else []
            continue
        # A stop while the last pull moved files in (INTERRUPTED) leaves each one vouched for by its old hash,
        # or by its download's when it was moved in before the stop.
        ours = before.problem in (None, INTERRUPTED)
        now = file_sha256(out / CORRECTED_DIR / f"{entry.item}.json")
        if ours and now is not None and now in (before.sha256, before.sha256_moving):
            _keep(entry, before, reason, statuses, pulled_at)
            entry.sha256 = now
        else:
            changed[entry.item] = (before.sha256,)
    why = "as SuperAnnotate no longer gives their items and the pull lists them no more"
    keep_changed(out, list(changed), changed, pulled_at, why=why)  # a hand edit: kept, never listed as the pull's
    keep_changed(out, unhashed, {}, pulled_at, why=f"{why} (a pull that recorded no hashes stored them)")
    missing = [i for i in items if i.missing]
    if missing:
        log.warning(
            "%d item(s) SuperAnnotate no longer gives keep the correction an earlier pull stored, listed in "
            "pulled.json as missing: %s", len(missing), named(missing, reason=True),
        )  # fmt: skip


def gone_reason(entry: PulledItem, foreign: Collection[str]) -> str | None:
    """Why this pull cannot get the item's annotation any more; None when it got it or never could.

    Args:
        entry: This pull's entry of the item, before `keep_missing` changes it.
        foreign: The items the project now gives to someone else's audio (their problem says which).
    """
    if entry.item in foreign and entry.problem:
        return f"{OTHER_AUDIO}; {entry.problem}"  # never their annotation in our item's corrected/ file
    if entry.problem in _GONE or (entry.problem or "").startswith(STATUS_CHANGED):
        return entry.problem
    return None


def status_changed(listed: str | None, now: str | None) -> str:
    """The problem of an item whose status moved between the pull's listing and its download's end.

    Args:
        listed: The status the pull listed first.
        now: The status listed again after the download.
    """
    return f"{STATUS_CHANGED} ({listed}, then {now}); the next pull gets it"


def _keep(entry: PulledItem, before: PulledItem, reason: str, statuses: Sequence[str], pulled_at: str) -> None:
    """Turns this pull's problem entry into the last pull's correction, marked missing for `reason`."""
    # The last pull's status is its file's only when it stored or kept the file; one that left it out by
    # status recorded the status of that time, which a file pulled earlier may not have been in.
    known = before.status if before.file is not None or before.missing is not None else None
    # An item still listed in another status (a Completed one reopened): the file's standing is unknown. An item
    # whose status moved while pulled keeps the status its earlier file was pulled in: that file is unchanged.
    if entry.problem == NO_ANNOTATION and entry.status != known:
        known = None
    # A recovered file stays marked so: no pull vouches for it (`pull_recovered.unvouched`).
    recovered = before.missing is not None and before.missing.endswith(RECOVERED)
    entry.missing = f"{reason}; {RECOVERED}" if recovered else reason
    entry.missing_since = before.missing_since or pulled_at
    entry.status, entry.problem, entry.sha256 = known, None, before.sha256
    entry.selected = not statuses or entry.status in statuses
    entry.file = f"{CORRECTED_DIR}/{entry.item}.json" if entry.selected else None


def kept_phrase(items: Iterable[PulledItem]) -> str:
    """`kept 1 from an earlier pull (SuperAnnotate no longer gives it: a.wav), ` for a summary line; empty without."""
    kept = [i for i in items if i.missing and i.file]
    return f"kept {len(kept)} from an earlier pull (SuperAnnotate no longer gives it: {named(kept)}), " if kept else ""


def missing_notes(entry: PulledItem) -> list[str]:
    """The note a report or an export gives an item whose correction is kept from an earlier pull."""
    if not (entry.missing and entry.file):
        return []
    return [f"{entry.missing} since the pull of {entry.missing_since}: its correction from an earlier pull is used"]


def warn_used(items: Iterable[PulledItem], user: str) -> None:
    """Warns that `report` or `export` uses the kept corrections of items SuperAnnotate no longer gives.

    Args:
        items: The pull's items.
        user: What uses them: `comparison`, `export`.
    """
    used = [i for i in items if i.missing and i.file]
    if used:
        log.warning(
            "%d item(s) SuperAnnotate no longer gives: the %s uses the correction an earlier pull stored: %s",
            len(used), user, named(used, reason=True),
        )  # fmt: skip


def named(items: Sequence[PulledItem], reason: bool = False) -> str:
    """The first items' names, each with why and since when it is missing when `reason`, then how many more."""
    return listed([f"{i.item} ({i.missing}, since {i.missing_since})" if reason else i.item for i in items], _SHOWN)
