"""A damaged pulled.json: the pull keeps the original and lists again the corrections still in `corrected/`.

pulled.json proves which files in `corrected/` a pull stored, and keeps listing the correction of an item
SuperAnnotate no longer gives (`pull_gone`). A damaged one (not JSON, a field of the wrong type) can do
neither, and the pull rewrites it. So the pull keeps the original beside it as `pulled.json.invalid-<UTC
time>` with a warning naming the problem, and, for each item it cannot get whose `corrected/<item>.json`
is still that item's annotation (valid JSON naming it in `metadata.name`), lists that file again as
`missing`, with a reason saying it was recovered, its status unknown and its SHA-256 as it is now. No pull
vouches for such a file: should its item come back, the pull keeps it in `corrected-kept/` before
replacing it (`unvouched`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CorrectionInputError, listed
from ..storage import atomic_writer, read_json
from .pull_fields import CORRECTED_DIR, PULLED_FILE, PulledItem, parse_index
from .pull_gone import RECOVERED, gone_reason
from .pull_kept import file_sha256, free_name, kept_folder

log = logging.getLogger(__name__)

_SHOWN = 5  # files named in a warning


@dataclass
class LastPull:
    """What the last pull's index says, or why it cannot say it.

    Attributes:
        items: Its items by name; none without a pulled.json or with a damaged one.
        problem: Why pulled.json is damaged; None when it is sound or absent.
        original: The damaged file's bytes, until `keep_original` keeps them.
    """

    items: dict[str, PulledItem] = field(default_factory=dict)
    problem: str | None = None
    original: bytes | None = None


def read_last_pull(out: Path) -> LastPull:
    """Reads `<out>/pulled.json` for the pull that replaces it: a damaged one is returned, not refused.

    Raises:
        CorrectionInputError: It exists but cannot be read (its content could be neither kept nor checked).
    """
    path = out / PULLED_FILE
    if not (path.exists() or path.is_symlink()):
        return LastPull()  # nothing pulled yet
    try:  # a folder or a dangling link of that name is unreadable too, never "nothing pulled yet"
        original = path.read_bytes()
    except OSError as e:
        raise CorrectionInputError(f"cannot read {path} ({e.strerror or e}): make it readable, or move it aside") from e
    try:
        data = json.loads(original.decode("utf-8"))
    except (ValueError, RecursionError):  # RecursionError: nested too deep for the parser
        data = None  # parse_index: "it is not valid JSON"
    try:
        items = parse_index(data)["items"]
    except ValueError as e:
        return LastPull(problem=str(e), original=original)
    return LastPull({i.item: i for i in items})


def recovered(out: Path, items: Sequence[PulledItem], foreign: Collection[str]) -> dict[str, PulledItem]:
    """Stand-ins for the damaged index's entries: the items this pull cannot get whose file is theirs.

    Each is what `pull_gone.keep_missing` takes for the last pull's entry: the file as it is now, missing
    for the reason this pull gives, plus RECOVERED. The other files of such items stay where they are,
    unlisted, and a warning names them.

    Args:
        out: The run's output folder.
        items: This pull's items.
        foreign: The items whose name the project now gives to someone else's audio.
    """
    found, left = {}, []
    for entry in items:
        reason, path = gone_reason(entry, foreign), out / CORRECTED_DIR / f"{entry.item}.json"
        if reason is None or not (path.exists() or path.is_symlink()):
            continue
        why, sha = _not_recoverable(path, entry.item), file_sha256(path)
        if why is None and sha is not None:
            found[entry.item] = PulledItem(entry.item, file=f"{CORRECTED_DIR}/{path.name}", sha256=sha,
                                           missing=f"{reason}; {RECOVERED}")  # fmt: skip
        else:
            left.append(f"{path.name} ({why or 'cannot be read'})")
    if left:
        log.warning(
            "%s is damaged and %d file(s) in %s/ of items this pull cannot get are not their item's annotation: "
            "left where they are, unlisted: %s", PULLED_FILE, len(left), CORRECTED_DIR, listed(left, _SHOWN),
        )  # fmt: skip
    return found


def _not_recoverable(path: Path, item: str) -> str | None:
    """Why the file cannot stand for the item's correction; None when it can."""
    if path.is_symlink() or not path.is_file():
        return "not a plain file"  # a link may lead out of the run
    data = read_json(path)
    if not isinstance(data, dict):
        return "not a JSON object"
    meta = data.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return None if name == item else f"its metadata.name is {name!r}"


def keep_original(out: Path, last: LastPull, pulled_at: str) -> None:
    """Keeps the damaged pulled.json as `pulled.json.invalid-<UTC time>` before it is first replaced.

    Args:
        out: The run's output folder.
        last: The last pull's index as read; nothing is done unless it was damaged.
        pulled_at: This pull's time (ISO 8601), which names the copy.

    Raises:
        OutputWriteError, DiskFullError: The copy cannot be written (pulled.json is then left as it is).
    """
    if last.original is None:
        return
    copy = free_name(out / f"{PULLED_FILE}.invalid-{kept_folder(out, pulled_at).name}")  # never replaces one
    with atomic_writer(copy, binary=True) as f:
        f.write(last.original)
    last.original = None
    log.warning(
        "%s was damaged (%s): kept as %s; the pull rewrites it and lists again, as missing, the corrections in "
        "%s/ of the items it cannot get", out / PULLED_FILE, last.problem, copy.name, CORRECTED_DIR,
    )  # fmt: skip


def unvouched(last: LastPull) -> list[str]:
    """The items whose file the last pull listed only because it recovered it: no pull stored it as it is."""
    return [name for name, entry in last.items.items() if entry.missing and entry.missing.endswith(RECOVERED)]
