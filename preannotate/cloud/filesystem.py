"""An fsspec filesystem for a bucket, with credentials from the cloud's standard chain only.

Credentials are never configuration values: S3 uses botocore's chain (environment, profile, SSO,
container and instance roles), GCS google-auth's application default credentials (which Colab's
`google.colab.auth.authenticate_user()` sets), Azure the storage environment variables or
`DefaultAzureCredential`. A custom S3 endpoint (MinIO, Ceph...) comes from `AWS_ENDPOINT_URL`.
When no credentials are found the error names the chain that was tried, before any work starts.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import InputError, PreannotateError
from .location import PACKAGES, BucketLocation

# Retries of a throttled (SlowDown, 503) or dropped request: botocore's standard mode backs off
# exponentially with jitter; s3fs retries the whole call again on top (waits 0.1 s * 1.7^n).
S3_MAX_ATTEMPTS = 6
S3FS_RETRIES = 5
# Bytes fetched per range request when streaming an object: PyAV reads through this window, so memory
# stays bounded whatever the object's size.
BLOCK_SIZE = 4 << 20
_S3: dict[tuple[str | None, str], Any] = {}
_LOCK = threading.Lock()
_GCS_CHAIN = "GOOGLE_APPLICATION_CREDENTIALS, gcloud application-default credentials, Colab's authenticate_user, the GCE metadata server"  # noqa: E501
_AZURE_CHAIN = "AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN, DefaultAzureCredential (environment, managed identity, Azure CLI)"  # noqa: E501


def filesystem(location: BucketLocation) -> Any:
    """Returns an fsspec filesystem for the location's cloud, after checking that credentials exist.

    Raises:
        InputError: The cloud's fsspec package is not installed, or no credentials were found
            (the message names the chain tried).
    """
    package, extra = PACKAGES[location.cloud]
    try:
        module = importlib.import_module(package)
    except ImportError as e:
        raise InputError(
            f"{location.url()}: reading {location.cloud} buckets needs {package}: pip install 'preannotate[{extra}]'"
        ) from e
    return {"s3": _s3, "gcs": _gcs, "azure": _azure}[location.cloud](module, location)


def _s3(s3fs: Any, location: BucketLocation) -> Any:
    import botocore.session

    session = botocore.session.get_session()
    credentials = session.get_credentials()
    if credentials is None:
        chain = [p.METHOD for p in session.get_component("credential_provider").providers]
        raise InputError(
            f"{location.url()}: no AWS credentials found; tried botocore's chain: {', '.join(chain)}. "
            "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run where a role applies"
        )
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    key = (endpoint, credentials.access_key)  # other credentials or endpoint in the environment: another client
    with _LOCK:
        if key not in _S3:
            _S3[key] = _new_s3(s3fs, endpoint)
        return _S3[key]


def _new_s3(s3fs: Any, endpoint: str | None) -> Any:
    fs = s3fs.S3FileSystem(
        endpoint_url=endpoint,
        skip_instance_cache=True,  # cached here instead, by credentials too (fsspec's key holds only arguments)
        # SigV4 signs presigned URLs with an explicit expiry (at most 7 days), as every region accepts.
        config_kwargs={"retries": {"max_attempts": S3_MAX_ATTEMPTS, "mode": "standard"}, "signature_version": "s3v4"},
        use_listings_cache=False,  # a run must see objects changed since an earlier listing
        default_block_size=BLOCK_SIZE,
    )
    fs.retries = S3FS_RETRIES  # a class attribute in s3fs, not a constructor argument
    return fs


def _gcs(gcsfs: Any, location: BucketLocation) -> Any:
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        google.auth.default()
    except DefaultCredentialsError as e:
        raise InputError(f"{location.url()}: no Google Cloud credentials found; tried {_GCS_CHAIN}") from e
    return gcsfs.GCSFileSystem(token="google_default", default_block_size=BLOCK_SIZE)  # noqa: S106


def _azure(adlfs: Any, location: BucketLocation) -> Any:
    env = os.environ
    account = location.account or env.get("AZURE_STORAGE_ACCOUNT_NAME")
    if not (env.get("AZURE_STORAGE_CONNECTION_STRING") or account):
        raise InputError(f"{location.url()}: no Azure storage account or credentials found; tried {_AZURE_CHAIN}")
    return adlfs.AzureBlobFileSystem(account_name=account, anon=False, blocksize=BLOCK_SIZE)


@contextmanager
def storage_errors(error: type[PreannotateError], where: str, missing: str, denied: str, other: str) -> Iterator[None]:
    """Turns what fsspec raises for a missing object, a denied request or a failed one into `error`.

    Each message is `where: <what happened>`; `other` gets the original error appended in parentheses.
    """
    try:
        yield
    except FileNotFoundError as e:
        raise error(f"{where}: {missing}") from e
    except PermissionError as e:
        raise error(f"{where}: {denied}") from e
    except OSError as e:
        raise error(f"{where}: {other} ({e})") from e
