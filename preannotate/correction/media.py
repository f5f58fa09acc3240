"""Where `preannotate export` reads each item's source media: the run's input folder, or its bucket prefix.

A run over a bucket records, with each transcript (`transcripts/<item>.json`, `meta.source`), the ETag,
version id and size of the object it transcribed. Export reads that object through the same cloud code
as the run (credentials from the cloud's standard chain only) pinned to that identity: an object
overwritten or replaced since fails its item, since clips cut from other audio would not match the
corrections; a deleted one fails its item alone; a bucket whose endpoint stops answering stops the export
(`StorageLostError`, after the run's outage breaker) instead of failing every item after long retries.
A local file is checked likewise against the SHA-256 its transcript recorded (hashed only when its size or
modification time differ).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ..audio import DecodedAudio, decode_audio
from ..cloud import BucketLocation, ObjectUrl, is_bucket_url
from ..cloud.filesystem import filesystem
from ..cloud.objects import OUTAGE_LIMIT
from ..errors import AudioError, CorrectionError, ObjectChangedError, StorageLostError
from ..results import recorded_source
from ..speakers.channels import decode_channel_audio
from ..storage import read_json
from .pull_kept import file_sha256

CHANGED = "changed since the run: its clips would not match the corrections"
_Decoded = TypeVar("_Decoded", DecodedAudio, list[DecodedAudio])


@dataclass(frozen=True)
class LocalMedia:
    """The run's input folder (or the one given instead) on this machine.

    Attributes:
        out: The run's output folder, whose transcripts record each file's size, mtime and SHA-256.
        folder: The folder the items' sources are relative to.
    """

    out: Path
    folder: Path

    def protected(self) -> dict[str, Path]:
        """The folder, which an export must neither replace nor hold."""
        return {"the input (media) folder": self.folder}

    def decode(self, item: str, source: str) -> DecodedAudio:
        """Decodes the item's source file, checking it is the one the run transcribed when the run recorded it.

        Raises:
            CorrectionError: It cannot be read or decoded, or its content changed since the run.
        """
        return self._read(item, source, decode_audio)

    def decode_channels(self, item: str, source: str) -> list[DecodedAudio]:
        """As `decode`, each channel on its own (`speakers.mode: channels`)."""
        return self._read(item, source, decode_channel_audio)

    def _read(self, item: str, source: str, decoder: Callable[[Path], _Decoded]) -> _Decoded:
        path = self.folder / source
        self._check_unchanged(item, path)
        try:
            return decoder(path)
        except AudioError as e:
            raise CorrectionError(f"cannot read its source media: {e}") from e

    def _check_unchanged(self, item: str, path: Path) -> None:
        """Compares the file with the SHA-256 its transcript recorded; hashes only when size or mtime differ.

        A transcript of an earlier version, or none, records no hash: the file is used as before. A copy
        elsewhere (`--input`) has another mtime, so it is hashed, and passes when its content is the same.
        """
        state = recorded_source(read_json(self.out / "transcripts" / f"{item}.json"))
        recorded = state.get("sha256")
        try:
            now = path.stat()
        except OSError:
            return  # decoding names the problem
        unchanged = (now.st_size, now.st_mtime_ns) == (state.get("size"), state.get("mtime_ns"))
        if not isinstance(recorded, str) or unchanged:
            return
        found = file_sha256(path)
        if found is not None and found != recorded:
            raise CorrectionError(f"{path}: {CHANGED} (its SHA-256 is not the one the run recorded)")


@dataclass(frozen=True)
class BucketMedia:
    """The bucket prefix the run listed, read object by object as the run read it.

    Attributes:
        out: The run's output folder, whose transcripts record each object's identity.
        location: The bucket and prefix the items' sources are relative to.
    """

    out: Path
    location: BucketLocation

    def protected(self) -> dict[str, Path]:
        """Nothing: exports are written to local folders, never to a bucket."""
        return {}

    def decode(self, item: str, source: str) -> DecodedAudio:
        """Decodes the item's object, checking it is the one the run transcribed.

        Raises:
            CorrectionError: The run recorded no identity for it, or it changed, was deleted, is denied,
                cannot be decoded, or its endpoint was out of reach for it alone.
            StorageLostError: The endpoint was out of reach for it and the objects read just before it.
        """
        return self._read(item, source, decode_audio)

    def decode_channels(self, item: str, source: str) -> list[DecodedAudio]:
        """As `decode`, each channel on its own (`speakers.mode: channels`)."""
        return self._read(item, source, decode_channel_audio)

    def _read(self, item: str, source: str, decoder: Callable[[ObjectUrl], _Decoded]) -> _Decoded:
        url = self.pinned(item, source)
        try:
            return decoder(url)
        except ObjectChangedError as e:
            raise CorrectionError(f"{url}: {CHANGED} (the run read ETag {url.etag}, {url.size} bytes)") from e
        except AudioError as e:
            raise CorrectionError(f"cannot read its source media: {e}") from e
        except StorageLostError as e:
            raise StorageLostError(
                f"{url}: the export stops: {OUTAGE_LIMIT} objects in a row could not be read, the bucket's "
                f"endpoint is out of reach (the last: {e.__cause__ or e}). Nothing was written, an earlier "
                "dataset is kept: export again once it answers"
            ) from e

    def pinned(self, item: str, source: str) -> ObjectUrl:
        """The item's object URL with the ETag, version id and size its transcript recorded.

        Raises:
            CorrectionError: The transcript is missing, or records no ETag and size (a local run's).
        """
        url = self.location.url(self.location.key(source))
        state = recorded_source(read_json(self.out / "transcripts" / f"{item}.json"))
        etag, size, version = state.get("etag"), state.get("size"), state.get("version_id")
        if not isinstance(etag, str) or not etag or not isinstance(size, int) or isinstance(size, bool):
            raise CorrectionError(
                f"{url}: transcripts/{item}.json records no ETag and size of the object the run read, "
                "so it cannot be checked to be the one transcribed"
            )
        return ObjectUrl(url, etag, size, version if isinstance(version, str) else None)


def source_media(out: Path, root: str | Path) -> LocalMedia | BucketMedia:
    """Where the run's sources are: a bucket URL or a local folder.

    Raises:
        InputError: A bucket URL that is not valid, its cloud's package missing, or no credentials found
            (before any work, rather than on the first item).
    """
    if not is_bucket_url(str(root)):
        return LocalMedia(out, Path(root))
    location = BucketLocation.parse(str(root))
    filesystem(location)  # the package and credentials, checked once before any item
    return BucketMedia(out, location)
