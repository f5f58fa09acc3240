"""The check stage's stored words (`checks/<item>.json`): what the chunk stage and `calibrate` read back.

The check stage (`run.check`) writes them; they are read below the orchestrator and the correction tools, so
that both read a check the same way: only one made under the stage key the chunks were made with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .quality.crosscheck import CheckWord
from .storage import read_json

__all__ = ["check_path", "read_check", "read_checks", "read_checks_by"]


def check_path(output_dir: Path, item: str) -> Path:
    """Where an item's check is stored."""
    return output_dir / "checks" / f"{item}.json"


def read_check(output_dir: Path, item: str, key: str, field: str = "words") -> list[CheckWord] | None:
    """An item's stored check words, made under the stage key `key`.

    Args:
        output_dir: The run's output folder.
        item: The item.
        key: The check stage's key.
        field: `words` for the check model's, `slowed` for the draft model's in the slowed audio.

    Returns:
        None when it has none: no model checks it, its check failed, or the one stored is of other options.
    """
    stored = _stored_check(output_dir, item, key)
    return _check_words(stored.get(field)) if stored is not None else None


def read_checks(output_dir: Path, item: str, key: str) -> tuple[list[CheckWord] | None, list[CheckWord] | None]:
    """An item's check words and slowed words (`read_check` of each), from one read of its file.

    The slowed words come only with the check's: a model fitted with both reads them together.
    """
    check, slowed, _ = read_checks_by(output_dir, item, key)
    return check, slowed


def read_checks_by(
    output_dir: Path, item: str, key: str
) -> tuple[list[CheckWord] | None, list[CheckWord] | None, str | None]:
    """`read_checks` with the model that made the check (None without a check), from the same one read."""
    stored = _stored_check(output_dir, item, key)
    check = _check_words(stored.get("words")) if stored is not None else None
    if stored is None or check is None:
        return None, None, None
    model = stored["meta"].get("model")
    return check, _check_words(stored.get("slowed")), model if isinstance(model, str) else None


def _stored_check(output_dir: Path, item: str, key: str) -> dict[str, Any] | None:
    """An item's stored check when it was made under `key`; None when missing, damaged or of other options."""
    stored = read_json(check_path(output_dir, item))
    if not isinstance(stored, dict) or not isinstance(stored.get("meta"), dict):
        return None
    return stored if stored["meta"].get("options_key") == key else None


def _check_words(words: Any) -> list[CheckWord] | None:
    """Stored `[start, end, word]` triples as check words; None when absent or damaged."""
    if not isinstance(words, list):
        return None
    try:
        return [CheckWord(float(s), float(e), str(w)) for s, e, w in words]
    except (TypeError, ValueError):
        return None  # a damaged check: the chunks are assessed without it
