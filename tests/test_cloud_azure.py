"""az:// inputs against a real Azure Blob API on loopback (azurite, see support/cloud_azure.py).

The same listing rules and whole run as the S3 and GCS tests (support/cloud_runs.py).
"""

from __future__ import annotations

import pytest
from support.cloud_azure import BUCKET
from support.cloud_runs import KEYS, check_listing_like_local, check_run_like_local, transcript_source, upload_clips

from preannotate.discover import discover
from preannotate.errors import InputError
from preannotate.options import MEDIA_EXTENSIONS


def test_azure_listing_follows_the_local_rules_and_a_missing_container_fails(azure, tmp_path):
    for key in KEYS:
        azure.upload_blob(key, b"RIFF....WAVE")
    first = check_listing_like_local(f"az://{BUCKET}", tmp_path)[0].path
    assert str(first) == f"az://{BUCKET}/set/a/1.wav" and first.size == len(b"RIFF....WAVE")
    assert first.etag == azure.get_blob_client("set/a/1.wav").get_blob_properties().etag
    with pytest.raises(InputError, match="az://no-such-container/set: bucket 'no-such-container' does not exist"):
        discover("az://no-such-container/set", MEDIA_EXTENSIONS)


def test_an_azure_run_equals_the_local_run(azure, tmp_path, tiny_model):
    upload_clips(lambda key, body: azure.upload_blob(key, body), tmp_path)
    check_run_like_local(f"az://{BUCKET}", tmp_path, "superannotate.urls=integration", "superannotate.integration=x")
    source = transcript_source(tmp_path / "remote", "en__hello_world.wav")
    assert source["url"] == f"az://{BUCKET}/set/en/hello_world.wav" and source["etag"] and "sha256" not in source
