"""The fields of pulled.json and their types, checked when it is read back: it may have been edited or damaged.

`checked` raises ValueError naming the first field that is missing or of another type, e.g.
`items[3].problem is an integer (3), not a string or null`; `PullReport.from_dict` names the file.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable
from typing import Any

_TEXT_OR_NULL = (str, type(None))
# Every field of the index is required; of an item, only `item` (the others have defaults).
INDEX_TYPES: dict[str, tuple[type, ...]] = {
    "project": (str,), "target": (str,), "statuses": (list,), "pulled_at": (str,), "items": (list,)
}  # fmt: skip
ITEM_TYPES: dict[str, tuple[type, ...]] = {
    "item": (str,), "status": _TEXT_OR_NULL, "file": _TEXT_OR_NULL, "problem": _TEXT_OR_NULL, "selected": (bool,),
    "sha256": _TEXT_OR_NULL,
}  # fmt: skip
_KINDS = {
    str: "a string",
    int: "an integer",
    list: "a list",
    dict: "an object",
    bool: "true or false",
    type(None): "null",
}


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
