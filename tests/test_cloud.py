"""Bucket inputs: listing with the local discovery rules, up-front errors, and the URLs of objects.

Against a real S3 API on loopback (moto's ThreadedMotoServer, see support/cloud_s3.py).
"""

from __future__ import annotations

import logging
import sys
import time
import types

import pytest
import requests
from support.cloud_runs import KEYS, LISTED, local_tree
from support.cloud_s3 import BUCKET

from preannotate.cloud import BucketLocation, is_bucket_url, object_links
from preannotate.config import load_config
from preannotate.discover import discover
from preannotate.errors import ConfigError, InputError
from preannotate.notebook import colab_bucket_auth, config_from_parameters
from preannotate.options import MEDIA_EXTENSIONS


def put(s3, keys, body=b"RIFF....WAVE"):
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def test_bucket_listing_follows_the_local_rules(s3, tmp_path):
    put(s3, KEYS)
    local_tree(tmp_path)  # the same tree on disk
    remote = discover(f"s3://{BUCKET}/set", MEDIA_EXTENSIONS)
    local = discover(tmp_path / "set", MEDIA_EXTENSIONS)
    assert [(f.source, f.item) for f in remote] == [(f.source, f.item) for f in local]
    assert [f.source for f in remote] == LISTED
    assert str(remote[0].path) == f"s3://{BUCKET}/set/a/1.wav"
    assert remote[0].path.size == len(b"RIFF....WAVE") and remote[0].path.etag.strip('"')
    nested = discover(f"s3://{BUCKET}/set/c/d/", MEDIA_EXTENSIONS)  # a nested prefix, trailing slash allowed
    assert [(f.source, f.item) for f in nested] == [("e/3.mkv", "e__3.mkv")]
    whole = discover(f"s3://{BUCKET}", MEDIA_EXTENSIONS)  # the whole bucket
    assert "elsewhere/4.wav" in [f.source for f in whole] and "setting/other.wav" in [f.source for f in whole]


@pytest.mark.slow  # 1,000 uploads to the loopback S3 server
def test_a_thousand_objects_are_listed_in_pages_quickly(s3):
    keys = [f"big/speaker{i % 10}/clip{i:04d}.wav" for i in range(1000)]
    put(s3, keys, b"x")
    started = time.perf_counter()
    found = discover(f"s3://{BUCKET}/big", MEDIA_EXTENSIONS)
    seconds = time.perf_counter() - started
    print(f"listed 1,000 objects in {seconds:.2f} s")
    assert len(found) == 1000 and [f.source for f in found] == sorted(k.removeprefix("big/") for k in keys)
    assert seconds < 30  # one paged listing (1,000 keys a page), no request per object


def test_missing_bucket_prefix_and_empty_prefix_fail_up_front(s3):
    put(s3, ["set/a.wav", "set/readme.txt"])
    s3.put_object(Bucket=BUCKET, Key="empty/", Body=b"")  # a folder marker only
    with pytest.raises(InputError, match="bucket 'no-such-bucket' does not exist"):
        discover("s3://no-such-bucket/set", MEDIA_EXTENSIONS)
    with pytest.raises(InputError, match="no key starts with 'missing/': the prefix does not exist"):
        discover(f"s3://{BUCKET}/missing", MEDIA_EXTENSIONS)
    with pytest.raises(InputError, match="the prefix is empty"):
        discover(f"s3://{BUCKET}/empty", MEDIA_EXTENSIONS)
    with pytest.raises(InputError, match=r"set holds no media files \(\.mp3\); 2 other object"):
        discover(f"s3://{BUCKET}/set", (".mp3",))
    with pytest.raises(InputError, match="not a valid bucket name"):
        discover("s3://Bad_Bucket/x", MEDIA_EXTENSIONS)


