"""Whole runs from a bucket: real bundled model, real S3 API on loopback, real SDK against the SA loopback server."""

from __future__ import annotations

import json
import logging

from support.cloud_runs import CLIPS, exported, transcript_source, upload_clips
from support.cloud_runs import run_config as config
from support.cloud_s3 import BUCKET
from support.media import SAMPLES

from preannotate.notebook_tables import plot_timeline
from preannotate.run import run_pipeline

PROJECT = "Bucket drafts"


def upload_bucket(s3, tmp_path):
    upload_clips(lambda key, body: s3.put_object(Bucket=BUCKET, Key=key, Body=body), tmp_path)


def test_a_bucket_run_equals_the_local_run_and_resumes_by_etag(s3, tmp_path, tiny_model, caplog):
    upload_bucket(s3, tmp_path)
    bucket = config(f"s3://{BUCKET}/set", tmp_path / "s3", "superannotate.dry_run=true", "superannotate.urls=presigned")
    caplog.set_level(logging.INFO, logger="preannotate")
    remote = run_pipeline(bucket, progress=False)
    # Objects are listed, not opened: their length is not known before decoding, and the log does not say 0.0 s.
    assert "transcribing 3 file(s), length known once decoded, with" in caplog.text
    caplog.clear()
    local = run_pipeline(config(tmp_path / "in", tmp_path / "local", "superannotate.dry_run=true"), progress=False)
    assert (
        "transcribing 3 file(s), length known once decoded" not in caplog.text
        and "transcribing 3 file(s), " in caplog.text
    )
    assert [(f.item, f.status) for f in remote.files] == [(f"en__{c}.wav", "ok") for c in CLIPS]
    assert [(f.item, f.source, f.chunks) for f in remote.files] == [(f.item, f.source, f.chunks) for f in local.files]
    assert exported(tmp_path / "s3") == exported(tmp_path / "local") and len(exported(tmp_path / "s3")) == 3

    # The dry run lists each object's URL, its signature masked (tests/test_cloud.py: the signed URLs serve the bytes)
    listed = {i["item"]: i["url"] for i in remote.upload["items"]}
    assert all(f"/set/en/{c}.wav?" in listed[f"en__{c}.wav"] for c in CLIPS)
    assert all("X-Amz-Signature=***" in url for url in listed.values())
    source = transcript_source(tmp_path / "s3", "en__hello_world.wav")
    assert source["url"] == f"s3://{BUCKET}/set/en/hello_world.wav" and source["etag"] and "sha256" not in source

    changed = (SAMPLES / "en" / "counting.wav").read_bytes()  # quick_brown_fox.wav now holds other audio
    s3.put_object(Bucket=BUCKET, Key="set/en/quick_brown_fox.wav", Body=changed)
    again = run_pipeline(bucket, progress=False)
    assert {f.item: f.status for f in again.files} == {
        "en__counting.wav": "skipped", "en__hello_world.wav": "skipped", "en__quick_brown_fox.wav": "ok",
    }  # fmt: skip
    redone = json.loads((tmp_path / "s3" / "transcripts" / "en__quick_brown_fox.wav.json").read_text())
    assert "fox" not in redone["text"].lower() and redone["meta"]["source"]["size"] == len(changed)
    figure = plot_timeline(tmp_path / "s3", "en__hello_world.wav")  # the notebook's picture reads the object
    assert figure.axes and figure.axes[0].get_title()  # (it took the bucket URL for a local path)


def test_a_bucket_run_attaches_its_objects_and_only_the_denied_one_fails(
    tmp_path, tiny_model, denied_reader, sa_server
):
    sa_server.add_integration("team-bucket", "custom", BUCKET)  # attaching by URL needs a custom integration
    overrides = [f"superannotate.project={PROJECT}", "superannotate.urls=integration"]
    report = run_pipeline(
        config(f"s3://{BUCKET}/set", tmp_path / "out", *overrides, "superannotate.integration=team-bucket"),
        progress=False,
    )
    failed = {f.item: f.error for f in report.files if f.status == "failed"}
    assert list(failed) == ["denied.wav"] and f"s3://{BUCKET}/set/denied.wav: access denied" in failed["denied.wav"]
    assert report.upload["summary"]["succeeded"] == 1, report.upload
    assert sa_server.items(PROJECT) == {"open.wav": sa_server.items(PROJECT)["open.wav"]}
    assert sa_server.items(PROJECT)["open.wav"]["url"] == f"s3://{BUCKET}/set/open.wav"
