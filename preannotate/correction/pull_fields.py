"""pulled.json's items and the types of its fields, checked when it is read back: it may have been edited or damaged.

`parse_index` (and `checked` under it) raises ValueError naming the first field that is missing or of another
type, e.g. `items[3].problem is an integer (3), not a string or null`; `PullReport.from_dict` names the file.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..naming import plain_item_problem

CORRECTED_DIR = "corrected"
PULLED_FILE = "pulled.json"
FORMAT = 1
# The problem an interim index gives the items a pull is replacing: a stop leaves each file vouched for by its hash.
INTERRUPTED = "a pull was stopped while it stored this item's annotation: pull again"


@dataclass
class PulledItem:
    """One item's pull.

    Attributes:
        item: The item name.
        status: Its SuperAnnotate status, when it is in the project; for a `missing` item, the status its
            file was pulled in (None when unknown).
        file: The stored annotation, relative to the output folder; None when not pulled.
        problem: Why it was not pulled; None when it was, or when the status filter left it out.
        selected: False when the status filter left it out.
        sha256: The SHA-256 of the file as the pull stored it: what proves, at the next pull, that the file
            in `corrected/` is still the pull's own and not changed by hand since (`pull_kept`).
        missing: Why SuperAnnotate no longer gives the item's annotation (`pull_gone.gone_reason`, followed by
            `pull_gone.RECOVERED` for a file listed again from a damaged index) while the index keeps the
            correction an earlier pull stored; None otherwise.
        missing_since: The time (`pulled_at`) of the first pull that found it missing; None when not `missing`.
        sha256_moving: In the interim index of a pull that is moving its downloads in (`INTERRUPTED` items),
            the SHA-256 of the item's download: a stop leaves some files replaced, and those are the pull's own
            too. None otherwise.
    """

    item: str
    status: str | None = None
    file: str | None = None
    problem: str | None = None
    selected: bool = True
    sha256: str | None = None
    missing: str | None = None
    missing_since: str | None = None
    sha256_moving: str | None = None


_TEXT_OR_NULL = (str, type(None))
# Every field of the index is required; of an item, only `item` (the others have defaults).
INDEX_TYPES: dict[str, tuple[type, ...]] = {
    "project": (str,), "target": (str,), "statuses": (list,), "pulled_at": (str,), "items": (list,)
}  # fmt: skip
ITEM_TYPES: dict[str, tuple[type, ...]] = {
    "item": (str,), "status": _TEXT_OR_NULL, "file": _TEXT_OR_NULL, "problem": _TEXT_OR_NULL, "selected": (bool,),
    "sha256": _TEXT_OR_NULL, "missing": _TEXT_OR_NULL, "missing_since": _TEXT_OR_NULL, "sha256_moving": _TEXT_OR_NULL,
}  # fmt: skip
_KINDS = {
    str: "a string",
    int: "an integer",
    list: "a list",
    dict: "an object",
    bool: "true or false",
    type(None): "null",
}


def parse_index(data: Any) -> dict[str, Any]:
    """pulled.json's fields (those of `PullReport`), each checked, its items read by `read_items`.

    Args:
        data: The parsed JSON; None when the file is not valid JSON.

    Raises:
        ValueError: It is not a pull index of this format (the message names the problem).
    """
    if isinstance(data, dict) and (data.get("format") != FORMAT or isinstance(data["format"], bool)):
        # First: another format's other fields would be reported as wrong types.
        raise ValueError(f"format is {kind(data['format'])}, not {FORMAT}" if "format" in data else "format missing")
    fields = checked(data, INDEX_TYPES, "", required=INDEX_TYPES)
    if not all(isinstance(s, str) for s in fields["statuses"]):
        raise ValueError(f"statuses is {kind(fields['statuses'])}, not a list of strings")
    return {**fields, "items": read_items(fields["items"])}


def read_items(listed: list) -> list[PulledItem]:
    """The items of pulled.json, each checked; an item listed twice is an error (it would count twice).

    Raises:
        ValueError: An item is not an object of the known fields and types, or is listed twice.
    """
    items, seen = [], set()
    for n, data in enumerate(listed):
        where = f"items[{n}]"
        unknown = sorted(set(data) - set(ITEM_TYPES)) if isinstance(data, dict) else []
        if unknown:
            raise ValueError(f"{where} has unknown field(s) {', '.join(map(repr, unknown))}")
        item = PulledItem(**checked(data, ITEM_TYPES, where, required=("item",)))
        if item.item in seen:
            raise ValueError(f"{where}: item {item.item!r} is listed twice")
        if (item.missing is None) != (item.missing_since is None):
            raise ValueError(f"{where}: missing and missing_since go together, one is null and the other not")
        seen.add(item.item)
        items.append(_plain(item))
    return items


def _plain(item: PulledItem) -> PulledItem:
    """The item, or a problem when its name is not plain or its file not its `corrected/<item>.json`.

    pulled.json may have been edited: what it names is read back, so nothing outside the
    output folder may be reached through it.
    """
    problem = plain_item_problem(item.item)
    if not problem and item.file is not None and item.file != f"{CORRECTED_DIR}/{item.item}.json":
        problem = f"its file {item.file!r} is not {CORRECTED_DIR}/{item.item}.json"
    if problem:
        item = PulledItem(item.item, item.status, None, item.problem or f"{PULLED_FILE} {problem}", False, None)
    return item


def checked(data: Any, types: dict[str, tuple[type, ...]], where: str, required: Iterable[str]) -> dict[str, Any]:
    """The fields of an object that `types` names, each checked against its types.

    Args:
        data: The object read.
        types: Field -> the types it may have.
        where: The object's place in the file, e.g. `items[3]`; empty for the whole file.
        required: The fields it must have.

    Raises:
        ValueError: It is not an object, lacks a required field, or a field has another type.
    """
    if data is None and not where:
        raise ValueError("it is not valid JSON")  # what read_json gives for a file that is not JSON
    if not isinstance(data, dict):
        raise ValueError(f"{where or 'it'} is {kind(data)}, not an object")
    missing = [_at(where, key) for key in required if key not in data]
    if missing:
        raise ValueError(f"{', '.join(missing)} missing")
    for key, kinds in types.items():
        value = data.get(key)
        if key in data and not isinstance(value, kinds):
            raise ValueError(f"{_at(where, key)} is {kind(value)}, not {' or '.join(_KINDS[k] for k in kinds)}")
    return {key: data[key] for key in types if key in data}


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def kind(value: Any) -> str:
    """What a JSON value is, for a message: `an integer (3)`, `null`."""
    if value is None:
        return "null"
    return f"{_KINDS.get(type(value), type(value).__name__)} ({reprlib.repr(value)})"
