"""The rules of /work/shared/notes/superannotate.md for Video/Audio annotation JSON, as a checker for tests.

`video_errors(d, name, items, classes)` is what the loopback server (sa_server.py) refuses in an upload:
the JSON Schema plus references to the project (classes, their attribute groups and the values of
choice groups such as Review and Speaker).
`assert_valid_sa_annotation(d, item_name)` checks one annotation: the JSON Schema
below (shapes, strict integers, non-empty names, at least two timestamps per
parameter) and what a schema cannot say (start < end, timestamps inside their
parameter and event, events inside the duration, the text group at the start and
the end timestamp of an event that has text, metadata.name equal to the item). Use it on every
`superannotate/<item>.json` a test writes.
"""

from __future__ import annotations

from typing import Any

import jsonschema
from jsonschema import Draft202012Validator

MICROSECONDS = {"type": "integer", "minimum": 0}
NAME = {"type": "string", "minLength": 1, "pattern": r"\S"}

ATTRIBUTE = {
    "type": "object",
    "required": ["groupName", "name"],
    "properties": {"groupName": NAME, "name": NAME},
}
TIMESTAMP = {
    "type": "object",
    "required": ["timestamp", "attributes"],
    "properties": {"timestamp": MICROSECONDS, "attributes": {"type": "array", "items": ATTRIBUTE}},
}
PARAMETER = {
    "type": "object",
    "required": ["start", "end", "timestamps"],
    "properties": {
        "start": MICROSECONDS,
        "end": MICROSECONDS,
        "timestamps": {"type": "array", "minItems": 2, "items": TIMESTAMP},
    },
}
INSTANCE = {
    "type": "object",
    "required": ["meta", "parameters"],
    "properties": {
        "meta": {
            "type": "object",
            "required": ["type", "className", "start", "end"],
            "properties": {"type": {"const": "event"}, "className": NAME, "start": MICROSECONDS, "end": MICROSECONDS},
        },
        "parameters": {"type": "array", "minItems": 1, "items": PARAMETER},
    },
}
SA_VIDEO_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "SuperAnnotate Video/Audio annotation of one item",
    "type": "object",
    "required": ["metadata", "instances", "tags"],
    "properties": {
        "metadata": {
            "type": "object",
            "required": ["name", "duration"],
            "properties": {"name": NAME, "duration": MICROSECONDS},
        },
        "instances": {"type": "array", "items": INSTANCE},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}


def _strict_integer(_checker: Any, value: Any) -> bool:
    # JSON Schema counts 1.0 as an integer; SuperAnnotate rejects floats, so only real ints pass.
    return isinstance(value, int) and not isinstance(value, bool)


StrictValidator = jsonschema.validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _strict_integer),
)


def schema_problems(d: Any) -> list[str]:
    """Where `d` breaks SA_VIDEO_SCHEMA (shapes and types only); empty when it fits."""
    errors = sorted(StrictValidator(SA_VIDEO_SCHEMA).iter_errors(d), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]


def sa_problems(d: Any, item_name: str, text_group: str = "Content") -> list[str]:
    """Every rule an annotation breaks; empty when it is valid."""
    problems = schema_problems(d)
    if problems:
        return problems
    if d["metadata"]["name"] != item_name:
        problems.append(f"metadata.name {d['metadata']['name']!r} is not the item name {item_name!r}")
    for n, instance in enumerate(d["instances"]):
        problems.extend(
            f"instances[{n}]: {p}" for p in _instance_problems(instance, d["metadata"]["duration"], text_group)
        )
    return problems


