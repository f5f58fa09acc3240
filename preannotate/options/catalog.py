"""The options as data: every dotted key with its type, default, help and path rule, read from the fields.

One vocabulary for the command line, `configs/default.yaml`, the notebooks and batches: they all
look options up here by dotted key (`transcribe.beam_size`).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from .base import HELP, PATH


@dataclass(frozen=True)
class OptionInfo:
    """One option (or section) of a run configuration."""

    key: str
    hint: Any
    default: Any
    help: str
    path: str | None = None

    @property
    def is_section(self) -> bool:
        """Whether this is a nested options class rather than a value."""
        return dataclasses.is_dataclass(self.hint)

    @property
    def summary(self) -> str:
        """The help's first sentence: the short help of flags and notebook parameters."""
        return first_sentence(self.help)


def first_sentence(text: str) -> str:
    """Text up to the end of its first sentence (a period, colon-free, followed by a space and a capital)."""
    match = re.search(r"\.\s+(?=[A-Z`(])", text)
    return text[: match.start() + 1] if match else text


def iter_options(cls: Any = None, prefix: str = "") -> Iterator[OptionInfo]:
    """Every option and section under `cls` (RunConfig when None), depth first, in field order."""
    if cls is None:
        from . import RunConfig

        cls = RunConfig
    hints = typing.get_type_hints(cls)
    instance = cls()
    for f in dataclasses.fields(cls):
        info = OptionInfo(f"{prefix}{f.name}", hints[f.name], getattr(instance, f.name), f.metadata.get(HELP, ""),
                          f.metadata.get(PATH))  # fmt: skip
        yield info
        if info.is_section:
            yield from iter_options(info.hint, f"{info.key}.")


def option_info(key: str) -> OptionInfo | None:
    """The option or section with this dotted key; None when there is none."""
    return _by_key().get(key)


def path_options() -> dict[str, str]:
    """Dotted key -> path rule (`always` or `if-exists`) of every option holding a path."""
    return {o.key: o.path for o in _by_key().values() if o.path}


@functools.cache
def _by_key() -> dict[str, OptionInfo]:
    return {o.key: o for o in iter_options()}


def notebook_type(hint: Any) -> str:
    """How a notebook's parameter cell annotates an option of this type.

    papermill reads `Optional[x]`, `list` and plain names, not `x | None`.
    """
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        return f"Optional[{notebook_type(next(a for a in args if a is not type(None)))}]"
    if typing.get_origin(hint) is Literal:
        return type(args[0]).__name__
    if typing.get_origin(hint) is tuple:
        return "list"
    return hint.__name__
