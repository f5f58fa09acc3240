"""Bucket URLs: which cloud, which bucket, which prefix, and the HTTPS address of an object.

`input.dir` may be `s3://bucket/prefix`, `gs://bucket/prefix` (or `gcs://`), or `az://container/prefix`
(also `abfs://` and `abfss://`, optionally `container@account.dfs.core.windows.net`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import quote

from .errors import ConfigError, InputError

# URL scheme -> the cloud it names.
SCHEMES = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure", "abfss": "azure"}
# The fsspec implementation of each cloud, and the pip extra that installs it.
PACKAGES = {"s3": ("s3fs", "s3"), "gcs": ("gcsfs", "gcs"), "azure": ("adlfs", "azure")}
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)$")
# S3 bucket names: 3-63 lowercase letters, digits, dots and dashes (GCS and Azure are stricter subsets here).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}$")
_AZURE_HOST = re.compile(r"^(?P<container>[^@/]+)@(?P<account>[^./]+)\.(dfs|blob)\.core\.windows\.net$")


def is_bucket_url(value: object) -> bool:
    """Whether `value` is a bucket URL this package reads (`s3://`, `gs://`, `az://`...)."""
    match = _URL.match(value) if isinstance(value, str) else None
    return match is not None and match.group("scheme").lower() in SCHEMES


def azure_container_url(value: str) -> bool:
    """Whether `value` is an Azure URL naming `container@account.(dfs|blob).core.windows.net`.

    The part before `@` there is a container, not a user name.
    """
    match = _URL.match(value.strip())
    if match is None or SCHEMES.get(match.group("scheme").lower()) != "azure":
        return False
    return _AZURE_HOST.match(match.group("rest").partition("/")[0]) is not None


def refuse_bucket(value: object, what: str) -> None:
    """Raises ConfigError when `value`, a place this tool writes, is a bucket URL: only `input.dir` may be one.

    Nothing writes to buckets, and `Path("s3://b/x")` is the local folder `s3:/b/x`: the outputs would land
    there while the user looks for them in the bucket. The message names the scheme only (a URL may hold a key).

    Args:
        value: The place given (a path, or anything a config holds).
        what: Its name in the message: `output.dir`, `--out`...
    """
    if is_bucket_url(value):
        scheme = str(value).partition("://")[0]
        raise ConfigError(
            f"{what} is a bucket URL ({scheme}://...): only input.dir may be a bucket, this tool writes to local "
            "folders only: name one (and copy it to the bucket afterwards)"
        )


@dataclass(frozen=True)
class BucketLocation:
    """A bucket and a key prefix in one cloud.

    Attributes:
        cloud: `s3`, `gcs` or `azure`.
        scheme: The scheme as written (kept in object URLs).
        bucket: The bucket (Azure: the container).
        prefix: The key prefix without leading or trailing `/`; empty for the whole bucket.
        account: The Azure storage account when the URL names it, else None.
    """

    cloud: str
    scheme: str
    bucket: str
    prefix: str
    account: str | None = None

    @classmethod
    def parse(cls, url: str) -> BucketLocation:
        """Parses a bucket URL.

        Raises:
            InputError: Not a bucket URL, or no valid bucket name in it.
        """
        match = _URL.match(url.strip())
        scheme = match.group("scheme").lower() if match else ""
        if match is None or scheme not in SCHEMES:
            raise InputError(f"{url}: not a bucket URL (s3://, gs:// or az://)")
        host, _, prefix = match.group("rest").partition("/")
        account = None
        azure = _AZURE_HOST.match(host)
        if SCHEMES[scheme] == "azure" and azure:
            host, account = azure.group("container"), azure.group("account")
        if not _BUCKET.match(host):
            raise InputError(f"{url}: {host!r} is not a valid bucket name")
        return cls(SCHEMES[scheme], scheme, host, prefix.strip("/"), account)

    @property
    def root(self) -> str:
        """The path of the prefix as fsspec names it (`bucket/prefix`)."""
        return f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket

    def url(self, key: str = "") -> str:
        """The bucket URL of `key` (the prefix itself when empty), in the scheme the user wrote."""
        path = f"{self.bucket}/{key}" if key else self.root
        return f"{self.scheme}://{path}"

    def key(self, source: str) -> str:
        """The object key of a path relative to the prefix."""
        return f"{self.prefix}/{source}" if self.prefix else source

    def https_url(self, key: str) -> str:
        """The object's plain HTTPS address (readable only when the object is public).

        S3 uses `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` (path style) when set, else the bucket's
        virtual-hosted address; GCS uses storage.googleapis.com; Azure the account's blob endpoint.

        Raises:
            InputError: An Azure URL without an account, and AZURE_STORAGE_ACCOUNT_NAME unset.
        """
        quoted = quote(key, safe="/")
        if self.cloud == "s3":
            endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
            if endpoint:
                return f"{endpoint.rstrip('/')}/{self.bucket}/{quoted}"
            return f"https://{self.bucket}.s3.amazonaws.com/{quoted}"
        if self.cloud == "gcs":
            return f"https://storage.googleapis.com/{self.bucket}/{quoted}"
        account = self.account or os.environ.get("AZURE_STORAGE_ACCOUNT_NAME")
        if not account:
            raise InputError(
                f"{self.url()}: the storage account is unknown: write abfs://container@ACCOUNT.dfs.core.windows.net/"
                " or set AZURE_STORAGE_ACCOUNT_NAME"
            )
        return f"https://{account}.blob.core.windows.net/{self.bucket}/{quoted}"