def _instance_problems(instance: dict, duration: int, text_group: str) -> list[str]:
    meta = instance["meta"]
    problems = []
    if not meta["start"] < meta["end"] <= duration:
        problems.append(f"event {meta['start']}..{meta['end']} must have start < end <= duration {duration}")
    for parameter in instance["parameters"]:
        if not meta["start"] <= parameter["start"] < parameter["end"] <= meta["end"]:
            problems.append(f"parameter {parameter['start']}..{parameter['end']} is not a span inside its event")
        stamps = parameter["timestamps"]
        times = [t["timestamp"] for t in stamps]
        if times != sorted(times) or times[0] != parameter["start"] or times[-1] != parameter["end"]:
            problems.append(f"timestamps {times} must be ordered from the parameter's start to its end")
        # An event without any text is valid (SuperAnnotate accepts timestamps without the text attribute):
        # items to transcribe from scratch carry only boundaries. An event with text has it at both edges.
        texts = [[a for a in t["attributes"] if a["groupName"] == text_group] for t in stamps]
        if any(texts):
            for t, found in ((stamps[0], texts[0]), (stamps[-1], texts[-1])):
                if len(found) != 1:
                    problems.append(f"timestamp {t['timestamp']} must carry exactly one {text_group!r} text attribute")
    return problems


def video_errors(annotation: Any, name: str, items: dict, classes: list[dict]) -> list[tuple[str, str]]:
    """What the platform rejects in a Video annotation: ("error", why) or (missing resource kind, name).

    What the loopback server refuses in an upload: shapes and types by SA_VIDEO_SCHEMA, then what refers
    to the project (`items` by name, `classes` with their attribute groups) and how spans nest. Laxer than
    `sa_problems`, which adds the rules this project's exports keep (text at both ends of an event...).
    """
    shape = schema_problems(annotation)
    if shape:
        return [("error", problem) for problem in shape]
    errors = []
    if annotation["metadata"]["name"] != name or name not in items:
        errors.append(("error", "metadata.name must be the name of an item in the folder"))
    by_name = {c["name"]: c for c in classes}
    for instance in annotation["instances"]:
        errors.extend(_instance_errors(instance, by_name))
    return errors


def _instance_errors(instance: dict, classes: dict[str, dict]) -> list[tuple[str, str]]:
    meta = instance["meta"]
    cls = classes.get(meta["className"])
    if cls is None:
        return [("class", meta["className"])]
    if not meta["start"] <= meta["end"]:
        return [("error", "meta.start must not be after meta.end")]
    # Group name -> its values; None for a free-text group (or a choice group without values), which takes any.
    groups = {g["name"]: {a["name"] for a in g.get("attributes") or []} or None for g in cls["attribute_groups"]}
    groups.update({g["name"]: None for g in cls["attribute_groups"] if g.get("group_type") == "text"})
    errors = []
    for parameter in instance["parameters"]:
        errors.extend(_parameter_errors(parameter, (meta["start"], meta["end"]), groups))
    return errors


def _parameter_errors(parameter: dict, bounds: tuple[int, int], groups: dict[str, set | None]) -> list[tuple[str, str]]:
    if not bounds[0] <= parameter["start"] <= parameter["end"] <= bounds[1]:
        return [("error", "a parameter's start/end must lie inside its event")]
    errors = []
    for stamp in parameter["timestamps"]:
        if not parameter["start"] <= stamp["timestamp"] <= parameter["end"]:
            errors.append(("error", "timestamps must lie inside their parameter"))
        errors.extend(_attribute_errors(stamp["attributes"], groups))
    return errors


def _attribute_errors(attributes: list[dict], groups: dict[str, set | None]) -> list[tuple[str, str]]:
    """A group the class lacks, or a value a choice group (single or multiple) does not define."""
    errors = []
    for attribute in attributes:
        group, value = attribute["groupName"], attribute["name"]
        if group not in groups:
            errors.append(("attributeGroup", group))
        elif (values := groups[group]) is not None and value not in values:
            errors.append(("attribute", f"{group}: {value}"))
    return errors


def assert_valid_sa_annotation(d: Any, item_name: str, text_group: str = "Content") -> None:
    """Fails the test, listing every problem, when `d` breaks a SuperAnnotate Video/Audio rule."""
    problems = sa_problems(d, item_name, text_group)
    assert not problems, "invalid SuperAnnotate annotation:\n  " + "\n  ".join(problems)
