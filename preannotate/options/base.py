"""Shared pieces of the option classes."""

from __future__ import annotations

from ..errors import ConfigError


def check(ok: bool, message: str) -> None:
    """Raises ConfigError with `message` unless `ok`."""
    if not ok:
        raise ConfigError(message)
