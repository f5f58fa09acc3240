"""A bucket that stops answering mid-run: each object waits through the client's retries, so the run stops.

Against a real S3 API on loopback (moto's ThreadedMotoServer, see support/cloud_s3.py); the outage is the
endpoint moving to a port nothing listens on, after the listing (a refused connection, as a dead host gives).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from support.cloud_s3 import BUCKET, free_port
from support.correction_runs import run_cli
from support.media import SAMPLES

from preannotate.audio import decode_audio
from preannotate.cloud import filesystem as cloud_filesystem
from preannotate.cloud.filesystem import storage_errors
from preannotate.cloud.objects import OUTAGE_LIMIT
from preannotate.discover import discover
from preannotate.errors import AudioError, InputError, StorageLostError, StorageUnreachableError
from preannotate.options import MEDIA_EXTENSIONS
from preannotate.run import pipeline

WAV = (SAMPLES / "en" / "hello_world.wav").read_bytes()
CLIPS = ("counting", "hello_world", "quick_brown_fox")


@pytest.fixture
def few_retries(monkeypatch):
    """One attempt per request: a refused connection fails at once instead of after ~18 s of retries."""
    monkeypatch.setattr(cloud_filesystem, "S3_MAX_ATTEMPTS", 1)
    monkeypatch.setattr(cloud_filesystem, "S3FS_RETRIES", 1)


def dead_endpoint(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")


def test_the_third_object_in_a_row_out_of_reach_stops_reading_and_one_that_opens_resets_the_count(
    s3, moto_endpoint, few_retries, monkeypatch
):
    for n in range(5):
        s3.put_object(Bucket=BUCKET, Key=f"set/{n}.wav", Body=WAV)
    objects = [f.path for f in discover(f"s3://{BUCKET}/set", MEDIA_EXTENSIONS)]
    assert OUTAGE_LIMIT == 3
    dead_endpoint(monkeypatch)
    for url in objects[:2]:  # each fails alone, named, as an outage rather than a bad object
        with pytest.raises(StorageUnreachableError, match=rf"^{url}: the bucket's endpoint could not be reached \("):
            decode_audio(url)
    with pytest.raises(StorageLostError) as lost:
        decode_audio(objects[2])
    assert str(lost.value).startswith(f"s3://{BUCKET}: 3 objects in a row could not be read"), lost.value
    assert "run again to go on once it answers" in str(lost.value) and str(objects[2]) in str(lost.value)

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)  # it answers again: the count starts over
    assert decode_audio(objects[3]).duration > 1
    dead_endpoint(monkeypatch)
    with pytest.raises(StorageUnreachableError):
        decode_audio(objects[4])


def test_a_run_whose_bucket_stops_answering_stops_and_the_next_run_does_the_rest(
    s3, moto_endpoint, few_retries, monkeypatch, tmp_path, tiny_model
):
    for n, clip in enumerate(CLIPS * 2):
        s3.put_object(Bucket=BUCKET, Key=f"set/{n}_{clip}.wav", Body=(SAMPLES / "en" / f"{clip}.wav").read_bytes())
    listing = pipeline.find_media

    def listed_then_gone(*args, **kwargs):  # the bucket answers the listing, then goes away
        found = listing(*args, **kwargs)
        dead_endpoint(monkeypatch)
        return found

    monkeypatch.setattr(pipeline, "find_media", listed_then_gone)
    out = tmp_path / "out"
    args = ["run", "-i", f"s3://{BUCKET}/set", "-o", str(out), "--set", "model.name=bundled:tiny.en",
            "--set", "superannotate.dry_run=true", "--no-progress"]  # fmt: skip
    stopped = run_cli(*args)
    assert stopped.returncode == 1, stopped.stderr  # processing had begun: run again (cli.EXIT_CODES)
    assert "Traceback" not in stopped.stderr
    errors = [line for line in stopped.stderr.splitlines() if line.startswith("preannotate: error:")]
    assert len(errors) == 1 and f"s3://{BUCKET}: 3 objects in a row could not be read" in errors[0], errors
    journal = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    failed = [line for line in journal if line.get("file", {}).get("status") == "failed"]
    assert len(failed) == 2, journal  # the first two, each named; the third stopped the run, not six failures
    assert all("the bucket's endpoint could not be reached" in line["file"]["error"] for line in failed)

    monkeypatch.setattr(pipeline, "find_media", listing)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)  # back: the next run does every file
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    files = json.loads((out / "run.json").read_text())["files"]
    assert [(f["status"], f["error"]) for f in files] == [("ok", None)] * 6


class BadGateway(BaseHTTPRequestHandler):
    """A gateway in front of a store that is down: every request answered 502, as nginx answers it."""

    def _answer(self) -> None:
        body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        self.send_response(502)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_PUT = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def bad_gateway():
    server = ThreadingHTTPServer(("127.0.0.1", 0), BadGateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_an_endpoint_answering_502_is_an_outage_not_a_bad_object(s3, few_retries, bad_gateway, monkeypatch):
    """Counted per object, a gateway's 502 made a run of thousands wait through every object's retries."""
    for n in range(3):
        s3.put_object(Bucket=BUCKET, Key=f"set/{n}.wav", Body=WAV)
    objects = [f.path for f in discover(f"s3://{BUCKET}/set", MEDIA_EXTENSIONS)]
    monkeypatch.setenv("AWS_ENDPOINT_URL", bad_gateway)
    for url in objects[:2]:
        with pytest.raises(StorageUnreachableError, match=r"\(502\)"):
            decode_audio(url)
    with pytest.raises(StorageLostError, match="3 objects in a row could not be read"):
        decode_audio(objects[2])


def test_an_archived_object_is_named_archived_not_denied(s3):
    s3.put_object(Bucket=BUCKET, Key="set/cold.wav", Body=WAV, StorageClass="GLACIER")
    [url] = [f.path for f in discover(f"s3://{BUCKET}/set", MEDIA_EXTENSIONS)]
    with pytest.raises(AudioError, match=r"the object is archived \(S3 Glacier") as refused:
        decode_audio(url)
    assert "access denied" not in str(refused.value)


def test_azure_cores_own_errors_are_named_not_tracebacks():
    """adlfs raises azure-core's errors (not OSError, not aiohttp's): an Azure account out of reach was a traceback."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError

    reach = "the bucket's endpoint could not be reached"
    with (
        pytest.raises(StorageUnreachableError, match=rf"^az://c/x.wav: {reach} \(Cannot connect to host"),
        storage_errors(AudioError, "az://c/x.wav", "gone", "denied", "cannot open the object", unreachable=reach),
    ):
        raise ServiceRequestError("Cannot connect to host 127.0.0.1:9 ssl:default")
    with (
        pytest.raises(InputError, match=r"^az://c: cannot list the bucket \(Operation returned"),
        storage_errors(InputError, "az://c", "gone", "denied", "cannot list the bucket"),
    ):
        raise HttpResponseError("Operation returned an invalid status 'Conflict'")
