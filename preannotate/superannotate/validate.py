"""Checking an annotation against SuperAnnotate's Video rules before it is sent.

The SDK validates nothing locally for Video projects: a bad annotation only comes back as a
`failed` name, without a reason. Checking here gives the reason, and keeps such items out of
the retries meant for transient failures.
"""

from __future__ import annotations

from typing import Any, TypeGuard


def class_index(classes: list[dict]) -> dict[str, dict[str, set[str] | None]]:
    """Class name -> attribute group name -> allowed attribute names (None: free text)."""
    index: dict[str, dict[str, set[str] | None]] = {}
    for cls in classes:
        groups: dict[str, set[str] | None] = {}
        for group in cls.get("attribute_groups") or []:
            names = {a["name"] for a in group.get("attributes") or []}
            groups[group["name"]] = names if group.get("group_type") != "text" and names else None
        index[cls["name"]] = groups
    return index


def annotation_problems(annotation: Any, item: str, classes: dict[str, dict[str, set[str] | None]]) -> list[str]:
    """What SuperAnnotate would reject in a Video annotation of `item`; empty when it is fine.

    Args:
        annotation: The parsed `<item>.json`.
        item: The item's name in the project.
        classes: The project's classes, as `class_index` builds them.
    """
    if not isinstance(annotation, dict) or not isinstance(annotation.get("metadata"), dict):
        return ["not an annotation object with metadata"]
    metadata = annotation["metadata"]
    problems = []
    if metadata.get("name") != item:
        problems.append(f"metadata.name is {metadata.get('name')!r}, not the item name {item!r}")
    if metadata.get("duration") is not None and not _is_int(metadata["duration"]):
        problems.append("metadata.duration must be integer microseconds")
    instances = annotation.get("instances")
    if not isinstance(instances, list):
        return [*problems, "instances must be a list"]
    for n, instance in enumerate(instances):
        problems.extend(f"instances[{n}]: {p}" for p in _instance_problems(instance, classes))
    return problems


def _instance_problems(instance: Any, classes: dict[str, dict[str, set[str] | None]]) -> list[str]:
    meta = instance.get("meta") if isinstance(instance, dict) else None
    if not isinstance(meta, dict) or meta.get("type") != "event":
        return ["meta.type must be 'event'"]
    class_name = meta.get("className")
    # A non-string name (even an unhashable one, from a hand-edited file) is simply not a class.
    groups = classes.get(class_name) if isinstance(class_name, str) else None
    if groups is None:
        return [f"class {meta.get('className')!r} is not one of {sorted(classes)}"]
    if not _span(meta, 0, None):
        return ["meta.start and meta.end must be integer microseconds with start <= end"]
    parameters = instance.get("parameters")
    if not isinstance(parameters, list) or not parameters:
        return ["an event needs at least one parameter"]
    problems = []
    for parameter in parameters:
        problems.extend(_parameter_problems(parameter, meta, groups))
    return problems


def _parameter_problems(parameter: Any, meta: dict, groups: dict[str, set[str] | None]) -> list[str]:
    timestamps = parameter.get("timestamps") if isinstance(parameter, dict) else None
    if not isinstance(timestamps, list) or len(timestamps) < 2:
        return ["a parameter needs at least two timestamps (start and end)"]
    if not _span(parameter, meta["start"], meta["end"]):
        return ["parameter start/end must be integer microseconds inside the event"]
    problems = []
    for stamp in timestamps:
        value = stamp.get("timestamp") if isinstance(stamp, dict) else None
        if not _is_int(value) or not parameter["start"] <= value <= parameter["end"]:
            problems.append(f"timestamp {value!r} is not integer microseconds inside its parameter")
            continue
        problems.extend(_attribute_problems(stamp.get("attributes") or [], groups))
    return problems


def _attribute_problems(attributes: list, groups: dict[str, set[str] | None]) -> list[str]:
    problems = []
    for attribute in attributes:
        group, name = attribute.get("groupName"), attribute.get("name")
        if not (isinstance(group, str) and group and isinstance(name, str) and name):
            problems.append("attribute groupName and name must be non-empty strings")
        elif group not in groups:
            problems.append(f"attribute group {group!r} is not in the class")
        elif (allowed := groups[group]) is not None and name not in allowed:
            problems.append(f"{name!r} is not a value of attribute group {group!r}")
    return problems


def _span(span: dict, low: int, high: int | None) -> bool:
    start, end = span.get("start"), span.get("end")
    if not _is_int(start) or not _is_int(end):
        return False
    return low <= start <= end and (high is None or end <= high)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def annotation_essentials(annotation: Any) -> list | None:
    """What an annotation says, without the stamps SDK and platform add (lastAction, creationType, ids).

    Per event: class, start, end, and per parameter its span and the (group, value) pairs at each
    timestamp. Two annotations with equal essentials show annotators the same thing.
    """
    if not isinstance(annotation, dict) or not isinstance(annotation.get("instances"), list):
        return None
    events = []
    for instance in annotation["instances"]:
        meta = instance.get("meta") or {}
        parameters = [
            (p.get("start"), p.get("end"), [_stamp(t) for t in p.get("timestamps") or []])
            for p in instance.get("parameters") or []
        ]
        events.append((meta.get("type"), meta.get("className"), meta.get("start"), meta.get("end"), parameters))
    return sorted(events, key=repr)


def _stamp(timestamp: dict) -> tuple:
    pairs = sorted((a.get("groupName"), a.get("name")) for a in timestamp.get("attributes") or [])
    return timestamp.get("timestamp"), pairs
