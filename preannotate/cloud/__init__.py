"""Datasets in buckets: S3, GCS and Azure through fsspec.

`input.dir` may be a bucket URL. Listing (`discover_bucket`) follows the local discovery rules;
each media object becomes an `ObjectUrl` that `preannotate.audio` streams and `preannotate.run.resume`
identifies by ETag/version id and size. `object_links` builds the URLs SuperAnnotate attaches.
"""

from .links import URL_MODES, object_links
from .listing import discover_bucket, list_objects
from .location import BucketLocation, is_bucket_url
from .objects import ObjectUrl, object_id, open_object

__all__ = [
    "URL_MODES",
    "BucketLocation",
    "ObjectUrl",
    "discover_bucket",
    "is_bucket_url",
    "list_objects",
    "object_id",
    "object_links",
    "open_object",
]
