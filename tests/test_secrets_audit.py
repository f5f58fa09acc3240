"""Secrets that reached files or messages by ways the configuration checks did not cover.

- An SA_URL holding a user name and password (a self-hosted gateway with basic auth in front of the API):
  the host recorded in run.json and as the uploads.json key kept the password.
- A url_csv row whose URL holds a password (or SA_TOKEN): attached, sent and kept in run.json and
  uploads.json, and quoted by the CSV's own error messages, though a URL holding a password is refused
  wherever else it is given.

The real SDK against the loopback server (tests/support/sa_server.py), which is told to accept the
gateway's basic credentials as it accepts the token.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from support.cloud_s3 import BUCKET
from support.sa_api import DEFAULT_TOKEN
from support.sa_server import SuperAnnotateServer
from support.upload_runs import ANNOTATION, class_defs, items_of, make_run, options

from preannotate.config import load_config
from preannotate.errors import ConfigError
from preannotate.superannotate import Ledger, preflight, upload_run
from preannotate.superannotate.redact import redact
from preannotate.superannotate.report import write_upload_record
from preannotate.superannotate.urls import UrlMap

PASSWORD = "pwSECRETAUDIT7731"


def written_with(folder: Path, secret: str) -> list[str]:
    """Files under `folder` whose bytes hold `secret`."""
    return [str(p) for p in folder.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


@pytest.mark.parametrize("user", ["gateway-user", PASSWORD], ids=["user and password", "a user name alone"])
def test_an_sa_url_with_a_password_is_recorded_without_it(
    sa_server: SuperAnnotateServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    user: str,
) -> None:
    # A gateway with basic auth: requests sends the URL's credentials, and the server lets them in. A user
    # name alone may be a token (`https://TOKEN@gateway/`): the SDK uses it as given, only the host is recorded.
    password = PASSWORD if user != PASSWORD else ""
    sa_server.state.tokens.add("Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    credentials = f"{user}:{password}" if password else user
    monkeypatch.setenv("SA_URL", sa_server.url.replace("http://", f"http://{credentials}@"))
    inp, out = make_run(tmp_path)
    opts = options()
    session = preflight(opts)
    assert session is not None and PASSWORD not in repr(session)
    report = upload_run(out, opts, ANNOTATION, inp, session, classes=class_defs())
    write_upload_record(out, report)

    assert sorted(report.succeeded) == sorted(items_of())
    host = sa_server.url.removeprefix("http://")
    assert report.target == f"{host}/team/4242/{opts.project}"
    assert json.loads((out / "run.json").read_text())["upload"]["target"] == report.target
    ledger = json.loads((out / "uploads.json").read_text())
    assert [t["host"] for t in ledger["targets"].values()] == [host], ledger["targets"]
    assert Ledger.load(out).entry(report.target, items_of()[0]) is not None  # the key others look it up by
    said = capsys.readouterr()
    assert written_with(out, PASSWORD) == [] and PASSWORD not in said.out + said.err
    assert written_with(out, user) == []


@pytest.mark.parametrize(
    "url",
    [
        f"https://alice:{PASSWORD}@media.example.org/a.wav",  # attachable: it was uploaded and recorded
        f"ftp://alice:{PASSWORD}@media.example.org/a.wav",  # not attachable: the error quoted it
        "not a url " + PASSWORD,  # not a URL at all: quoted as before (no password in a URL)
    ],
)
def test_a_url_csv_row_holding_a_password_is_refused_unquoted(tmp_path: Path, url: str) -> None:
    csv = tmp_path / "urls.csv"
    csv.write_text(f"name,url\nen__a.wav,{url}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        UrlMap.from_options(str(csv), None, None)
    if "://" in url:
        assert str(error.value) == (
            f"{csv}:2: the URL holds a password: secrets never go in a config; credentials come from the "
            "cloud's own chain (see README, Buckets) or SA_TOKEN"
        )
    else:
        assert "is not an absolute URL" in str(error.value)


def test_a_url_csv_row_holding_the_token_is_refused_unquoted(
    sa_server: SuperAnnotateServer, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    csv = tmp_path / "urls.csv"
    csv.write_text(f"path,url\nen/interview one.mp3,https://media.example.org/a.wav?t={sa_server.token}\n")
    with pytest.raises(ConfigError, match=r"urls.csv:2: the URL holds a SuperAnnotate token") as error:
        preflight(options(url_csv=str(csv), url_prefix=None))
    secret = sa_server.token.split("=")[0]
    assert secret not in str(error.value) and secret not in "".join(capsys.readouterr())
    assert sa_server.paths() == []  # refused before connecting


def test_a_url_csv_with_a_password_stops_the_upload_before_anything_is_sent_or_written(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    inp, out = make_run(tmp_path)
    csv = tmp_path / "urls.csv"
    csv.write_text(f"path,url\nen/interview one.mp3,https://alice:{PASSWORD}@media.example.org/a.wav\n")
    opts = options(url_csv=str(csv))
    with pytest.raises(ConfigError, match="the URL holds a password"):
        session = preflight(opts)
        upload_run(out, opts, ANNOTATION, inp, session, classes=class_defs())
    assert sa_server.paths() == [] and written_with(out, PASSWORD) == []


def test_verbose_logs_never_show_the_aws_session_token(s3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """-v logs at DEBUG, but botocore's DEBUG lines print each request's headers, the session token among them."""
    token = "FwoGZXIvYXdzSESSIONAUDIT9931"
    monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    s3.put_object(Bucket=BUCKET, Key="notes/readme.txt", Body=b"no media here")
    command = [
        sys.executable,
        "-m",
        "preannotate",
        "-v",
        "run",
        "-i",
        f"s3://{BUCKET}/notes",
        "-o",
        str(tmp_path / "o"),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "holds no media files" in proc.stderr, proc.stderr
    assert "DEBUG" in proc.stderr  # -v still shows this tool's own debug lines
    assert token not in proc.stderr + proc.stdout


def test_a_malformed_sa_url_s_password_stays_out_of_retries_and_the_error(tmp_path: Path) -> None:
    """requests quotes the whole URL in its errors ("Invalid URL 'http://user:PASS@/user/ME'"); the SDK passes it on."""
    out = make_run(tmp_path)[1]
    env = {**os.environ, "SA_TOKEN": DEFAULT_TOKEN, "SA_URL": f"http://gw:{PASSWORD}@"}
    command = [sys.executable, "-m", "preannotate", "-v", "upload", "-o", str(out), "--set", "superannotate.project=P",
               "--set", "superannotate.max_attempts=2", "--set", "superannotate.backoff_seconds=0"]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode != 0 and "gw:***@" in proc.stderr, proc.stderr  # named, masked
    assert "retrying" not in proc.stderr  # refused at once: no attempt could reach a URL without a host
    assert PASSWORD not in proc.stderr + proc.stdout and written_with(tmp_path, PASSWORD) == []


@pytest.mark.parametrize(
    "setting",
    [
        "superannotate.url_prefix=https://acct.blob.core.windows.net/c?sv=2022&sig=AuditSig9931",
        "input.dir=https://h/p?X-Amz-Algorithm=A&X-Amz-Signature=AuditSig9931",
        "superannotate.url_prefix=https://h/p?X-Goog-Signature=AuditSig9931",
    ],
)
def test_a_signed_url_is_refused_as_an_option_without_quoting_it(setting: str) -> None:
    with pytest.raises(ConfigError, match="the URL carries a signature") as refused:
        load_config(None, [setting])
    assert "AuditSig9931" not in str(refused.value)


def test_a_cloud_secret_of_the_environment_is_refused_as_an_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrAuditSecret9931")
    with pytest.raises(ConfigError, match="the environment's AWS_SECRET_ACCESS_KEY") as refused:
        load_config(None, ["transcribe.initial_prompt=key wJalrAuditSecret9931"])
    assert "wJalrAuditSecret9931" not in str(refused.value)


AWS_SECRET = "fake-cloud-secret/for-tests-only/Audit9931"  # planted, shaped like no real key


@pytest.mark.parametrize(
    "line",
    [
        f'  initial_prompt: "{AWS_SECRET}\n',  # an unclosed quote: YAML quotes the line
        f"  initial_prompt: {AWS_SECRET * 4}: x: y\n",  # a long line, which YAML quotes cut short
    ],
)
def test_a_cloud_secret_in_a_damaged_config_file_is_not_quoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str
) -> None:
    """YAML's error quotes the line it stopped at; the same value in a valid file is refused unquoted."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    config = tmp_path / "run.yaml"
    config.write_text("transcribe:\n" + line, encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid YAML") as refused:
        load_config(config, [])
    message = str(refused.value)
    assert "<hidden>" in message and not any(AWS_SECRET[i : i + 8] in message for i in range(len(AWS_SECRET) - 7))


def test_redact_masks_url_passwords_and_signatures_and_nothing_else() -> None:
    signed = "https://b.s3.amazonaws.com/k.wav?X-Amz-Credential=AKIA%2Fx&X-Amz-Security-Token=T0k&X-Amz-Signature=ab1"
    assert redact(signed) == (
        "https://b.s3.amazonaws.com/k.wav?X-Amz-Credential=***&X-Amz-Security-Token=***&X-Amz-Signature=***"
    )
    assert redact("sas https://a.blob.core.windows.net/c/x?sv=2022&sig=Zz%3D&se=1 end") == (
        "sas https://a.blob.core.windows.net/c/x?sv=2022&sig=***&se=1 end"
    )
    assert redact("Invalid URL 'http://gw:pass@/user/ME'") == "Invalid URL 'http://gw:***@/user/ME'"
    kept = ["abfs://container@account.dfs.core.windows.net/x", "a@b.c", "https://h/p?design=1&signal=2", "http://h:80/"]
    assert [redact(text) for text in kept] == kept


def test_a_presigned_dry_run_records_no_signature(s3, tmp_path: Path) -> None:
    """The dry run lists each object's URL (run.json, the notebook's table): with its signature masked."""
    s3.put_object(Bucket=BUCKET, Key="set/a.wav", Body=b"RIFF")
    opts = replace(options(urls="presigned", url_prefix=None, dry_run=True), project="P")
    inp = f"s3://{BUCKET}/set"
    out = make_run(tmp_path, sources=["a.wav"])[1]
    report = upload_run(out, opts, ANNOTATION, inp, None, classes=class_defs())
    write_upload_record(out, report)
    [url] = [i.url for i in report.items]
    assert url and url.startswith(f"{s3.meta.endpoint_url}/{BUCKET}/set/a.wav?") and "X-Amz-Signature=***" in url
    assert not re.search(r"X-Amz-(Signature|Credential|Security-Token)=(?!\*\*\*)", (out / "run.json").read_text())
