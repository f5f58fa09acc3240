"""Reading bucket objects: streamed decoding, and each way one object can go wrong while the rest go on.

Against a real S3 API on loopback (moto's ThreadedMotoServer, see support/cloud_s3.py).
"""

from __future__ import annotations

import io
import json
import logging
import pickle
import wave

import numpy as np
import pytest
from support.cloud_s3 import BUCKET, FlakyProxy
from support.media import SAMPLES

from preannotate.audio import decode_audio, probe_duration
from preannotate.cloud import ObjectUrl, object_id
from preannotate.cloud.filesystem import BLOCK_SIZE
from preannotate.discover import discover
from preannotate.errors import AudioError
from preannotate.options import MEDIA_EXTENSIONS
from preannotate.run.resume import source_state


def long_wav(seconds: float) -> bytes:
    """A 16 kHz mono PCM16 WAV of a chirp, `seconds` long."""
    t = np.arange(int(seconds * 16_000)) / 16_000
    pcm = (np.sin(2 * np.pi * (200 + 50 * t) * t) * 12_000).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16_000)
        w.writeframes(pcm.tobytes())
    return buffer.getvalue()


def listed(prefix: str = "set") -> dict[str, ObjectUrl]:
    return {f.source: f.path for f in discover(f"s3://{BUCKET}/{prefix}", MEDIA_EXTENSIONS)}


def test_objects_stream_to_the_same_samples_as_local_files(s3, tmp_path):
    big = long_wav(200.0)  # 6.4 MB: more than one streaming window
    assert len(big) > BLOCK_SIZE
    (tmp_path / "big.wav").write_bytes(big)
    s3.put_object(Bucket=BUCKET, Key="set/big.wav", Body=big)
    s3.put_object(Bucket=BUCKET, Key="set/en/hello.wav", Body=(SAMPLES / "en" / "hello_world.wav").read_bytes())
    objects = listed()
    remote = decode_audio(objects["big.wav"])
    local = decode_audio(tmp_path / "big.wav")
    assert remote.samples.shape == local.samples.shape and np.array_equal(remote.samples, local.samples)
    assert remote.declared_duration == pytest.approx(200.0)
    hello = decode_audio(objects["en/hello.wav"])
    assert np.array_equal(hello.samples, decode_audio(SAMPLES / "en" / "hello_world.wav").samples)
    assert probe_duration(objects["big.wav"]) is None  # not fetched twice: the decode is the only download


def test_identity_is_etag_and_size_without_downloading(s3, caplog):
    s3.put_object(Bucket=BUCKET, Key="set/a.wav", Body=b"first version")
    caplog.set_level(logging.INFO, logger="werkzeug")  # the moto server logs every request it serves
    caplog.clear()
    url = listed()["a.wav"]
    state = source_state(url, None)
    assert state == {"url": f"s3://{BUCKET}/set/a.wav", "etag": url.etag, "version_id": None, "size": 13}
    served = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("GET /recordings?list-type=2" in m for m in served)  # one listing
    assert not [m for m in served if "/recordings/set/a.wav" in m]  # no GET, no HEAD of the object
    s3.put_object(Bucket=BUCKET, Key="set/a.wav", Body=b"second version")  # one byte longer, another ETag
    assert object_id(source_state(listed()["a.wav"], None)) != object_id(state)
    assert object_id({"sha256": "ab"}) == "sha256:ab" and object_id({"size": 3}) is None
    assert object_id(json.loads(json.dumps(state))) == object_id(state)  # as read back from a transcript
    copy = pickle.loads(pickle.dumps(url))  # as sent to another process
    assert (copy, copy.etag, copy.size, copy.version_id) == (url, url.etag, url.size, url.version_id)


def test_deleted_and_changed_objects_fail_alone(s3):
    wav = (SAMPLES / "en" / "hello_world.wav").read_bytes()
    for name in ("kept", "deleted", "changed", "empty"):
        s3.put_object(Bucket=BUCKET, Key=f"set/{name}.wav", Body=wav if name != "empty" else b"")
    objects = listed()
    s3.delete_object(Bucket=BUCKET, Key="set/deleted.wav")
    s3.put_object(Bucket=BUCKET, Key="set/changed.wav", Body=wav + b"\0\0")
    with pytest.raises(AudioError, match=r"deleted.wav: the object no longer exists \(deleted since it was listed\)"):
        decode_audio(objects["deleted.wav"])
    changed = r"changed.wav: the object changed since it was listed .*size 73256 -> 73258\)"
    with pytest.raises(AudioError, match=changed):
        decode_audio(objects["changed.wav"])
    with pytest.raises(AudioError, match=r"empty.wav: empty object \(0 bytes\)"):
        decode_audio(objects["empty.wav"])
    assert decode_audio(objects["kept.wav"]).duration > 0.5


def test_access_denied_on_one_object_fails_that_file_only(denied_reader):
    objects = listed()  # listing is allowed
    with pytest.raises(AudioError, match=r"denied.wav: access denied"):
        decode_audio(objects["denied.wav"])
    assert decode_audio(objects["open.wav"]).duration > 0.5


def test_dropped_and_throttled_connections_are_retried(s3, moto_endpoint, monkeypatch):
    s3.put_object(Bucket=BUCKET, Key="set/hello.wav", Body=(SAMPLES / "en" / "hello_world.wav").read_bytes())
    proxy = FlakyProxy(moto_endpoint, drops=2, throttles=2)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    try:
        objects = listed()
        assert str(objects["hello.wav"]) == f"s3://{BUCKET}/set/hello.wav"
        assert proxy.connections >= 5  # two dropped, two answered SlowDown, then served
        assert decode_audio(objects["hello.wav"]).duration > 0.5
    finally:
        proxy.close()
