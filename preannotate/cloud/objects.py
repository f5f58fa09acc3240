"""One object of a bucket: its URL with the identity the listing gave it, and streaming it.

An object is identified by its ETag (or version id) and size, as listed: resuming never downloads
an object to hash it, and an object whose ETag or size changed is transcribed again. Reading checks
that the object is still the one listed, so a change during the run fails that file instead of
mixing two versions.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, cast

from ..errors import AudioError, ObjectChangedError, StorageLostError, StorageUnreachableError
from ..locations import BucketLocation
from .filesystem import BLOCK_SIZE, filesystem, installed_errors, storage_errors

# Objects in a row whose bucket could not be reached, after which reading stops the run. Each one waits
# through the client's retries first (about 18 s on S3), so a bucket gone for good would otherwise cost
# that for every object left: hours for a large prefix, for a run that then fails every file.
OUTAGE_LIMIT = 3
UNREACHABLE = "the bucket's endpoint could not be reached"


class ObjectUrl(str):
    """An object's bucket URL (`s3://bucket/key`) carrying the ETag, version id and size it was listed with.

    It is a `str`, so it goes wherever a media path is shown or stored; `preannotate.audio` and
    `preannotate.run.resume` recognise it and stream or identify the object instead of a local file.
    """

    etag: str
    size: int
    version_id: str | None

    def __new__(cls, url: str, etag: str, size: int, version_id: str | None = None) -> ObjectUrl:
        """The URL `url` of an object listed with `etag`, `size` and (when known) `version_id`."""
        self = super().__new__(cls, url)
        self.etag, self.size, self.version_id = etag, size, version_id
        return self

    def __reduce__(self) -> tuple[Any, ...]:  # keep the identity across processes (pickling a str drops it)
        return (ObjectUrl, (str(self), self.etag, self.size, self.version_id))

    def state(self) -> dict[str, Any]:
        """The identity stored with a transcript: URL, ETag, version id and size."""
        return {"url": str(self), "etag": self.etag, "version_id": self.version_id, "size": self.size}


def object_id(state: dict[str, Any]) -> str | None:
    """The content identity of a stored source state: SHA-256 for files, ETag/version id + size for objects.

    None when the state has neither (an old or damaged record: the file is transcribed again).
    """
    if state.get("sha256"):
        return f"sha256:{state['sha256']}"
    if state.get("etag") and isinstance(state.get("size"), int):
        return f"etag:{state['etag']}|version:{state.get('version_id') or ''}|size:{state['size']}"
    return None


@contextmanager
def open_object(url: ObjectUrl) -> Iterator[IO[bytes]]:
    """Opens a listed object for streaming reads, checking it is still the object that was listed.

    Reads go through a window of `BLOCK_SIZE` bytes (ranged GETs), so memory stays bounded; S3 reads
    carry `If-Match` with the ETag, so a change while reading fails too.

    Raises:
        AudioError: The object was deleted, access to it is denied, it changed since it was listed
            (`ObjectChangedError`, also when it changes while read), or it is empty; the stream's reads
            and seeks raise it too, naming the object (the endpoint out of reach: `StorageUnreachableError`).
        StorageLostError: The endpoint could not be reached for this object and the `OUTAGE_LIMIT - 1`
            objects of the bucket opened before it: every next one would wait through the retries too.
    """
    location = BucketLocation.parse(url)
    fs = filesystem(location)
    missing = "the object no longer exists (deleted since it was listed)"
    denied = "access denied (the credentials may not read this object)"
    bucket = f"{location.scheme}://{location.bucket}"
    try:
        with storage_errors(AudioError, str(url), missing, denied, "cannot open the object", unreachable=UNREACHABLE):
            handle = fs.open(location.root, "rb", block_size=BLOCK_SIZE, cache_type="readahead")
        _OUTAGES.answered(bucket)
        with handle:
            _check_unchanged(url, handle)
            yield cast(IO[bytes], _NamedReads(url, handle))  # reads, seeks and tells as the file does
    except StorageUnreachableError as e:
        _OUTAGES.unreached(bucket, e)
        raise


class _Outages:
    """Counts, per bucket, the objects in a row that could not be reached; an object that opens resets it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_row: dict[str, int] = {}

    def answered(self, bucket: str) -> None:
        with self._lock:
            self._in_row.pop(bucket, None)

    def unreached(self, bucket: str, error: StorageUnreachableError) -> None:
        """Raises StorageLostError, from `error`, when this is the `OUTAGE_LIMIT`th object in a row."""
        with self._lock:
            count = self._in_row[bucket] = self._in_row.get(bucket, 0) + 1
        if count >= OUTAGE_LIMIT:
            raise StorageLostError(
                f"{bucket}: {count} objects in a row could not be read: the bucket's endpoint is out of reach "
                f"(the last: {error}). The run stops; finished files are kept: run again to go on once it answers"
            ) from error


_OUTAGES = _Outages()


class _NamedReads:
    """An object's open file whose failed reads raise an AudioError naming the object and what happened.

    PyAV passes a reader's own exception on unchanged, so the file's failure says "changed while it was
    read" or "endpoint out of reach" instead of FFmpeg's "cannot decode", or a client library's traceback.
    """

    def __init__(self, url: ObjectUrl, handle: IO[bytes]) -> None:
        self._url, self._handle = url, handle

    def read(self, size: int = -1) -> bytes:
        with self._errors():
            return self._handle.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        with self._errors():
            return self._handle.seek(offset, whence)

    def __getattr__(self, name: str) -> Any:  # tell, seekable, size...: as the file has them
        return getattr(self._handle, name)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        where = str(self._url)
        with storage_errors(
            AudioError, where, "the object was deleted while it was read", "access denied while reading",
            "reading the object failed", unreachable=UNREACHABLE,
        ):  # fmt: skip
            try:
                yield
            except installed_errors(("s3fs.utils", "FileExpired")) as e:  # s3fs reads with If-Match
                changed = "the object changed while it was read; it is transcribed on the next run"
                raise ObjectChangedError(f"{where}: {changed}") from e


def _check_unchanged(url: ObjectUrl, handle: Any) -> None:
    details = getattr(handle, "details", {}) or {}
    etag = details.get("ETag") or details.get("etag")
    size = details.get("size", url.size)
    if (etag and url.etag and etag != url.etag) or size != url.size:
        raise ObjectChangedError(
            f"{url}: the object changed since it was listed (ETag {url.etag} -> {etag}, size {url.size} -> {size}); "
            "it is transcribed on the next run"
        )
    if size == 0:
        raise AudioError(f"{url}: empty object (0 bytes)")
