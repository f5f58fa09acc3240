"""The URL SuperAnnotate attaches for each object of a bucket input.

- `public`: the object's plain HTTPS address (the bucket or objects must be publicly readable).
- `presigned`: a signed HTTPS URL valid for a chosen time; annotators' players stop loading the
  audio once it expires, or once the credentials that signed it do (temporary ones: a warning says so).
- `integration`: the object's bucket URL (`s3://bucket/key`), attached through a SuperAnnotate
  storage integration that holds its own access to the bucket.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..errors import InputError
from ..locations import BucketLocation
from ..options.upload import URL_MODES
from .filesystem import filesystem

log = logging.getLogger(__name__)

# SigV4 presigned URLs (S3) are valid for at most 7 days.
MAX_PRESIGNED_HOURS = 168.0
# A URL signed with temporary credentials carries their session token, and stops working when they expire.
TEMPORARY_MARK = "X-Amz-Security-Token="
TEMPORARY_WARNING = (
    "these presigned URLs are signed with temporary AWS credentials (a session token: an assumed role, SSO, "
    "an instance's or a notebook's credentials): they stop working when those credentials expire, often "
    "within hours, not after the %.1f hours asked for. Sign with long-term credentials (an access key "
    "without a session token) or attach through a storage integration (superannotate.urls: integration)."
)


def object_links(input_url: str, mode: str, expiry_hours: float) -> Callable[[str], str]:
    """Returns a function from an item's source (key relative to the prefix) to its URL.

    Args:
        input_url: The run's `input.dir`, a bucket URL.
        mode: One of `URL_MODES`.
        expiry_hours: Lifetime of presigned URLs.

    Raises:
        InputError: Bad bucket URL, unknown mode, or presigned URLs without credentials to sign.
    """
    location = BucketLocation.parse(input_url)
    if mode == "public":
        return lambda source: location.https_url(location.key(source))
    if mode == "integration":
        return lambda source: location.url(location.key(source))
    if mode != "presigned":
        raise InputError(f"superannotate.urls must be one of {', '.join(URL_MODES)}, got {mode!r}")
    fs = filesystem(location)
    seconds = int(expiry_hours * 3600)
    log.warning(
        "presigned URLs expire in %.1f hours: items whose annotators open them later show no audio. "
        "For long projects attach through a storage integration (superannotate.urls: integration).",
        expiry_hours,
    )
    warned: list[bool] = []

    def sign(source: str) -> str:
        url = fs.sign(f"{location.bucket}/{location.key(source)}", expiration=seconds)
        if not warned and TEMPORARY_MARK in url:  # seen in the first URL: the same credentials sign them all
            warned.append(True)
            log.warning(TEMPORARY_WARNING, expiry_hours)
        return url

    return sign
