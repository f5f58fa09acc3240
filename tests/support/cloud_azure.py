"""A real Azure Blob API on loopback for the az:// tests: azurite (Node: `npm i -g azurite`), in memory.

The server starts once per session when `azurite-blob` is on PATH (else the Azure tests are skipped,
saying so); each test gets an empty container `recordings` and AZURE_STORAGE_CONNECTION_STRING with
azurite's documented development account, the variable adlfs and Azure's own clients read.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import requests

from .cloud_s3 import free_port

BUCKET = "recordings"
# Azurite's well-known development account (public, documented; it only opens the local emulator).
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@pytest.fixture(scope="session")
def azurite_endpoint() -> Iterator[str]:
    """The blob endpoint of an azurite server on 127.0.0.1, for the whole session."""
    program = shutil.which("azurite-blob")
    if program is None:
        pytest.skip("azurite-blob is not on PATH (npm i -g azurite)")
    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        [
            program,
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--inMemoryPersistence",
            "--silent",
            "--loose",
            "--skipApiVersionCheck",  # azure-storage-blob may speak a newer API version than azurite knows
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}/{ACCOUNT}"
    for _ in range(100):
        try:
            requests.get(endpoint, timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    yield endpoint
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def azure(azurite_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    """An empty container `recordings` on azurite, through azure-storage-blob's own client."""
    from azure.storage.blob import BlobServiceClient

    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={azurite_endpoint};"
    )
    for name in ("AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection)
    service = BlobServiceClient.from_connection_string(connection)
    for container in service.list_containers():
        service.delete_container(container.name)
    return service.create_container(BUCKET)
