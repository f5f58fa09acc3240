"""`preannotate run` end to end with uploading: real model, real SDK, SuperAnnotate-compatible server on loopback."""

from __future__ import annotations

import logging
import shutil

import pytest
from support.configs import run_config
from support.media import SAMPLES

from preannotate.errors import ConfigError, CredentialsError
from preannotate.run import run_pipeline

PROJECT = "Speech drafts"


def config(tmp_path, *overrides):
    upload = [f"superannotate.project={PROJECT}", "superannotate.url_prefix=https://bucket.example/audio/",
              "superannotate.backoff_seconds=0.01"]  # fmt: skip
    return run_config(tmp_path, *upload, *overrides)


@pytest.fixture
def dataset(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("hello_world", "quick_brown_fox"):
        shutil.copy(SAMPLES / "en" / f"{name}.wav", folder)
    return folder


def test_run_uploads_once_and_never_leaks_the_token(tmp_path, dataset, sa_server, tiny_model, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    report = run_pipeline(config(tmp_path), progress=False)
    assert report.upload["summary"]["succeeded"] == 2 and not report.upload_failed
    assert sa_server.project(PROJECT)["type"] == 3  # a Video project
    items = sa_server.items(PROJECT)
    assert set(items) == {"hello_world.wav", "quick_brown_fox.wav"}
    assert items["hello_world.wav"]["url"] == "https://bucket.example/audio/hello_world.wav"
    fox = sa_server.annotation(PROJECT, "quick_brown_fox.wav")
    texts = [a["name"] for i in fox["instances"] for a in i["parameters"][0]["timestamps"][0]["attributes"]]
    assert any("quick brown fox" in t.lower() for t in texts)

    again = run_pipeline(config(tmp_path), progress=False)
    assert again.upload["summary"]["succeeded"] == 0 and again.upload["summary"]["unchanged"] == 2
    assert dict(sa_server.upload_counts) == {(PROJECT, "hello_world.wav"): 1, (PROJECT, "quick_brown_fox.wav"): 1}

    token = sa_server.token
    outputs = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert outputs and not [p for p in outputs if token in p.read_text(errors="ignore")]
    captured = capsys.readouterr()
    assert token not in caplog.text and token not in captured.out + captured.err


def test_bad_token_fails_before_transcription(tmp_path, dataset, sa_server, monkeypatch):
    monkeypatch.setenv("SA_TOKEN", "not a token")
    with pytest.raises(CredentialsError) as err:
        run_pipeline(config(tmp_path), progress=False)
    assert "not a token" not in str(err.value)
    monkeypatch.setenv("SA_TOKEN", "wrong-but-well-formed-token=1")
    with pytest.raises(CredentialsError):
        run_pipeline(config(tmp_path), progress=False)
    assert not (tmp_path / "out" / "transcripts").exists()


def test_dry_run_uploads_nothing(tmp_path, dataset, sa_server, tiny_model):
    report = run_pipeline(config(tmp_path, "superannotate.dry_run=true"), progress=False)
    assert report.upload["dry_run"] and report.upload["summary"]["succeeded"] == 0
    assert not sa_server.upload_counts
    assert (tmp_path / "out" / "superannotate" / "hello_world.wav.json").exists()


def test_rerun_with_other_chunking_keeps_a_completed_corrected_item(tmp_path, dataset, sa_server, tiny_model):
    run_pipeline(config(tmp_path), progress=False)
    fox = sa_server.annotation(PROJECT, "quick_brown_fox.wav")
    for stamp in fox["instances"][0]["parameters"][0]["timestamps"]:
        stamp["attributes"] = [{"groupName": "Content", "name": "The quick brown fox, corrected."}]
    sa_server.set_annotation(PROJECT, "quick_brown_fox.wav", fox)
    sa_server.set_status(PROJECT, "quick_brown_fox.wav", "Completed")

    again = run_pipeline(config(tmp_path, "chunking.max_duration=1.0"), progress=False)
    assert sa_server.annotation(PROJECT, "quick_brown_fox.wav") == fox
    assert sa_server.items(PROJECT)["quick_brown_fox.wav"]["status"] == "Completed"
    assert again.upload["kept_human_edits"] == ["quick_brown_fox.wav"] and not again.upload_failed
    reasons = {i["item"]: i["reason"] for i in again.upload["items"]}
    assert "status Completed" in reasons["quick_brown_fox.wav"]
    assert "kept 1 human-edited item(s) as they are" in again.upload_line()  # what `preannotate run` prints


def test_url_that_cannot_be_attached_fails_before_transcription(tmp_path, dataset, sa_server):
    csv = tmp_path / "urls.csv"
    csv.write_text("path,url\nhello_world.wav,s3://bucket/hello_world.wav\n")
    with pytest.raises(ConfigError, match="integration"):
        run_pipeline(config(tmp_path, f"superannotate.url_csv={csv}"), progress=False)
    assert not (tmp_path / "out" / "transcripts").exists() and sa_server.paths() == []
