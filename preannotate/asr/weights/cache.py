"""The cache of weights made from other weights: CTranslate2 models converted to openai-whisper checkpoints."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ...errors import DiskFullError, ModelError, OutputWriteError
from ...storage import atomic_writer, remove_stale_temps
from .identity import source_key
from .sources import ModelSource

STALE_TMP_S = 3600.0  # a temp file this old in the cache is left over from a killed conversion


def cache_dir() -> Path:
    """Returns the cache folder: `$PREANNOTATE_CACHE`, else `$XDG_CACHE_HOME/preannotate` or `~/.cache/preannotate`."""
    if os.environ.get("PREANNOTATE_CACHE"):
        return Path(os.environ["PREANNOTATE_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "preannotate"


def converted_checkpoint(source: ModelSource, key: str | None = None, refresh: bool = False) -> Path:
    """Returns the cached openai-whisper checkpoint of CTranslate2 weights, converting them on first use.

    Args:
        source: CTranslate2 weights (a folder or bundled).
        key: `source_key(source)`, when already computed.
        refresh: Convert again, replacing the cached file (found corrupt).

    Raises:
        ModelError: The weights cannot be read or converted, or the cache cannot be written.
    """
    target = cache_dir() / "ctranslate2" / f"{key or source_key(source)}.pt"
    if refresh or not target.is_file():
        from .ct2convert import convert  # numpy and torch: only when a conversion is due

        _save_atomic(convert(source.parts, source.config), target)
    return target


def _save_atomic(checkpoint: dict[str, Any], target: Path) -> None:
    """Writes the checkpoint atomically: a killed write never leaves a partial cache file."""
    import torch

    try:
        if target.parent.is_dir():  # conversions in other processes may still be writing younger ones
            remove_stale_temps(target.parent, older_than=STALE_TMP_S)
        with atomic_writer(target, binary=True) as f:
            torch.save(checkpoint, f)
    except DiskFullError:
        raise  # it says what to do
    except (OSError, OutputWriteError) as e:
        raise ModelError(f"cannot write the model cache file {target}: {e}") from e
