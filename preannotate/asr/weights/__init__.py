"""The weights a model name refers to: resolving names, identifying weights, picking the device, the cache.

Nothing here loads a model or imports torch: engines load what `resolve_model` found, on the device
`pick_device` chose; CTranslate2 weights are converted for openai-whisper by `ct2convert`, cached.
"""

from .cache import STALE_TMP_S, cache_dir, cache_write_error, converted_checkpoint
from .device import ctranslate2_sees_cuda, pick_device, torch_sees_cuda
from .identity import HASH_CHUNK_BYTES, model_identity, sha256_files, source_key, weights_identity
from .sources import (
    BUNDLED,
    BUNDLED_PREFIX,
    UNAVAILABLE_BUNDLED,
    ModelKind,
    ModelSource,
    bundled_packages,
    official_names,
    resolve_model,
)

__all__ = [
    "BUNDLED",
    "BUNDLED_PREFIX",
    "HASH_CHUNK_BYTES",
    "STALE_TMP_S",
    "UNAVAILABLE_BUNDLED",
    "ModelKind",
    "ModelSource",
    "bundled_packages",
    "cache_dir",
    "cache_write_error",
    "converted_checkpoint",
    "ctranslate2_sees_cuda",
    "model_identity",
    "official_names",
    "pick_device",
    "resolve_model",
    "sha256_files",
    "source_key",
    "torch_sees_cuda",
    "weights_identity",
]
