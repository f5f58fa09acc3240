"""A real S3 API on loopback for the bucket tests: moto's ThreadedMotoServer, as s3fs's own tests use it.

The server starts once per session; each test resets it (POST /moto-api/reset) and gets the standard
environment the credential chain reads (AWS_ACCESS_KEY_ID...) with AWS_ENDPOINT_URL pointing at it.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import boto3
import pytest
import requests

from preannotate.cloud import objects as cloud_objects

from .media import SAMPLES

BUCKET = "recordings"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """The URL of a moto server on 127.0.0.1, for the whole session."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def aws_env(monkeypatch: pytest.MonkeyPatch, endpoint: str, key: str = "testing", secret: str = "testing") -> None:
    """Sets the standard AWS environment (and nothing from the user's own files) for `endpoint`."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata timeouts on this machine
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    """A boto3 S3 client on a freshly reset moto server, with bucket `recordings` created."""
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    aws_env(monkeypatch, moto_endpoint)
    # The count of objects in a row out of reach is the process's: another test's dead endpoint must not carry over.
    monkeypatch.setattr(cloud_objects, "_OUTAGES", cloud_objects._Outages())
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


class FlakyProxy:
    """A TCP proxy in front of the S3 server whose first connections fail, as a busy or flaky S3 does.

    The first `drops` connections are closed without an answer; the next `throttles` get S3's
    `503 SlowDown`; later ones are passed through. `connections` counts what clients opened.
    """

    SLOW_DOWN = (
        b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
    )
    BODY = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"

    def __init__(self, target: str, drops: int, throttles: int) -> None:
        self.target = target.removeprefix("http://").split(":")
        self.drops, self.throttles, self.connections = drops, throttles, 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            n = self.connections
            threading.Thread(target=self._serve, args=(client, n), daemon=True).start()

    def _serve(self, client: socket.socket, n: int) -> None:
        with client:
            if n <= self.drops:
                return  # closed without a byte: a dropped connection
            if n <= self.drops + self.throttles:
                client.recv(65536)
                client.sendall(self.SLOW_DOWN % (len(self.BODY), self.BODY))
                return
            with socket.create_connection((self.target[0], int(self.target[1]))) as upstream:
                threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
                _pipe(client, upstream)

    def close(self) -> None:
        self.listener.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


@pytest.fixture
def denied_reader(s3, moto_endpoint, monkeypatch):
    """Credentials of an IAM user who may list and read the bucket except `set/denied.wav`, moto checking them."""
    wav = (SAMPLES / "en" / "hello_world.wav").read_bytes()
    for name in ("denied", "open"):
        s3.put_object(Bucket=BUCKET, Key=f"set/{name}.wav", Body=wav)
    iam = boto3.client("iam", endpoint_url=moto_endpoint, region_name="us-east-1")
    iam.create_user(UserName="reader")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/set/denied.wav"},
        ],
    }
    iam.put_user_policy(UserName="reader", PolicyName="no-denied", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    requests.post(f"{moto_endpoint}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()
    yield
    requests.post(f"{moto_endpoint}/moto-api/reset-auth", data=b"inf", timeout=10).raise_for_status()
