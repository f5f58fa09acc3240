"""gs:// inputs against a real GCS JSON API on loopback (gcp-storage-emulator, see support/cloud_gcs.py).

The same listing rules and whole run as the S3 tests (support/cloud_runs.py), with GCS's identity: the
object's generation and size, so an object written again is transcribed again.
"""

from __future__ import annotations

import pytest
from support.cloud_gcs import BUCKET
from support.cloud_runs import (
    KEYS,
    check_listing_like_local,
    check_run_like_local,
    run_config,
    transcript_source,
    upload_clips,
)
from support.media import SAMPLES

from preannotate.audio import decode_audio
from preannotate.discover import discover
from preannotate.errors import AudioError, InputError
from preannotate.options import MEDIA_EXTENSIONS
from preannotate.run import run_pipeline


def put(gcs, keys, body=b"RIFF....WAVE"):
    for key in keys:
        gcs.blob(key).upload_from_string(body)


def test_gcs_listing_follows_the_local_rules(gcs, tmp_path):
    put(gcs, KEYS)
    first = check_listing_like_local(f"gs://{BUCKET}", tmp_path)[0].path
    blob = gcs.get_blob("set/a/1.wav")
    assert str(first) == f"gs://{BUCKET}/set/a/1.wav" and first.size == len(b"RIFF....WAVE")
    assert first.version_id == str(blob.generation) and first.etag in (blob.etag, blob.md5_hash)


def test_missing_bucket_and_prefix_fail_before_any_work(gcs, tmp_path):
    put(gcs, ["set/a.wav"])
    with pytest.raises(InputError, match="gs://no-such-bucket/set: bucket 'no-such-bucket' does not exist"):
        discover("gs://no-such-bucket/set", MEDIA_EXTENSIONS)
    with pytest.raises(InputError, match="no key starts with 'missing/'"):
        discover(f"gs://{BUCKET}/missing", MEDIA_EXTENSIONS)
    with pytest.raises(InputError, match="bucket 'no-such-bucket' does not exist"):
        run_pipeline(run_config("gs://no-such-bucket/set", tmp_path / "out"), progress=False)
    assert not (tmp_path / "out" / "transcripts").exists()


def test_deleted_and_changed_objects_fail_when_read(gcs):
    wav = (SAMPLES / "en" / "hello_world.wav").read_bytes()
    put(gcs, ["set/kept.wav", "set/deleted.wav", "set/changed.wav"], wav)
    objects = {f.source: f.path for f in discover(f"gs://{BUCKET}/set", MEDIA_EXTENSIONS)}
    gcs.blob("set/deleted.wav").delete()
    gcs.blob("set/changed.wav").upload_from_string(wav + b"\0\0")
    with pytest.raises(AudioError, match=r"deleted.wav: the object no longer exists \(deleted since it was listed\)"):
        decode_audio(objects["deleted.wav"])
    changed = r"changed.wav: the object changed since it was listed .*size 73256 -> 73258\)"
    with pytest.raises(AudioError, match=changed):
        decode_audio(objects["changed.wav"])
    assert decode_audio(objects["kept.wav"]).duration > 0.5


def test_a_gcs_run_equals_the_local_run_and_resumes_by_generation(gcs, tmp_path, tiny_model):
    upload_clips(lambda key, body: gcs.blob(key).upload_from_string(body), tmp_path)
    bucket, remote = check_run_like_local(f"gs://{BUCKET}", tmp_path, "superannotate.urls=public")
    listed = {i["item"]: i["url"] for i in remote.upload["items"]}
    assert listed["en__hello_world.wav"] == f"https://storage.googleapis.com/{BUCKET}/set/en/hello_world.wav"
    source = transcript_source(tmp_path / "remote", "en__hello_world.wav")
    assert source["url"] == f"gs://{BUCKET}/set/en/hello_world.wav" and "sha256" not in source
    assert source["version_id"] == str(gcs.get_blob("set/en/hello_world.wav").generation)

    changed = (SAMPLES / "en" / "counting.wav").read_bytes()  # a new generation of quick_brown_fox.wav
    gcs.blob("set/en/quick_brown_fox.wav").upload_from_string(changed)
    again = run_pipeline(bucket, progress=False)
    assert {f.item: f.status for f in again.files} == {
        "en__counting.wav": "skipped", "en__hello_world.wav": "skipped", "en__quick_brown_fox.wav": "ok",
    }  # fmt: skip
    assert transcript_source(tmp_path / "remote", "en__quick_brown_fox.wav")["size"] == len(changed)
