"""Resume keys: what identifies a file's content and each stage's stored work, so that a run can resume.

A transcript is reused when the file's content, the model and every option
that shapes the transcript are unchanged. Content is identified by SHA-256;
the size and modification time stored with the transcript let an unchanged
file skip re-hashing, as git's index does. Every stage that stores something
has a key (`stage_key`) over the options it declares and the keys of the
stages it reads from (`preannotate.run.stages`).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from ..cloud import ObjectUrl, object_id

# Bump when the transcript format or the way it is produced changes, so that
# older results are redone instead of silently mixed in.
TRANSCRIPT_FORMAT = 1
_HASH_BLOCK = 1 << 20  # bytes read at a time when hashing media files


def file_sha256(path: Path | str) -> str:
    """Returns the SHA-256 of a file's content, read in 1 MiB blocks.

    Raises:
        OSError: It cannot be read, or is not a regular file (a named pipe put there after discovery
            would block a plain open until something writes to it).
    """
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        for block in iter(lambda: f.read(_HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def source_state(path: Path | str, previous: dict[str, Any] | None) -> dict[str, Any]:
    """Describes a media file's content: size, mtime and SHA-256.

    Args:
        path: The media file, or a bucket object (`preannotate.cloud.ObjectUrl`).
        previous: The state stored with an earlier transcript, if any; its hash
            is reused when size and modification time are unchanged.

    Raises:
        OSError: The file cannot be read.
    """
    if isinstance(path, ObjectUrl):  # a bucket object: its listed ETag/version id and size, nothing downloaded
        return path.state()
    st = Path(path).stat()
    state = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if previous and all(previous.get(k) == v for k, v in state.items()) and previous.get("sha256"):
        return {**state, "sha256": previous["sha256"]}
    return {**state, "sha256": file_sha256(path)}


def stage_key(payload: dict[str, Any]) -> str:
    """Returns a short hash of everything besides the audio that shapes what a stage stores.

    Args:
        payload: The stage's format version, the keys of its inputs and the options it declares;
            for transcripts `{"format": TRANSCRIPT_FORMAT, "model": <identity>, "transcribe": {...}}`,
            the payload every earlier version hashed, so that finished transcripts stay finished.
    """
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=list).encode()).hexdigest()[:16]


def is_finished(stored: dict[str, Any] | None, source: dict[str, Any], key: str) -> bool:
    """True when a stored transcript was made from the same content with the same options."""
    if not stored:
        return False
    meta = stored.get("meta", {})
    stored_id = object_id(meta.get("source") or {})
    return meta.get("options_key") == key and stored_id is not None and stored_id == object_id(source)
