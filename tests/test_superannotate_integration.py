"""Which URLs can be attached: http(s) only, other schemes through a named SuperAnnotate storage integration."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.sa_server import SuperAnnotateServer
from support.upload_runs import SOURCES, items_of, make_run, options, run_upload

from preannotate.config import load_config
from preannotate.errors import ConfigError, CredentialsError
from preannotate.naming import item_name
from preannotate.superannotate import preflight
from preannotate.superannotate.client import connect
from preannotate.superannotate.credentials import find_credentials
from preannotate.superannotate.retry import RetryPolicy
from preannotate.superannotate.urls import UrlMap

PROJECT = "Podcasts"


@pytest.mark.parametrize("url", ["s3://bucket/a.wav", "gs://bucket/a.wav", "file:///data/a.wav", "ftp://h/a.wav"])
def test_other_schemes_need_an_integration(tmp_path: Path, url: str) -> None:
    csv = tmp_path / "u.csv"
    csv.write_text(f"name,url\na.wav,{url}\n")
    with pytest.raises(ConfigError, match="only http\\(s\\) URLs"):
        UrlMap.from_options(str(csv), None, tmp_path)
    prefix = url.rsplit("/", 1)[0]
    with pytest.raises(ConfigError, match="only http\\(s\\) URLs"):
        load_config(None, [f"superannotate.url_prefix={prefix}"])
    assert UrlMap.from_options(str(csv), None, tmp_path, "bucket").link_for("a.wav", "").integration == "bucket"
    assert load_config(None, [f"superannotate.url_prefix={prefix}", "superannotate.integration=b"])


def test_integration_column_names_one_per_row(tmp_path: Path) -> None:
    csv = tmp_path / "u.csv"
    csv.write_text("name,url,integration\na.wav,s3://one/a.wav,first\nb.wav,https://h/b.wav,\nc.wav,gs://x/c,\n")
    with pytest.raises(ConfigError, match=r"u.csv:4: 'gs://x/c'"):
        UrlMap.from_options(str(csv), None, tmp_path)
    urls = UrlMap.from_options(str(csv), None, tmp_path, "default")
    assert [urls.link_for(n, "").integration for n in ("a.wav", "b.wav", "c.wav")] == ["first", "default", "default"]


def test_bad_url_csv_fails_preflight_before_any_request(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    csv = tmp_path / "u.csv"
    csv.write_text("path,url\nen/a.wav,s3://bucket/en/a.wav\n")
    for dry_run in (True, None):
        with pytest.raises(ConfigError, match="integration"):
            preflight(options(url_prefix=None, url_csv=str(csv), dry_run=dry_run))
    assert sa_server.paths() == []


def test_prefix_through_a_storage_integration(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    make_run(tmp_path)
    integration_id = sa_server.add_integration("audio-bucket")
    report = run_upload(tmp_path, options(url_prefix="s3://audio-bucket/podcasts", integration="audio-bucket"))
    assert sorted(report.succeeded) == sorted(items_of()) and not report.failed
    item = sa_server.items(PROJECT)[item_name(SOURCES[0])]
    assert item["url"] == "s3://audio-bucket/podcasts/en/interview%20one.mp3"
    assert item["integration_id"] == integration_id


def test_integration_column_and_unknown_integrations(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    make_run(tmp_path)
    integration_id = sa_server.add_integration("calls")
    csv = tmp_path / "u.csv"
    csv.write_text(
        "path,url,integration\n"
        "en/interview one.mp3,gs://calls/one.mp3,calls\n"
        "es/clip.wav,https://cdn.example.org/clip.wav,\n"
        "fr/clip.m4a,s3://other/clip.m4a,nowhere\n"
    )
    report = run_upload(tmp_path, options(url_prefix=None, url_csv=str(csv)))
    items = sa_server.items(PROJECT)
    assert items[item_name(SOURCES[0])]["integration_id"] == integration_id
    assert items[item_name(SOURCES[1])]["integration_id"] is None
    assert sorted(report.succeeded) == sorted(items_of(SOURCES[:2]))
    [failed] = [i for i in report.items if i.status == "failed"]
    assert failed.item == item_name(SOURCES[2]) and "integration 'nowhere'" in failed.reason


def test_a_server_failing_on_the_token_check_is_not_called_a_rejection_alone(sa_server: SuperAnnotateServer) -> None:
    """The SDK reports a 500 on /user/ME as it reports a bad token: the message names both, and hides the token."""
    sa_server.inject("/user/ME", 500, times=100)
    credentials = find_credentials()
    with pytest.raises(CredentialsError, match="rejected the token, or failed to answer") as raised:
        connect(credentials, RetryPolicy())
    assert "try again later" in str(raised.value) and credentials.token not in str(raised.value)
