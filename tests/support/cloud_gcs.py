"""A real GCS JSON API on loopback for the gs:// tests: gcp-storage-emulator, in memory.

The server starts once per session; each test wipes it and gets `STORAGE_EMULATOR_HOST`, the variable
Google's clients and gcsfs read to talk to an emulator (with anonymous credentials, as they do there).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from .cloud_s3 import free_port

BUCKET = "recordings"


@pytest.fixture(scope="session")
def gcs_endpoint() -> Iterator[str]:
    """The URL of a gcp-storage-emulator server on 127.0.0.1, for the whole session."""
    from gcp_storage_emulator.server import create_server

    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def gcs(gcs_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> storage.Bucket:
    """Bucket `recordings` on a freshly wiped emulator, through google-cloud-storage's own client."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_endpoint)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    client = storage.Client(project="test", credentials=AnonymousCredentials())
    for bucket in client.list_buckets():
        bucket.delete(force=True)
    return client.create_bucket(BUCKET)
