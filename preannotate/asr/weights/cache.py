"""The cache of weights made from other weights: CTranslate2 models converted to openai-whisper checkpoints."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ...errors import ModelError, OutputWriteError, one_line
from ...storage import FULL_ERRNOS, atomic_writer, remove_stale_temps
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
    """Writes the checkpoint atomically: a killed write never leaves a partial cache file.

    Raises:
        ModelError: The cache cannot be written (read-only, full disk): nothing was processed yet, so a
            ModelError (exit code 2) rather than a DiskFullError, which stops a run after work began.
    """
    import torch

    try:
        if target.parent.is_dir():  # conversions in other processes may still be writing younger ones
            remove_stale_temps(target.parent, older_than=STALE_TMP_S)
        with atomic_writer(target, binary=True) as f:
            torch.save(checkpoint, f)
    except (OSError, OutputWriteError, RuntimeError) as e:
        # torch.save turns a failed write (a full disk) into a RuntimeError raised while handling the OSError.
        cause = e.__context__ if isinstance(e, RuntimeError) else e
        if isinstance(cause, OutputWriteError) and isinstance(cause.__cause__, OSError):
            cause = cause.__cause__  # its own message speaks of a run's output files
        if not isinstance(cause, (OSError, OutputWriteError)):
            raise  # not a failed write
        raise cache_write_error(f"the model cache file {target}", cause) from e


def cache_write_error(what: str, error: BaseException) -> ModelError:
    """The ModelError for a cache write that failed (exit code 2: no file was processed yet), with the remedy."""
    if getattr(error, "errno", None) in FULL_ERRNOS:
        problem, remedy = "the disk is full", "free some space there, or set PREANNOTATE_CACHE to a folder with room"
    else:
        problem, remedy = one_line(error), "set PREANNOTATE_CACHE to a writable folder"
    return ModelError(f"cannot write {what} ({problem}); {remedy}")
