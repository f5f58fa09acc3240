"""An fsspec filesystem for a bucket, with credentials from the cloud's standard chain only.

Credentials are never configuration values: S3 uses botocore's chain (environment, profile, SSO,
container and instance roles), GCS google-auth's application default credentials (which Colab's
`google.colab.auth.authenticate_user()` sets; anonymous towards `STORAGE_EMULATOR_HOST`, as Google's
own client does), Azure the storage environment variables or
`DefaultAzureCredential`. A custom S3 endpoint (MinIO, Ceph...) comes from `AWS_ENDPOINT_URL`.
When no credentials are found the error names the chain that was tried, before any work starts.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from ..errors import InputError, PreannotateError, StorageUnreachableError, in_chain
from ..locations import PACKAGES, BucketLocation

# Retries of a throttled (SlowDown, 503) or dropped request: botocore's standard mode backs off
# exponentially with jitter; s3fs retries the whole call again on top (waits 0.1 s * 1.7^n).
S3_MAX_ATTEMPTS = 6
S3FS_RETRIES = 5
# Bytes fetched per range request when streaming an object: PyAV reads through this window, so memory
# stays bounded whatever the object's size.
BLOCK_SIZE = 4 << 20
_S3: dict[tuple[str | None, str], Any] = {}
_LOCK = threading.Lock()
# Without a listings cache, opening an object asks GCS for its metadata again, so a change since the listing shows.
_GCS_OPTIONS: dict[str, Any] = {"default_block_size": BLOCK_SIZE, "use_listings_cache": False}
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
    credentials = _s3_credentials(location)
    endpoint = _s3_endpoint(location)
    key = (endpoint, _credentials_id(credentials))  # other credentials or endpoint in the environment: another client
    with _LOCK:
        if key not in _S3:
            _S3[key] = _new_s3(s3fs, endpoint)
        return _S3[key]


def _s3_credentials(location: BucketLocation) -> Any:
    """The credentials botocore's chain finds (environment, profile, SSO, container and instance roles).

    Raises:
        InputError: None found (naming the chain tried), or the chain failed: `AWS_PROFILE` naming no
            profile, an unreadable `~/.aws/config`, a failing `credential_process` (botocore's own words).
    """
    import botocore.session
    from botocore.exceptions import BotoCoreError

    session = botocore.session.get_session()
    try:
        credentials = session.get_credentials()
    except BotoCoreError as e:  # a traceback otherwise, before any work: say what botocore could not read
        raise InputError(f"{location.url()}: cannot get AWS credentials from botocore's chain: {e}") from e
    if credentials is None:
        chain = [p.METHOD for p in session.get_component("credential_provider").providers]
        raise InputError(
            f"{location.url()}: no AWS credentials found; tried botocore's chain: {', '.join(chain)}. "
            "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run where a role applies"
        )
    return credentials


def _s3_endpoint(location: BucketLocation) -> str | None:
    """The custom S3 endpoint (`AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`), or None for AWS itself.

    Checked as botocore checks it, so that `localhost:9000` (no scheme) fails here naming the variable rather
    than as botocore's ValueError traceback; a user name or password in it is refused, because public URLs
    built from it would carry them into run.json and SuperAnnotate. The value is never quoted.

    Raises:
        InputError: The variable is not an http(s) URL, or holds a user name or password.
    """
    from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        endpoint = os.environ.get(name)
        if not endpoint:
            continue
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not (
            is_valid_endpoint_url(endpoint) or is_valid_ipv6_endpoint_url(endpoint)
        ):
            raise InputError(f"{location.url()}: {name} is not an endpoint URL; give one like http://localhost:9000")
        if parts.username or parts.password:
            raise InputError(
                f"{location.url()}: {name} holds a user name or password; credentials come only from botocore's "
                "chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE...)"
            )
        return endpoint
    return None


def _credentials_id(credentials: Any) -> str:
    """A digest of the access key, its secret and session token: tells `_S3`'s clients apart, keeping no secret.

    A secret corrected in the same process (a notebook cell run again) must get a new client: keyed by the
    access key alone, the cached one would go on signing with the wrong secret (or session token).
    """
    parts = f"{credentials.access_key}\0{credentials.secret_key}\0{getattr(credentials, 'token', None) or ''}"
    return hashlib.sha256(parts.encode()).hexdigest()


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

    if os.environ.get("STORAGE_EMULATOR_HOST"):
        # An emulator takes no credentials (as in google-cloud-storage) and speaks only the JSON API: gcsfs's
        # default class would first ask it for the bucket's layout over gRPC, retrying for about a minute.
        return gcsfs.core.GCSFileSystem(token="anon", **_GCS_OPTIONS)  # noqa: S106
    try:
        google.auth.default()
    except DefaultCredentialsError as e:
        raise InputError(f"{location.url()}: no Google Cloud credentials found; tried {_GCS_CHAIN}") from e
    return gcsfs.GCSFileSystem(token="google_default", **_GCS_OPTIONS)  # noqa: S106


def _azure(adlfs: Any, location: BucketLocation) -> Any:
    env = os.environ
    account = location.account or env.get("AZURE_STORAGE_ACCOUNT_NAME")
    if not (env.get("AZURE_STORAGE_CONNECTION_STRING") or account):
        raise InputError(f"{location.url()}: no Azure storage account or credentials found; tried {_AZURE_CHAIN}")
    return adlfs.AzureBlobFileSystem(account_name=account, anon=False, blocksize=BLOCK_SIZE)


@contextmanager
def storage_errors(
    error: type[PreannotateError], where: str, missing: str, denied: str, other: str, *, unreachable: str = ""
) -> Iterator[None]:
    """Turns what fsspec raises for a missing object, a denied request or a failed one into `error`.

    A failed request includes one the cloud's client library raises without an `OSError` (botocore's
    `EndpointConnectionError` when the endpoint cannot be reached, its timeouts), after its retries.
    Each message is `where: <what happened>`; `other` gets the original error appended in parentheses.
    With `unreachable`, a request that could not reach the endpoint (refused, timed out, dropped) raises
    `StorageUnreachableError` with that text instead, so that a caller can tell an outage from a bad object.
    """
    failed: tuple[type[Exception], ...] = (OSError, *_client_errors())
    try:
        yield
    except FileNotFoundError as e:
        raise error(f"{where}: {missing}") from e
    except PermissionError as e:
        if in_chain(e, lambda c: "InvalidObjectState" in str(c)):  # S3 answers 403 for an archived object
            raise error(f"{where}: {ARCHIVED}") from e
        raise error(f"{where}: {denied}") from e
    except failed as e:
        if unreachable and (isinstance(e, _connection_errors()) or in_chain(e, _server_failing)):
            raise StorageUnreachableError(f"{where}: {unreachable} ({e})") from e
        raise error(f"{where}: {other} ({e})") from e


ARCHIVED = (
    "the object is archived (S3 Glacier Flexible Retrieval or Deep Archive): restore it (or copy it to a readable "
    "storage class), then run again"
)


def _server_failing(error: BaseException) -> bool:
    """Whether the endpoint answered, after its retries, that it cannot serve now (HTTP 5xx): an outage too.

    A gateway in front of a store that is down answers 502 to every request; counted as a failure of each
    object, a run of thousands would wait through every object's retries for hours.
    """
    response = getattr(error, "response", None)  # botocore's ClientError
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") if isinstance(response, dict) else None
    for name in ("status", "status_code", "code"):  # aiohttp's, azure-core's, gcsfs's HttpError
        status = status if isinstance(status, int) else getattr(error, name, None)
    return isinstance(status, int) and 500 <= status <= 599


def _connection_errors() -> tuple[type[Exception], ...]:
    """What the clients raise when a request never got an answer: refused, timed out, or dropped."""
    clients = installed_errors(
        ("botocore.exceptions", "ConnectionError"), ("botocore.exceptions", "HTTPClientError"),
        ("aiohttp", "ClientConnectionError"), ("azure.core.exceptions", "ServiceRequestError"),
        ("azure.core.exceptions", "ServiceResponseError"),
    )  # fmt: skip
    return (ConnectionError, TimeoutError, *clients)


def _client_errors() -> tuple[type[Exception], ...]:
    """The base classes of the installed cloud clients' own errors that are not `OSError`.

    botocore raises `BotoCoreError`s (an unreachable endpoint, a timeout, credentials that vanished)
    and aiohttp (under gcsfs and adlfs) `ClientError`s, azure-core (under adlfs) `AzureError`s wrapping them;
    none derives from `OSError`, so without this they would escape as tracebacks instead of naming the bucket
    or object.
    """
    return installed_errors(
        ("botocore.exceptions", "BotoCoreError"), ("aiohttp", "ClientError"), ("azure.core.exceptions", "AzureError")
    )  # fmt: skip


@functools.cache
def installed_errors(*names: tuple[str, str]) -> tuple[type[Exception], ...]:
    """The exception classes `(module, name)` of the optional cloud packages that are installed.

    A cloud's extra that is not installed can raise nothing, so its classes are simply left out.
    """
    found: list[type[Exception]] = []
    for module, name in names:
        try:
            found.append(getattr(importlib.import_module(module), name))
        except ImportError:
            continue
    return tuple(found)
