"""The CTranslate2 model folder faster-whisper loads, found, downloaded or joined from bundled parts."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from faster_whisper.utils import _MODELS, download_model

from ...errors import ModelError, one_line
from ..weights import HASH_CHUNK_BYTES, STALE_TMP_S, ModelSource, cache_dir, cache_write_error, source_key

if TYPE_CHECKING:
    from ..model import PreparedModel

# Files faster-whisper reads from a model folder besides model.bin (tokenizer.json: else it downloads one).
MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "vocabulary.json", "preprocessor_config.json")


def model_folder(prepared: PreparedModel) -> tuple[str, str, str]:
    """Finds or builds the CTranslate2 folder faster-whisper loads for a prepared model.

    Returns:
        The folder, the weights' id (the same sha256 the openai-whisper engine reports for CTranslate2
        weights) and a one-line description.

    Raises:
        ModelError: The name is an openai-whisper checkpoint, unknown, or cannot be downloaded or read.
    """
    source, options = prepared.source, prepared.options
    if source.kind == "checkpoint":
        raise ModelError(
            f"{options.name}: faster-whisper runs CTranslate2 models, not openai-whisper .pt checkpoints; use "
            "model.engine: openai-whisper, a CTranslate2 folder, an official name or bundled:base / bundled:tiny.en"
        )
    if source.kind == "official":
        return _download(source.location, options.download_root)
    key = source_key(source)
    folder = Path(source.config).parent
    if len(source.parts) > 1 or Path(source.parts[0]).parent != folder:
        folder = _joined_folder(source, key)
    if not (folder / "tokenizer.json").is_file():
        raise ModelError(f"{folder}: faster-whisper needs tokenizer.json beside model.bin (else it downloads one)")
    return str(folder), f"sha256:{key}", source.description


def _download(name: str, download_root: str | None) -> tuple[str, str, str]:
    repo = _MODELS.get(name)
    if repo is None:
        raise ModelError(f"faster-whisper knows no CTranslate2 conversion of {name!r}; known: {', '.join(_MODELS)}")
    try:
        folder = download_model(name, cache_dir=download_root or None)
    except Exception as e:  # huggingface_hub raises many types (offline, HTTP, disk)
        raise ModelError(
            f"downloading {repo} (the CTranslate2 conversion of {name!r}) failed ({one_line(e)}); "
            "with no internet use the offline weights: model.name 'bundled:base' or 'bundled:tiny.en'"
        ) from e
    return folder, f"hf:{repo}@{Path(folder).name}", f"{repo} (CTranslate2, downloaded once to the Hugging Face cache)"


def _joined_folder(source: ModelSource, key: str) -> Path:
    """Returns a cached folder with `model.bin` joined from its parts, built once and renamed into place."""
    target = cache_dir() / "faster-whisper" / key
    if (target / "model.bin").is_file():
        return target
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        for stale in target.parent.glob("*.tmp"):  # left by a killed build
            with contextlib.suppress(OSError):  # another process may be renaming or removing it
                if time.time() - stale.stat().st_mtime > STALE_TMP_S:
                    shutil.rmtree(stale)
        # Made as mkdir makes folders, 0777 less the umask: mkdtemp's 0700 would hide a team's shared cache.
        tmp = target.parent / f"{key}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
        os.mkdir(tmp, 0o777)
        with open(tmp / "model.bin", "wb") as out:
            for part in source.parts:
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, HASH_CHUNK_BYTES)
            out.flush()
            os.fsync(out.fileno())
        for name in MODEL_FILES:
            if (src := Path(source.config).parent / name).is_file():
                _link_or_copy(src, tmp / name)
        os.rename(tmp, target)  # atomic: the folder appears complete or not at all
    except OSError as e:
        if not (target / "model.bin").is_file():  # else another process built it meanwhile: use theirs
            raise cache_write_error(f"the faster-whisper model folder {target}", e) from e
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)  # no copy when the cache shares the packages' file system
    except OSError:
        shutil.copyfile(src, dst)
