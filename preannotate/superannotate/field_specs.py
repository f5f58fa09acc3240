"""Custom field values checked against the project's own field specs before they are sent.

A project may hold a field of the name already, made by another team or script with a stricter spec than this
tool's (`predicted_wer` with a maximum of 1, `language` from a list). SuperAnnotate refuses an item's values
whole when one of them breaks its field's spec: that item would lose its other fields too. Values that break
the spec are left out alone, each field named in a warning.
"""

from __future__ import annotations

from typing import Any

_BOUNDS = {
    "minimum": lambda v, b: v >= b,
    "maximum": lambda v, b: v <= b,
    "exclusiveMinimum": lambda v, b: v > b,
    "exclusiveMaximum": lambda v, b: v < b,
}


def fits(value: Any, spec: dict[str, Any]) -> bool:
    """Whether a value meets a field's JSON-schema spec: its type, bounds, allowed values and length."""
    if spec.get("type") == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        bounds = [(check, spec[key]) for key, check in _BOUNDS.items() if isinstance(spec.get(key), (int, float))]
        if not all(check(value, bound) for check, bound in bounds):
            return False
    elif spec.get("type") == "string" and (
        not isinstance(value, str) or len(value) > spec.get("maxLength", len(value))
    ):
        return False
    enum = spec.get("enum")
    return not isinstance(enum, list) or value in enum


def within_specs(
    values: list[dict[str, dict]], specs: dict[str, dict[str, Any]]
) -> tuple[list[dict[str, dict]], dict[str, int]]:
    """The values (`{item: {field: value}}` entries) that meet their field's spec, and how many each field lost.

    An item left with no value is left out.
    """
    kept, dropped = [], dict[str, int]()
    for entry in values:
        for item, fields in entry.items():
            good = {name: v for name, v in fields.items() if fits(v, specs.get(name) or {})}
            for name in fields.keys() - good.keys():
                dropped[name] = dropped.get(name, 0) + 1
            if good:
                kept.append({item: good})
    return kept, dropped
