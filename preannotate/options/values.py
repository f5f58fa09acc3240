"""Values to the options' declared types: from YAML or Python (`coerce`) and from command-line text (`parse_text`).

Typing follows the option, not the text's look: `2024-01-01` stays a string for a `str` option,
`0.3` becomes a float for a `float` one. On the command line `null` (any case) or an empty value
means None for an option that accepts None; nothing else does (`~` is a path, the home folder).
Text wrapped in matching quotes (`'...'` or `"..."`, as YAML writes them) is taken as written, without
the quotes: `''` is empty text, `'null'` the word.

A float must be finite, whatever the option: run.json and the journal are JSON, where `Infinity` and `NaN`
are not numbers, and no option means either (null is there for "no limit"); ranges are the options' own checks.
"""

from __future__ import annotations

import datetime
import math
import types
import typing
from typing import Any, Literal

from ..errors import ConfigError

NULL_TEXTS = ("", "null")
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def parse_text(hint: Any, raw: str, key: str) -> Any:
    """Converts command-line text to an option's type, or raises ConfigError naming the key.

    Args:
        hint: The option's annotated type.
        raw: The text as typed (`--set key=raw`, `-p name raw`).
        key: The dotted key, for messages.
    """
    quoted = _unquoted(raw)
    if quoted is not None:
        return coerce(hint, quoted, key)
    if _accepts_none(hint) and raw.strip().lower() in NULL_TEXTS:
        return None
    if typing.get_origin(_without_none(hint)) is tuple:
        text = raw.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        items = [item.strip().strip("'\"") for item in text.split(",")] if text.strip() else []
        return coerce(_without_none(hint), items, key)
    return coerce(hint, raw, key)


def _unquoted(raw: str) -> str | None:
    """The text inside matching quotes, or None when `raw` is not quoted."""
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return None


def coerce(hint: Any, value: Any, key: str) -> Any:
    """Converts a YAML or Python value to the annotated type, or raises ConfigError naming the key.

    Text given for a number or a boolean is read as one (`"0.3"`, `"true"`): notebooks and
    batches pass values as their callers typed them. A YAML date is taken as the text it was.
    """
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        if _accepts_none(hint) and len(args) == 2:  # `x | None`: x's own message (`inf is not finite`) is clearer
            return coerce(_without_none(hint), value, key)
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(arg, value, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: {value!r} is not a valid {describe(hint)}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if origin is tuple:
        items = value if isinstance(value, (list, tuple)) else [value]
        return tuple(coerce(args[0], v, key) for v in items)
    return _scalar(hint, value, key)


def _scalar(hint: type, value: Any, key: str) -> Any:
    given = value
    if isinstance(value, str) and hint is not str:
        value = _from_text(hint, value)
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _finite(value, key, given)
    elif hint is str:
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            return value.isoformat()  # YAML reads an unquoted 2024-01-01 as a date
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, bool):  # YAML 1.1 reads `language: no` (Norwegian) as false: say so, quoting is the fix
            raise ConfigError(
                f"{key}: {value!r} is not a valid str (YAML reads an unquoted yes, no, on, off, true or false"
                " as a boolean: quote the text, e.g. 'no')"
            )
    else:  # pragma: no cover - a programming error in the options
        raise TypeError(f"unsupported option type {hint!r} for {key}")
    raise ConfigError(f"{key}: {value!r} is not a valid {describe(hint)}")


def _finite(value: float, key: str, given: Any) -> float:
    """`value` as a float unless it is infinite or NaN (`inf`, `1e400`, YAML's `.inf`), which no option means.

    Args:
        value: An int or float.
        key: The dotted key, for messages.
        given: The value as given (text is quoted in the message).
    """
    try:
        number = float(value)
    except OverflowError:  # an int beyond a float's range
        number = math.inf
    if not math.isfinite(number):
        shown = repr(given) if isinstance(given, str) else f"{number:g}"
        raise ConfigError(f"{key}: {shown} is not a finite number")
    return number


def _from_text(hint: type, text: str) -> Any:
    """The number or boolean a text spells for `hint`; the text itself when it spells none."""
    cleaned = text.strip().lower()
    try:
        if hint is bool:
            return True if cleaned in _TRUE else False if cleaned in _FALSE else text
        if hint is int:
            return int(cleaned)
        if hint is float:
            return float(cleaned)
    except ValueError:
        pass
    return text


def _accepts_none(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)


def _without_none(hint: Any) -> Any:
    if not _accepts_none(hint):
        return hint
    rest = [a for a in typing.get_args(hint) if a is not type(None)]
    return rest[0] if len(rest) == 1 else hint


def describe(hint: Any) -> str:
    """A type's name as messages show it."""
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
