"""End to end: the real SuperAnnotate SDK against the loopback server in tests/support/sa_server.py."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from support.sa_server import PROJECT_TYPES, SuperAnnotateServer
from support.upload_runs import (
    ANNOTATION,
    PREFIX,
    SOURCES,
    class_defs,
    items_of,
    make_run,
    options,
    run_upload,
    upload_stopped_at_second_batch,
    video_json,
    write_json,
)

from preannotate import sa_format
from preannotate.errors import CredentialsError, UploadError
from preannotate.naming import item_name
from preannotate.options import AnnotationOptions
from preannotate.superannotate import DRY_RUN_MESSAGE, LEDGER_FILE, Ledger, preflight, upload_run
from preannotate.superannotate.report import UNCHANGED, write_upload_record


def test_full_run_creates_project_class_items_and_uploads(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    inp, out = make_run(tmp_path)
    opts = options()
    session = preflight(opts)
    report = upload_run(out, opts, ANNOTATION, inp, session, classes=class_defs())

    assert sorted(report.succeeded) == sorted(items_of()) and not report.failed and not report.skipped
    assert report.created_project and report.created_classes == [ANNOTATION.class_name]
    assert sa_server.project("Podcasts")["type"] == PROJECT_TYPES["Video"]
    [cls] = sa_server.classes("Podcasts")
    assert [g["name"] for g in cls["attribute_groups"]] == [ANNOTATION.text_group]
    items = sa_server.items("Podcasts")
    assert items[item_name("en/interview one.mp3")]["url"] == f"{PREFIX}/en/interview%20one.mp3"
    assert {i["status"] for i in items.values()} == {"InProgress"}
    # What SuperAnnotate returns through the real SDK is what was on disk (plus the SDK's stamps).
    downloaded = {a["metadata"]["name"]: a for a in session.get_annotations("Podcasts", items_of())}
    for item in items_of():
        on_disk = json.loads((out / "superannotate" / f"{item}.json").read_text())
        got = downloaded[item]["instances"]
        assert [i["parameters"] for i in got] == [i["parameters"] for i in on_disk["instances"]]
        assert {i["meta"]["creationType"] for i in got} == {"Preannotation"}
        entry = Ledger.load(out).entry(report.target, item)
        assert json.loads((out / entry.copy).read_text()) == on_disk
    assert all(n == 1 for n in sa_server.upload_counts.values()) and len(sa_server.upload_counts) == 3
    write_upload_record(out, report)
    recorded = json.loads((out / "run.json").read_text())
    assert recorded["upload"]["summary"]["succeeded"] == 3 and recorded["files"]


def test_second_run_uploads_nothing_and_force_uploads_again(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    make_run(tmp_path)
    run_upload(tmp_path, options())
    uploads_before = len(sa_server.paths("POST"))

    again = run_upload(tmp_path, options())
    assert again.skipped and all(i.reason == UNCHANGED for i in again.items) and not again.succeeded
    posted = sa_server.paths("POST")[uploads_before:]  # no attach, no upload, nothing written
    assert posted == ["/__item/api/v1/items/search"]  # the listing that says the items are still as left

    forced = run_upload(tmp_path, options(), force=True)
    assert sorted(forced.succeeded) == sorted(items_of())
    assert set(sa_server.upload_counts.values()) == {2}
    assert sa_server.paths().count("/image/ext-create") == 1  # items are never attached twice


def test_changed_annotation_is_uploaded_again(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    _, out = make_run(tmp_path)
    run_upload(tmp_path, options())
    item = item_name(SOURCES[1])
    write_json(out / "superannotate" / f"{item}.json", video_json(item, [(0.0, 1.0, "new text")]))

    report = run_upload(tmp_path, options())
    assert report.succeeded == [item]
    assert sa_server.annotation("Podcasts", item)["instances"][0]["parameters"][0]["timestamps"][0]["attributes"] == [
        {"groupName": "Content", "name": "new text"}
    ]


def test_interrupted_run_resumes_with_the_rest(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_run(tmp_path)
    upload_stopped_at_second_batch(tmp_path, options(batch_size=1), monkeypatch)

    report = run_upload(tmp_path, options(batch_size=1))
    assert len(report.succeeded) == 2 and [i.reason for i in report.items].count(UNCHANGED) == 1
    assert dict(sa_server.upload_counts) == {("Podcasts", item): 1 for item in items_of()}


def test_transient_failures_are_retried_and_each_item_uploaded_once(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    make_run(tmp_path)
    sa_server.inject("/api/v1/projects", 429)
    sa_server.inject("/image/ext-create", "drop")
    sa_server.inject("annotations/upload", 429)
    sa_server.inject("annotations/upload", 500)
    sa_server.inject("annotations/upload", "drop")
    sa_server.inject("updateAnnotationStatusBulk", 503, times=4)

    report = run_upload(tmp_path, options())
    assert sorted(report.succeeded) == sorted(items_of()) and not report.failed and not report.warnings
    assert dict(sa_server.upload_counts) == {("Podcasts", item): 1 for item in items_of()}
    assert not any(f[2] for f in sa_server.state.faults)  # every fault was hit
    assert {i["status"] for i in sa_server.items("Podcasts").values()} == {"InProgress"}


def test_persistent_server_errors_fail_items_after_bounded_retries(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    make_run(tmp_path)
    sa_server.inject("annotations/upload", 500, times=100)
    report = run_upload(tmp_path, options(max_attempts=3))
    assert sorted(report.failed) == sorted(items_of()) and not sa_server.upload_counts
    assert sa_server.paths().count("/__assets/api/v4/items/annotations/upload") == 3
    assert Ledger.load(tmp_path / "output").items(report.target) == {}


def test_malformed_token_fails_before_any_request(sa_server: SuperAnnotateServer, monkeypatch) -> None:
    monkeypatch.setenv("SA_TOKEN", "not a token; secret-value-123")
    with pytest.raises(CredentialsError, match="malformed") as error:
        preflight(options())
    assert "secret-value-123" not in str(error.value)
    assert sa_server.paths() == []


def test_rejected_token_fails_preflight_without_showing_it(
    sa_server: SuperAnnotateServer, monkeypatch, caplog, capsys
) -> None:
    rejected = "some-revoked-team-token-77=4242"
    monkeypatch.setenv("SA_TOKEN", rejected)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CredentialsError) as error:
        preflight(options())
    assert sa_server.paths() == ["/user/ME"]
    captured = capsys.readouterr()
    for text in (str(error.value), repr(error.value), caplog.text, captured.out, captured.err):
        assert "some-revoked-team-token-77" not in text


def test_token_appears_nowhere(sa_server: SuperAnnotateServer, tmp_path: Path, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    make_run(tmp_path)
    sa_server.inject("annotations/upload", 500)
    session = preflight(options())
    report = upload_run(tmp_path / "output", options(), ANNOTATION, tmp_path / "input", session, classes=class_defs())
    write_upload_record(tmp_path / "output", report)
    secret = sa_server.token.split("=")[0]
    captured = capsys.readouterr()
    texts = [caplog.text, captured.out, captured.err, repr(session), repr(session.credentials), repr(report)]
    texts += [p.read_text() for p in (tmp_path / "output").rglob("*.json")]
    assert all(secret not in t for t in texts)


def test_item_without_url_is_reported_not_dropped(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    make_run(tmp_path)
    csv = tmp_path / "urls.csv"
    csv.write_text(
        "path,url\nen/interview one.mp3,https://cdn.example.org/one.mp3\nes/clip.wav,https://cdn.example.org/2.wav\n"
    )
    report = run_upload(tmp_path, options(url_prefix=None, url_csv=str(csv)))
    assert report.no_url == [item_name("fr/clip.m4a")] and len(report.succeeded) == 2
    assert report.to_dict()["summary"]["no_url"] == 1
    assert sa_server.items("Podcasts")[item_name("en/interview one.mp3")]["url"] == "https://cdn.example.org/one.mp3"


def test_item_already_in_project_needs_no_url(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    make_run(tmp_path)
    run_upload(tmp_path, options())
    (tmp_path / "output" / LEDGER_FILE).unlink()
    report = run_upload(tmp_path, options(url_prefix=None))
    assert sorted(report.succeeded) == sorted(items_of()) and not report.no_url


def test_dry_run_uploads_nothing(sa_server: SuperAnnotateServer, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO)
    make_run(tmp_path, failed=("es/clip.wav",))
    report = run_upload(tmp_path, options(dry_run=True))
    assert report.dry_run and not report.succeeded and sa_server.paths() == []
    assert DRY_RUN_MESSAGE in caplog.text
    reasons = {i.item: i.reason for i in report.items}
    assert reasons[item_name("es/clip.wav")] == "transcription failed"
    assert reasons[item_name("fr/clip.m4a")] == "dry run"
    assert not (tmp_path / "output" / LEDGER_FILE).exists()
    without_urls = run_upload(tmp_path, options(dry_run=True, url_prefix=None))
    assert sorted(without_urls.no_url) == sorted(items_of([SOURCES[0], SOURCES[2]]))


def test_no_token_means_dry_run_unless_upload_is_required(sa_clean_env: None, caplog) -> None:
    caplog.set_level(logging.INFO)
    assert preflight(options()) is None and DRY_RUN_MESSAGE in caplog.text
    with pytest.raises(CredentialsError, match="no SuperAnnotate token"):
        preflight(options(dry_run=False))


def test_project_of_another_type_is_an_error(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    from support.sa_server import Api

    Api(sa_server.state, "POST", "/project", {}, {}, b'{"name": "Podcasts", "type": 1}').create_project()
    with pytest.raises(UploadError, match="Vector project"):
        preflight(options())


def test_existing_project_and_class_are_reused(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    make_run(tmp_path)
    session = preflight(options())
    session.client.create_project("Podcasts", "made by hand", "Video")
    session.create_class("Podcasts", class_defs()[0])
    report = run_upload(tmp_path, options())
    assert not report.created_project and report.created_classes == [] and len(report.succeeded) == 3
    assert len(sa_server.classes("Podcasts")) == 1


def test_existing_class_without_the_text_group_is_an_error(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    make_run(tmp_path)
    session = preflight(options())
    session.client.create_project("Podcasts", "made by hand", "Video")
    session.create_class("Podcasts", {**class_defs()[0], "attribute_groups": []})
    with pytest.raises(UploadError, match="no attribute group 'Content'"):
        run_upload(tmp_path, options())
    assert not sa_server.upload_counts


def test_invalid_annotation_fails_locally_and_is_not_sent(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    _, out = make_run(tmp_path)
    item = item_name(SOURCES[0])
    bad = video_json(item, [(0.0, 1.0, "x")])
    bad["instances"][0]["parameters"][0]["timestamps"][1]["timestamp"] = 1.5  # seconds, not microseconds
    write_json(out / "superannotate" / f"{item}.json", bad)
    report = run_upload(tmp_path, options())
    assert report.failed == [item] and "integer microseconds" in report.items[0].reason
    assert ("Podcasts", item) not in sa_server.upload_counts and len(report.succeeded) == 2


def test_exporter_json_with_review_groups_uploads_as_is(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    """The exporter's own annotation JSON and class definitions, review groups included."""
    from preannotate.chunking import REVIEW_REASONS, Chunk

    annotation = AnnotationOptions(review_group="Review", reason_group="Review reason")
    inp, out = make_run(tmp_path, sources=["talk.wav"])
    doubtful = Chunk(1, 2.5, 4.0, "uh", needs_review=True, review_reason=REVIEW_REASONS[0])
    written = sa_format.sa_annotation("talk.wav", 4.5, [Chunk(0, 0.5, 2.25, "Bonjour à tous."), doubtful], annotation)
    write_json(out / "superannotate" / "talk.wav.json", written)

    opts = options()
    report = upload_run(out, opts, annotation, inp, preflight(opts))  # classes from the exporter
    assert report.succeeded == ["talk.wav"], report.items
    groups = {g["name"]: g for g in sa_server.classes("Podcasts")[0]["attribute_groups"]}
    assert groups["Content"]["group_type"] == "text" and groups["Review reason"]["group_type"] == "checklist"
    assert {a["name"] for a in groups["Review"]["attributes"]} == {"needs_review", "ok"}
    attributes = sa_server.annotation("Podcasts", "talk.wav")["instances"][1]["parameters"][0]["timestamps"][0]
    assert {"groupName": "Review reason", "name": REVIEW_REASONS[0]} in attributes["attributes"]


def test_upload_command_function_records_into_run_json(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    from preannotate.config import load_config
    from preannotate.superannotate import upload_from_config

    inp, out = make_run(tmp_path)
    config = load_config(None, [f"input.dir={inp}", f"output.dir={out}", "superannotate.project=Podcasts",
                                f"superannotate.url_prefix={PREFIX}", "superannotate.backoff_seconds=0",
                                "annotation.review_group=null", "annotation.reason_group=null"])  # fmt: skip
    report = upload_from_config(config)
    assert len(report.succeeded) == 3
    run = json.loads((out / "run.json").read_text())
    assert run["upload"]["summary"] == {"succeeded": 3, "failed": 0, "skipped": 0, "unchanged": 0, "no_url": 0,
                                        "kept_human_edits": 0, "overwritten": 0}  # fmt: skip
    assert upload_from_config(config, force=True).succeeded and set(sa_server.upload_counts.values()) == {2}
