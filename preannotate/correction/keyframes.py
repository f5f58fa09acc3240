"""Reading an attribute group's value from an event's keyframes, as the annotator left it.

SuperAnnotate stores an event's attribute values per keyframe (`parameters[].timestamps[]`):
the uploader writes the same values at the start and the end keyframe, and the editor adds
keyframes at the playhead. An annotator's fix can therefore sit at any keyframe while the
others still hold the draft. The rule, the same for every group (text, Review, Review reason,
any group added later):

1. Collect the group's value at each keyframe that carries attributes, with its timestamp.
2. If they all agree, that is the value.
3. Otherwise values that differ from the uploaded (draft) value beat values equal to it, and
   among the remaining values the one at the latest keyframe wins. Without a draft value (an
   event the annotator added, or the draft itself), the latest keyframe wins.

Every disagreement is returned, so callers can count and report it. Pure functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..sa_format import US_PER_SECOND

Value = tuple[str, ...]  # a group's names at one keyframe: one for text and single choice, any for checklists


@dataclass(frozen=True)
class Disagreement:
    """An event whose keyframes hold different values of one attribute group.

    Attributes:
        event: The instance's position in the annotation's instance list.
        group: The attribute group's name.
        values: (timestamp in µs, value) per keyframe, in time order.
        taken: The value used.
        draft: The value uploaded for this event; None when unknown.
    """

    event: int
    group: str
    values: tuple[tuple[int, Value], ...]
    taken: Value
    draft: Value | None

    @property
    def message(self) -> str:
        """One line for people: which event and group, which values, which one was taken and why."""
        seen = ", ".join(f"{_show(v)} at {t / US_PER_SECOND:.3f} s" for t, v in self.values)
        if self.draft is None:
            why = "the latest keyframe; no draft value"
        else:
            changed = {v for _, v in self.values if v != self.draft}
            why = f"changed from the draft {_show(self.draft)}"
            why += "; the latest of the changed values" if len(changed) > 1 else ""
        return f"event {self.event}: {self.group} differs between keyframes ({seen}): took {_show(self.taken)} ({why})"


def keyframe_values(parameters: Any, group: str, multiple: bool = False) -> list[tuple[int, Value]]:
    """The group's value at each keyframe, in time order.

    Keyframes without any attribute carry nothing and are skipped. On the others, a single-valued
    group (text, single choice) counts only where it is set; a multiple-choice group's selection
    counts even when empty, since unticking every box is an edit.

    Args:
        parameters: The instance's `parameters` list.
        group: The attribute group's name.
        multiple: Whether the group holds several values (a checklist): they are sorted.

    Returns:
        (timestamp, value) pairs; a keyframe without an integer timestamp sorts first.
    """
    found: list[tuple[int, Value]] = []
    for stamp in _stamps(parameters):
        attributes = _dicts(stamp.get("attributes"))
        given = [a.get("name") for a in attributes if a.get("groupName") == group]
        names = [n.strip() for n in given if isinstance(n, str) and n.strip()]
        if not attributes or not (names or multiple):
            continue
        time = stamp["timestamp"] if _is_int(stamp.get("timestamp")) else -1
        found.append((time, tuple(sorted(set(names))) if multiple else (names[0],)))
    return sorted(found, key=lambda tv: tv[0])  # stable: same-time keyframes keep their order


def settle(values: Sequence[tuple[int, Value]], draft: Value | None = None) -> Value | None:
    """The value the annotator set, by the module's rule.

    Args:
        values: (timestamp, value) per keyframe, in time order (`keyframe_values`).
        draft: The value uploaded for the event; None when unknown.

    Returns:
        The value; None when no keyframe carries the group.
    """
    if not values:
        return None
    changed = [tv for tv in values if tv[1] != draft]
    pool = changed if draft is not None and changed else values
    return max(enumerate(pool), key=lambda ipair: (ipair[1][0], ipair[0]))[1][1]


def read_group(
    parameters: Any, event: int, group: str, multiple: bool, draft: Value | None
) -> tuple[Value | None, Disagreement | None]:
    """A group's value for one event and, when its keyframes disagree, the disagreement.

    Args:
        parameters: The instance's `parameters` list.
        event: The instance's position in the annotation, for the message.
        group: The attribute group's name.
        multiple: Whether it is a multiple-choice group.
        draft: The value uploaded for this event; None when unknown.

    Returns:
        (value or None, disagreement or None).
    """
    values = keyframe_values(parameters, group, multiple)
    taken = settle(values, draft)
    if taken is None or len({v for _, v in values}) < 2:  # None: no keyframe carries the group
        return taken, None
    return taken, Disagreement(event, group, tuple(values), taken, draft)


def _stamps(parameters: Any) -> list[dict]:
    return [s for p in _dicts(parameters) for s in _dicts(p.get("timestamps"))]


def _dicts(value: Any) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _show(value: Value) -> str:
    return repr(value[0]) if len(value) == 1 else "[" + ", ".join(map(repr, value)) + "]"
