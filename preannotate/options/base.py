"""Shared pieces of the option classes: the check helper and the fields that carry their help text.

Each option's help lives once, in its field's metadata (`option(default, help)`); the command line's
flags, the comments of `configs/default.yaml` and the notebooks' parameter comments are made from it
(`tools/gen_option_docs.py`, `make options-docs`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from typing import Any, TypeVar

from ..errors import ConfigError

T = TypeVar("T")
HELP, PATH = "help", "path"
# `path` metadata: relative values are resolved (see config.resolve_paths); IF_EXISTS only when such a path exists.
ALWAYS, IF_EXISTS = "always", "if-exists"


def check(ok: bool, message: str) -> None:
    """Raises ConfigError with `message` unless `ok`."""
    if not ok:
        raise ConfigError(message)


def option(default: T, help: str, *, path: str | None = None) -> T:
    """A dataclass field with its help text (and, for paths, how relative values resolve).

    Args:
        default: The default value (immutable).
        help: What the option does; its first sentence is the short help of flags and notebooks.
        path: ALWAYS for an option holding a path, IF_EXISTS for one that may name a path.
    """
    metadata: dict[str, Any] = {HELP: help}
    if path:
        metadata[PATH] = path
    return field(default=default, metadata=metadata)


def section(factory: Callable[[], T], help: str) -> T:
    """A field holding a nested options class, with its help text."""
    return field(default_factory=factory, metadata={HELP: help})
