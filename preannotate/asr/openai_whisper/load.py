"""Loading weights into openai-whisper: official downloads, `.pt` checkpoints, converted CTranslate2 weights.

Every kind ends as an openai-whisper `Whisper` in eval mode, with the right alignment heads for word
timestamps. CTranslate2 weights (the bundled weights are such) are converted once and cached.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import http.client
import pickle
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import whisper

from ...errors import ModelError, one_line
from ..weights import ModelSource, converted_checkpoint, sha256_files, source_key

if TYPE_CHECKING:
    from ..model import PreparedModel

DOWNLOAD_TIMEOUT_S = 30.0  # per socket operation: a dead network fails in seconds, not minutes


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A ready model and what identifies it.

    Attributes:
        model: openai-whisper's `Whisper`, in eval mode on `device`.
        name: The model name as configured.
        device: `cpu` or `cuda`.
        is_multilingual: False for English-only (`.en`) models.
        model_id: Identifies the exact weights (a sha256), for resume fingerprints.
        versions: openai-whisper and torch versions.
        source: What the name resolved to.
    """

    model: whisper.Whisper
    name: str
    device: str
    is_multilingual: bool
    model_id: str
    versions: dict[str, str] = field(default_factory=dict)
    source: ModelSource | None = None


def load_model(prepared: PreparedModel) -> LoadedModel:
    """Loads the prepared model into openai-whisper, converting and caching CTranslate2 weights on first use.

    Returns:
        The model in eval mode on the prepared device, with the name, device, weights id and versions.

    Raises:
        ModelError: The model cannot be downloaded, converted or loaded.
    """
    source, device = prepared.source, prepared.device
    if source.kind == "official":
        model, model_id = _load_official(source.location, device, prepared.options.download_root)
    elif source.kind == "checkpoint":
        model, model_id = _load_checkpoint(Path(source.location), device), f"sha256:{sha256_files([source.location])}"
    else:
        model, model_id = _load_ctranslate2(source, device)
    return LoadedModel(
        model=model.eval(),
        name=prepared.options.name,
        device=device,
        is_multilingual=bool(model.is_multilingual),
        model_id=model_id,
        versions={"openai-whisper": whisper.__version__, "torch": torch.__version__},
        source=source,
    )


def _load_official(name: str, device: str, download_root: str | None) -> tuple[whisper.Whisper, str]:
    # whisper's _download calls urlopen without a timeout; a temporary default makes a dead network fail fast.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        model = whisper.load_model(name, device=device, download_root=download_root or None)
    except (OSError, http.client.HTTPException) as e:
        raise ModelError(
            f"downloading the official Whisper model {name!r} failed ({one_line(e)}); with no internet use the offline "
            f"weights: model.name 'bundled:base' or 'bundled:tiny.en'"
        ) from e
    except Exception as e:  # checksum mismatch (RuntimeError) or anything else torch raises on load
        raise ModelError(f"loading the official Whisper model {name!r} failed: {one_line(e)}") from e
    finally:
        socket.setdefaulttimeout(previous)
    # The download URL holds the checkpoint's sha256, which whisper has just verified.
    url = getattr(whisper, "_MODELS", {}).get(name, "")
    return model, (f"sha256:{url.split('/')[-2]}" if url.count("/") >= 2 else f"openai:{name}")


def _load_checkpoint(path: Path, device: str) -> whisper.Whisper:
    """Loads an openai-whisper checkpoint as `whisper.load_model(path)` does, plus its `alignment_heads`."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a truncated or foreign file (IndexError, KeyError...)
        raise ModelError(f"{path}: not a loadable openai-whisper checkpoint: {_checkpoint_problem(path, e)}") from e
    try:
        dims = whisper.ModelDimensions(**checkpoint["dims"])
        model = whisper.Whisper(dims)
        model.load_state_dict(checkpoint["model_state_dict"])
    except Exception as e:  # a torch file of something else: its keys or shapes are not Whisper's
        raise ModelError(f"{path}: not an openai-whisper checkpoint: {one_line(e)}") from e
    if checkpoint.get("alignment_heads"):
        set_alignment_heads(model, checkpoint["alignment_heads"], str(path))
    return model.to(device)


def _checkpoint_problem(path: Path, error: Exception) -> str:
    """What is wrong with a checkpoint torch cannot load, in one line (torch's own messages run to several)."""
    with contextlib.suppress(OSError):
        if path.stat().st_size == 0:
            return "the file is empty"
    if isinstance(error, pickle.UnpicklingError):  # torch's text urges weights_only=False: never here
        return "damaged, not a torch file, or holding more than tensors and plain data (torch.load weights_only)"
    return f"damaged or not a torch file ({one_line(error)})"


def set_alignment_heads(model: whisper.Whisper, heads: list[list[int]], label: str = "model") -> None:
    """Sets the cross-attention heads used for word timestamps, given as `[layer, head]` pairs.

    Raises:
        ModelError: A pair is outside the decoder's layers and heads.
    """
    mask = np.zeros((model.dims.n_text_layer, model.dims.n_text_head), dtype=bool)
    try:
        for layer, head in heads:
            if layer < 0 or head < 0:
                raise IndexError(f"negative index in {[layer, head]}")
            mask[layer, head] = True
    except (IndexError, TypeError, ValueError) as e:
        raise ModelError(f"{label}: bad alignment heads {heads!r} for {mask.shape} decoder heads: {e}") from e
    # set_alignment_heads takes the same gzip+base85 dump as whisper's own table.
    model.set_alignment_heads(base64.b85encode(gzip.compress(mask.tobytes())))


def _load_ctranslate2(source: ModelSource, device: str) -> tuple[whisper.Whisper, str]:
    key = source_key(source)
    checkpoint = converted_checkpoint(source, key)
    try:
        return _load_checkpoint(checkpoint, device), f"sha256:{key}"
    except ModelError:  # a corrupt cache file (full disk, foreign write): convert again
        return _load_checkpoint(converted_checkpoint(source, key, refresh=True), device), f"sha256:{key}"
