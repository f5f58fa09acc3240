"""What identifies weights: cheaply for resume keys, by content for caches and run records."""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path
from typing import Any

from ...errors import ModelError
from .sources import ModelSource, bundled_packages

HASH_CHUNK_BYTES = 1 << 20  # 1 MiB reads when hashing weights
CONVERTER_VERSION = 1  # part of the cache key: bump when conversion output changes


def weights_identity(source: ModelSource) -> str:
    """Identifies the weights a source resolved to, for resume keys (see `model_identity`)."""
    return model_identity(source.kind, source.location, source.parts, bundled_packages(source))


def model_identity(kind: str, location: str, files: tuple[str, ...] = (), packages: tuple[str, ...] = ()) -> str:
    """Identifies the weights a model name resolved to, without loading or hashing them.

    Official names stand for themselves (openai-whisper checks downloads
    against their SHA-256); bundled weights are identified by their packages'
    versions, so reinstalling them (as every Colab session does) keeps finished
    work; other files by size and modification time, since hashing a large
    checkpoint on every run would cost seconds.

    Args:
        kind: The kind of source (`official`, `checkpoint`, `ctranslate2`, `bundled`).
        location: The official or bundled name, or the path.
        files: The weight files, for sources read from disk.
        packages: The distributions that ship bundled weights.
    """
    if kind == "official":
        return f"{kind}|{location}"
    if kind == "bundled":
        return "|".join([kind, location, *(f"{p}=={metadata.version(p)}" for p in packages)])
    stamps = [f"{f}:{Path(f).stat().st_size}:{Path(f).stat().st_mtime_ns}" for f in files or (location,)]
    return "|".join([kind, location, *stamps])


def source_key(source: ModelSource) -> str:
    """Returns the content hash that names CTranslate2 weights in caches and run records (`sha256:<key>`).

    Raises:
        ModelError: A weights file cannot be read.
    """
    # A content hash, not size+mtime+path: it costs ~0.3 s for base's 145 MB, cannot miss a changed file,
    # and names the weights wherever they are installed, so model_id and resume fingerprints stay stable.
    digest = hashlib.sha256(f"preannotate-ct2-v{CONVERTER_VERSION}\0".encode())
    return sha256_files([*source.parts, source.config], digest)


def sha256_files(paths: list[str], digest: Any = None) -> str:
    """Returns the SHA-256 of the files' contents, read back to back.

    Raises:
        ModelError: A file cannot be read.
    """
    digest = digest or hashlib.sha256()
    for path in paths:
        try:
            with open(path, "rb") as f:
                while chunk := f.read(HASH_CHUNK_BYTES):
                    digest.update(chunk)
        except OSError as e:
            raise ModelError(f"{path}: cannot read: {e}") from e
    return digest.hexdigest()
