"""Bucket inputs as a careless user meets them: each mistake named, with its bucket or object, never a traceback.

Wrong or missing credentials and profiles, a dead or malformed endpoint, an object given as the prefix,
objects deleted or changed while they are read.

Against a real S3 API on loopback (moto's ThreadedMotoServer, see support/cloud_s3.py).
"""

from __future__ import annotations

import json

import boto3
import pytest
import requests
from support.cloud_s3 import BUCKET, free_port
from support.media import SAMPLES

from preannotate.audio import decode_audio
from preannotate.cloud import ObjectUrl, open_object
from preannotate.cloud import filesystem as cloud_filesystem
from preannotate.discover import discover
from preannotate.errors import AudioError, InputError
from preannotate.options import MEDIA_EXTENSIONS

WAV = (SAMPLES / "en" / "hello_world.wav").read_bytes()


def listed(prefix: str = "set") -> dict[str, ObjectUrl]:
    return {f.source: f.path for f in discover(f"s3://{BUCKET}/{prefix}", MEDIA_EXTENSIONS)}


@pytest.fixture
def auth_checked(s3, moto_endpoint):
    """`set/a.wav` in the bucket, then moto checking every request's signature against the IAM users it knows."""
    s3.put_object(Bucket=BUCKET, Key="set/a.wav", Body=WAV)
    requests.post(f"{moto_endpoint}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()
    yield
    requests.post(f"{moto_endpoint}/moto-api/reset-auth", data=b"inf", timeout=10).raise_for_status()


@pytest.fixture
def few_retries(monkeypatch):
    """One attempt per request, so that an endpoint out of reach fails at once instead of after ~30 s of retries."""
    monkeypatch.setattr(cloud_filesystem, "S3_MAX_ATTEMPTS", 1)
    monkeypatch.setattr(cloud_filesystem, "S3FS_RETRIES", 1)


def test_refused_credentials_are_not_called_a_missing_bucket(auth_checked, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-do-not-print")
    with pytest.raises(InputError) as error:
        discover(f"s3://{BUCKET}/set", MEDIA_EXTENSIONS)
    message = str(error.value)
    assert message.startswith(f"s3://{BUCKET}/set: access denied when listing"), message
    assert "does not exist" not in message and "wrong-secret-do-not-print" not in message


def test_an_unreachable_endpoint_is_named_not_called_a_missing_bucket(s3, few_retries, monkeypatch):
    s3.put_object(Bucket=BUCKET, Key="set/a.wav", Body=WAV)
    objects = listed()  # listed while the endpoint answered; then it goes away
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(InputError, match=rf"^s3://{BUCKET}/set: cannot list the bucket \(Could not connect"):
        discover(f"s3://{BUCKET}/set", MEDIA_EXTENSIONS)
    # One file's failure with its object named, as the run reports it, not a traceback of botocore's error.
    unreachable = rf"^s3://{BUCKET}/set/a.wav: the bucket's endpoint could not be reached \(Could not connect"
    with pytest.raises(AudioError, match=unreachable):
        decode_audio(objects["a.wav"])


def test_an_object_deleted_while_it_is_read_fails_as_that_object(s3):
    s3.put_object(Bucket=BUCKET, Key="set/a.wav", Body=WAV)
    url = listed()["a.wav"]
    deleted = rf"^s3://{BUCKET}/set/a.wav: the object was deleted while it was read"
    with pytest.raises(AudioError, match=deleted), open_object(url) as stream:  # opened (ETag, size checked)
        s3.delete_object(Bucket=BUCKET, Key="set/a.wav")
        stream.read(16)


def test_an_object_given_as_the_prefix_is_named_as_such(s3):
    s3.put_object(Bucket=BUCKET, Key="set/day1/a.wav", Body=WAV)
    with pytest.raises(InputError) as error:
        discover(f"s3://{BUCKET}/set/day1/a.wav", MEDIA_EXTENSIONS)
    assert str(error.value) == (
        f"s3://{BUCKET}/set/day1/a.wav is an object, not a prefix: give the prefix that holds it "
        f"(s3://{BUCKET}/set/day1)"
    )
    top = BUCKET + "-top"
    s3.create_bucket(Bucket=top)
    s3.put_object(Bucket=top, Key="a.wav", Body=WAV)
    with pytest.raises(InputError, match=rf"give the prefix that holds it \(s3://{top}\)$"):
        discover(f"s3://{top}/a.wav", MEDIA_EXTENSIONS)
    # A key that is both an object and a "folder" of others: its keys are listed, as a folder's files.
    s3.put_object(Bucket=BUCKET, Key="set/day1/a.wav/b.wav", Body=WAV)
    assert [(f.source, f.item) for f in discover(f"s3://{BUCKET}/set/day1/a.wav", MEDIA_EXTENSIONS)] == [
        ("b.wav", "b.wav")
    ]


def test_an_object_changed_while_it_is_read_fails_as_changed(s3):
    s3.put_object(Bucket=BUCKET, Key="set/a.wav", Body=WAV)
    url = listed()["a.wav"]
    changed = rf"^s3://{BUCKET}/set/a.wav: the object changed while it was read"
    with pytest.raises(AudioError, match=changed), open_object(url) as stream:
        s3.put_object(Bucket=BUCKET, Key="set/a.wav", Body=WAV[:-2] + b"zz")  # same size, another ETag
        stream.read(16)


@pytest.fixture
def lister_key(s3, moto_endpoint) -> dict:
    """An IAM user's access key that may do anything in S3 (made before moto checks signatures)."""
    iam = boto3.client("iam", endpoint_url=moto_endpoint, region_name="us-east-1")
    iam.create_user(UserName="lister")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName="lister", PolicyName="all", PolicyDocument=json.dumps(policy))
    return iam.create_access_key(UserName="lister")["AccessKey"]


def test_a_corrected_secret_is_used_by_the_next_listing(lister_key, auth_checked, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", lister_key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", lister_key["SecretAccessKey"] + "typo")  # as a notebook user pastes it
    with pytest.raises(InputError, match="access denied when listing"):
        discover(f"s3://{BUCKET}/set", MEDIA_EXTENSIONS)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", lister_key["SecretAccessKey"])  # fixed in the same Python process
    assert [f.source for f in discover(f"s3://{BUCKET}/set", MEDIA_EXTENSIONS)] == ["a.wav"]


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        ("minio.lan:9000", "is not an endpoint URL; give one like http://localhost:9000"),  # no scheme
        ("not a url", "is not an endpoint URL"),
        ("http://minio:s3cr3t-pw@127.0.0.1:9", "holds a user name or password"),
    ],
)
def test_a_malformed_endpoint_is_named_without_quoting_it(s3, monkeypatch, endpoint, problem):
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    with pytest.raises(InputError) as error:
        discover(f"s3://{BUCKET}/set", MEDIA_EXTENSIONS)
    message = str(error.value)
    assert message.startswith(f"s3://{BUCKET}/set: AWS_ENDPOINT_URL {problem}"), message
    assert endpoint not in message and "s3cr3t" not in message


def test_a_profile_that_does_not_exist_is_named_not_a_traceback(s3, monkeypatch, tmp_path):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_PROFILE", "team-audio")  # a typo, or a profile only on another machine
    with pytest.raises(InputError, match=rf"^s3://{BUCKET}/set: cannot get AWS credentials .*\(team-audio\) could not"):
        discover(f"s3://{BUCKET}/set", MEDIA_EXTENSIONS)
    monkeypatch.delenv("AWS_PROFILE")
    (tmp_path / "config").write_text("[profile broken\nregion = us-east-1\n")  # an edit of ~/.aws/config gone wrong
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    with pytest.raises(InputError, match=r"cannot get AWS credentials .*Unable to parse config file: .*config"):
        discover(f"s3://{BUCKET}/set", MEDIA_EXTENSIONS)
