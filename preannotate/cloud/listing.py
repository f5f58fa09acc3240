"""Listing the media objects under a bucket prefix with the same rules as a local folder.

One paged, delimiter-less listing of the prefix (S3: ListObjectsV2, 1,000 keys a page) gives every
key with its size and ETag: no request per object. Keys relative to the prefix are the sources;
hidden names, extensions, order, item names and the dataset folders `preannotate export` made (left out)
follow `preannotate.discover`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from ..errors import InputError
from ..locations import BucketLocation
from ..naming import EXPORT_MARKER, MediaFile, in_export_folder, is_media_source, unique_item_names
from .filesystem import filesystem, storage_errors
from .objects import ObjectUrl

log = logging.getLogger(__name__)


def discover_bucket(url: str, extensions: tuple[str, ...]) -> list[MediaFile]:
    """Lists the media objects under a bucket URL, sorted by key, each with a unique item name.

    Objects below a folder holding `.preannotate-export.json` (a dataset `preannotate export` made) are left out.

    Args:
        url: `s3://bucket/prefix`, `gs://...` or `az://...`.
        extensions: File name endings that count as media, like `.wav`; case-insensitive.

    Returns:
        One MediaFile per object; its `path` is an `ObjectUrl` carrying the ETag and size.

    Raises:
        InputError: Bad URL, no credentials (naming the chain tried), missing bucket, access denied,
            nothing under the prefix, or no media under it; all before any work starts.
    """
    location = BucketLocation.parse(url)
    entries = list_objects(location)
    wanted = tuple(e.lower() for e in extensions)
    exports = _export_folders(location, entries)
    found = {
        source: info
        for source, info in entries.items()
        if is_media_source(source, wanted) and not in_export_folder(source, exports)
    }
    if not found:
        raise InputError(f"{location.url()} holds no media files ({', '.join(wanted)}); {len(entries)} other object(s)")
    sources = sorted(found)
    items = unique_item_names(sources)
    return [MediaFile(_object_url(location, s, found[s]), s, item) for s, item in zip(sources, items)]


def list_objects(location: BucketLocation) -> dict[str, dict[str, Any]]:
    """Every object under the prefix, by key relative to it (folder markers left out).

    Raises:
        InputError: No credentials, no such bucket, access denied, or no object under the prefix.
    """
    fs = filesystem(location)
    where = location.url()
    missing = f"bucket {location.bucket!r} does not exist"
    denied = "access denied when listing: check the credentials and their permissions"
    with storage_errors(InputError, where, missing, denied, "cannot list the bucket"):
        # The listing goes first: it raises what went wrong (credentials refused, endpoint out of reach),
        # where `exists` answers False for any failure and would call each of them a missing bucket.
        listed = fs.find(location.root, detail=True, withdirs=False)
        if not listed and not fs.exists(location.bucket):
            raise FileNotFoundError(location.bucket)
    start = len(location.root) + 1
    entries = {
        name[start:]: info
        for name, info in listed.items()
        if name.startswith(location.root + "/") and not name.endswith("/") and info.get("type") != "directory"
    }
    if not entries and location.prefix and location.root in listed:  # fsspec's find gives an object itself
        parent = replace(location, prefix=location.prefix.rpartition("/")[0]).url()
        raise InputError(f"{where} is an object, not a prefix: give the prefix that holds it ({parent})")
    if not listed:
        missing = f"no key starts with {location.prefix + '/'!r}: the prefix does not exist"
        raise InputError(f"{where}: {missing if location.prefix else 'the bucket is empty'}")
    if not entries:
        raise InputError(f"{where}: the prefix is empty (it holds only folder markers)")
    return entries


def _export_folders(location: BucketLocation, entries: dict[str, Any]) -> set[str]:
    """The folders below the prefix holding an `EXPORT_MARKER` (a dataset export copied there), each logged.

    Their clips are a finished dataset's, not new recordings. A marker right under the prefix does not count:
    an input that is itself an export is read, as a local one is.
    """
    exports = {source.rpartition("/")[0] for source in entries if source.endswith("/" + EXPORT_MARKER)}
    for folder in sorted(exports):
        where = location.url(location.key(folder))
        log.info("%s: a dataset `preannotate export` made (%s): its clips are left out", where, EXPORT_MARKER)
    return exports


def _object_url(location: BucketLocation, source: str, info: dict[str, Any]) -> ObjectUrl:
    etag = str(info.get("ETag") or info.get("etag") or info.get("md5Hash") or "")
    version = info.get("VersionId") or info.get("generation") or info.get("version_id")  # S3, GCS, Azure
    return ObjectUrl(location.url(location.key(source)), etag, int(info.get("size") or 0), version and str(version))