def test_no_credentials_fail_up_front_naming_the_chain(s3, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(InputError) as error:
        discover(f"s3://{BUCKET}/set", MEDIA_EXTENSIONS)
    message = str(error.value)
    assert message.startswith(f"s3://{BUCKET}/set: no AWS credentials found")
    for provider in ("env", "shared-credentials-file", "config-file", "container-role", "iam-role"):
        assert provider in message


def test_presigned_urls_serve_the_objects_bytes(s3):
    body = bytes(range(256)) * 40
    s3.put_object(Bucket=BUCKET, Key="set/sub dir/clip #1.wav", Body=body)
    make = object_links(f"s3://{BUCKET}/set", "presigned", 2.0)
    url = make("sub dir/clip #1.wav")
    assert "X-Amz-Expires=7200" in url and "X-Amz-Signature=" in url
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200 and answer.content == body


def test_urls_signed_with_temporary_credentials_are_said_to_expire_with_them(s3, monkeypatch, caplog):
    s3.put_object(Bucket=BUCKET, Key="set/a.wav", Body=b"bytes")
    s3.put_object(Bucket=BUCKET, Key="set/b.wav", Body=b"bytes")
    with caplog.at_level(logging.WARNING, logger="preannotate.cloud.links"):
        object_links(f"s3://{BUCKET}/set", "presigned", 2.0)("a.wav")  # long-term keys: no such warning
    assert not [r for r in caplog.records if "temporary AWS credentials" in r.getMessage()]
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token-of-an-assumed-role")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="preannotate.cloud.links"):
        make = object_links(f"s3://{BUCKET}/set", "presigned", 72.0)
        urls = [make("a.wav"), make("b.wav")]
    assert all("X-Amz-Security-Token=token-of-an-assumed-role" in url for url in urls)
    warnings = [r.getMessage() for r in caplog.records if "temporary AWS credentials" in r.getMessage()]
    assert len(warnings) == 1 and "not after the 72.0 hours asked for" in warnings[0]  # once per run, not per item
    assert "token-of-an-assumed-role" not in warnings[0]  # a secret never reaches a log line


def test_public_and_integration_urls(s3, moto_endpoint, monkeypatch):
    s3.put_object(Bucket=BUCKET, Key="set/a b/c.wav", Body=b"public bytes", ACL="public-read")
    public = object_links(f"s3://{BUCKET}/set", "public", 1.0)("a b/c.wav")
    assert public == f"{moto_endpoint}/{BUCKET}/set/a%20b/c.wav"  # AWS_ENDPOINT_URL: path style
    assert requests.get(public, timeout=10).content == b"public bytes"  # no credentials: a public object
    assert object_links(f"s3://{BUCKET}/set", "integration", 1.0)("a b/c.wav") == f"s3://{BUCKET}/set/a b/c.wav"
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert object_links("s3://bkt/p", "public", 1.0)("x.wav") == "https://bkt.s3.amazonaws.com/p/x.wav"


def test_gcs_and_azure_urls_are_parsed_and_built(monkeypatch):
    # Listing and runs: tests/test_cloud_gcs.py and tests/test_cloud_azure.py; here their URLs, without a server.
    gs = BucketLocation.parse("gs://team-audio/calls/2024/")
    assert (gs.cloud, gs.bucket, gs.prefix) == ("gcs", "team-audio", "calls/2024")
    assert (
        gs.key("a/b.wav") == "calls/2024/a/b.wav"
        and gs.url("calls/2024/a/b.wav") == "gs://team-audio/calls/2024/a/b.wav"
    )
    assert gs.https_url("calls/x y.wav") == "https://storage.googleapis.com/team-audio/calls/x%20y.wav"
    az = BucketLocation.parse("abfs://audio@acct.dfs.core.windows.net/raw")
    assert (az.cloud, az.bucket, az.account, az.prefix) == ("azure", "audio", "acct", "raw")
    assert az.https_url("raw/a.wav") == "https://acct.blob.core.windows.net/audio/raw/a.wav"
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_NAME", raising=False)
    with pytest.raises(InputError, match="AZURE_STORAGE_ACCOUNT_NAME"):
        BucketLocation.parse("az://audio/raw").https_url("raw/a.wav")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "other")
    assert BucketLocation.parse("az://audio/raw").https_url("raw/a.wav").startswith("https://other.blob.")
    assert [is_bucket_url(u) for u in ("s3://b", "gs://b/p", "az://c", "https://h/p", "/data", "C:/x")] == [
        True, True, True, False, False, False,
    ]  # fmt: skip


def test_url_options_are_checked_up_front():
    bucket = ["input.dir=s3://bkt/prefix"]
    assert load_config(None, [*bucket, "superannotate.urls=presigned"]).superannotate.url_expiry_hours == 168
    with pytest.raises(ConfigError, match="superannotate.urls must be one of public, presigned, integration"):
        load_config(None, [*bucket, "superannotate.urls=signed"])
    with pytest.raises(ConfigError, match="needs superannotate.integration"):
        load_config(None, [*bucket, "superannotate.urls=integration"])
    with pytest.raises(ConfigError, match="url_expiry_hours must be in"):
        load_config(None, [*bucket, "superannotate.urls=presigned", "superannotate.url_expiry_hours=200"])
    with pytest.raises(ConfigError, match="needs a bucket input.dir"):
        load_config(None, ["input.dir=samples", "superannotate.urls=public"])


def test_the_notebook_takes_a_bucket_url_and_signs_in_the_colab_way_for_gcs(monkeypatch):
    assert config_from_parameters({"input_dir": "s3://bkt/calls"}).input.dir == "s3://bkt/calls"  # not a path
    signed_in = []
    colab, auth = types.ModuleType("google.colab"), types.ModuleType("google.colab.auth")
    auth.authenticate_user = lambda: signed_in.append(True)  # what Colab's own module offers
    colab.auth = auth
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.auth", auth)
    assert colab_bucket_auth("gs://bkt/calls") and signed_in == [True]
    assert not colab_bucket_auth("s3://bkt/calls") and not colab_bucket_auth("/content/drive") and signed_in == [True]
    monkeypatch.delitem(sys.modules, "google.colab")  # outside Colab: the usual chain, nothing called
    assert not colab_bucket_auth("gs://bkt/calls") and signed_in == [True]
