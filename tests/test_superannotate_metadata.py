"""Priority scores and item custom fields: the real SDK against the loopback server, and the score rules."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from support.sa_metadata import served_order
from support.sa_server import SuperAnnotateServer
from support.upload_runs import SOURCES, items_of, make_run, options, run_upload, write_json

from preannotate.errors import ConfigError
from preannotate.options import AnnotationOptions
from preannotate.superannotate import preflight, upload_run
from preannotate.superannotate.metadata import FIELDS, custom_values, plan_metadata, priority_score
from preannotate.superannotate.report import write_upload_record

# Per source: predicted WER, duration, language, share of doubtful chunks.
METRICS = {SOURCES[0]: (0.12, 31.5, "en", 0.1), SOURCES[1]: (0.45, 12.0, "es", 0.5), SOURCES[2]: (0.3, 8.25, "fr", 0.0)}


def add_metrics(out: Path, metrics: dict = METRICS) -> None:
    """Gives run.json's file records the quality fields a current run writes."""
    run = json.loads((out / "run.json").read_text())
    for record in run["files"]:
        if record["source"] in metrics:
            wer, duration, language, doubtful = metrics[record["source"]]
            record.update(predicted_wer=wer, duration=duration, language=language, doubtful_share=doubtful)
            record.update(route="draft")
    write_json(out / "run.json", run)


def item(source: str) -> str:
    return items_of([source])[0]


def test_doubtful_first_sends_the_hardest_items_the_highest_scores(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    _, out = make_run(tmp_path)
    add_metrics(out)
    report = run_upload(tmp_path, options())

    assert sorted(report.succeeded) == sorted(items_of())
    got = sa_server.priorities("Podcasts")
    assert got == {item(SOURCES[0]): 12.0, item(SOURCES[1]): 45.0, item(SOURCES[2]): 30.0}
    hardest = max(METRICS, key=lambda source: METRICS[source][0])
    assert served_order(got)[0] == item(hardest) == item(SOURCES[1])  # the platform serves it first
    assert served_order(got) == [item(SOURCES[1]), item(SOURCES[2]), item(SOURCES[0])]
    [sent] = sa_server.state.priority_requests  # one request, in the order the SDK got them: hardest first
    assert [score for _, _, score in sent] == [45.0, 30.0, 12.0]
    assert not sa_server.state.unhandled  # every request the SDK made has its real route
    assert report.metadata == {"priority": "doubtful_first", "priority_scores": 3, "custom_values": 3,
                               "custom_fields_created": sorted(FIELDS)}  # fmt: skip
    assert not report.warnings


def test_easy_first_reverses_the_order(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    _, out = make_run(tmp_path)
    add_metrics(out)
    run_upload(tmp_path, options(priority="easy_first"))

    got = sa_server.priorities("Podcasts")
    assert got == {item(SOURCES[0]): 88.0, item(SOURCES[1]): 55.0, item(SOURCES[2]): 70.0}
    easiest = min(METRICS, key=lambda source: METRICS[source][0])
    assert served_order(got)[0] == item(easiest) == item(SOURCES[0])
    assert served_order(got) == [item(SOURCES[0]), item(SOURCES[2]), item(SOURCES[1])]


def test_priority_none_sends_no_scores(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    _, out = make_run(tmp_path)
    add_metrics(out)
    report = run_upload(tmp_path, options(priority="none", custom_fields=False))

    assert sorted(report.succeeded) == sorted(items_of())
    assert "/images/updateEntropy" not in sa_server.paths()
    assert not [p for p in sa_server.paths() if "custom/metadata" in p]
    assert report.metadata == {"priority": "none", "priority_scores": 0, "custom_values": 0}


def test_custom_values_match_run_json_and_the_schema_is_created_once(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    _, out = make_run(tmp_path)
    add_metrics(out)
    first = run_upload(tmp_path, options())
    second = run_upload(tmp_path, options(), force=True)

    assert sa_server.custom_schema("Podcasts") == FIELDS
    assert sa_server.state.schema_creations == [("Podcasts", sorted(FIELDS))]  # the second run found it
    assert "custom_fields_created" not in second.metadata and second.metadata["custom_values"] == 3
    records = {r["item"]: r for r in json.loads((out / "run.json").read_text())["files"]}
    expected = {
        name: {"predicted_wer": r["predicted_wer"], "duration_seconds": r["duration"], "language": r["language"],
               "doubtful_share": r["doubtful_share"]}
        for name, r in records.items()
    }  # fmt: skip
    assert sa_server.custom_values("Podcasts") == expected
    write_upload_record(out, first)
    assert json.loads((out / "run.json").read_text())["upload"]["metadata"]["custom_values"] == 3


def test_unchanged_items_get_scores_and_human_edited_ones_do_not(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    _, out = make_run(tmp_path)
    add_metrics(out)
    run_upload(tmp_path, options(priority="none"))
    sa_server.set_status("Podcasts", item(SOURCES[1]), "Completed")
    # A changed draft of the completed item: the upload keeps the person's work, and its queue place.
    write_json(out / "superannotate" / f"{item(SOURCES[1])}.json", {**_annotation(out, SOURCES[1]), "tags": ["x"]})

    report = run_upload(tmp_path, options())
    assert report.kept_human_edits == [item(SOURCES[1])]
    assert sa_server.priorities("Podcasts") == {item(SOURCES[0]): 12.0, item(SOURCES[2]): 30.0}


def test_unchanged_items_no_longer_as_left_get_no_scores_nor_values(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    """An unchanged item is not uploaded, so the guard never sees it: its metadata is withheld when the listing
    shows it is someone else's item now (other audio), worked on (a status people gave) or gone."""
    _, out = make_run(tmp_path)
    add_metrics(out)
    run_upload(tmp_path, options(priority="none", custom_fields=False))
    foreign, worked, kept = item(SOURCES[0]), item(SOURCES[1]), item(SOURCES[2])
    sa_server.delete_item("Podcasts", foreign)  # replaced by an item of the same name playing other audio
    sa_server.add_item("Podcasts", foreign, "https://other-team.example/private/meeting-0412.wav")
    sa_server.set_status("Podcasts", worked, "QualityCheck")

    report = run_upload(tmp_path, options())
    assert {i.item: i.reason for i in report.items} == dict.fromkeys(items_of(), "unchanged since the last upload")
    assert sa_server.priorities("Podcasts") == {kept: 30.0}
    assert set(sa_server.custom_values("Podcasts")) == {kept}
    withheld = report.metadata["withheld"]
    assert set(withheld) == {foreign, worked} and "not this run's item" in withheld[foreign]
    assert withheld[worked] == "human-edited: status QualityCheck on SuperAnnotate"
    assert any("2 unchanged item(s) get no priority or custom values" in w for w in report.warnings)

    sa_server.delete_item("Podcasts", kept)  # gone: nothing is sent for it either (the platform would refuse)
    again = run_upload(tmp_path, options())
    assert again.metadata["withheld"][kept] == "no longer in the project"
    assert again.metadata["priority_scores"] == 0 and again.metadata["custom_values"] == 0


def test_unchanged_items_get_nothing_when_the_listing_fails(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    _, out = make_run(tmp_path)
    add_metrics(out)
    run_upload(tmp_path, options(priority="none", custom_fields=False))
    sa_server.inject("items/search", 500, times=50)  # the retries give up: the items' state is not known

    report = run_upload(tmp_path, options())
    assert sa_server.priorities("Podcasts") == {} and sa_server.custom_values("Podcasts") == {}
    assert set(report.metadata["withheld"]) == set(items_of())
    assert any(w.startswith("listing the unchanged items failed") for w in report.warnings)


def _annotation(out: Path, source: str) -> dict:
    return json.loads((out / "superannotate" / f"{item(source)}.json").read_text())


def test_failing_custom_values_leave_annotations_uploaded_with_a_warning(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    _, out = make_run(tmp_path)
    add_metrics(out)
    sa_server.inject("custom/metadata/item", 500, times=50)
    report = run_upload(tmp_path, options(max_attempts=2))

    assert sorted(report.succeeded) == sorted(items_of()) and not report.failed
    assert sa_server.paths().count("/__explore/api/v1/custom/metadata/item") == 2  # retried, then given up
    assert report.metadata["custom_values"] == 0 and report.metadata["priority_scores"] == 3
    assert any("custom field values of 3 item(s) not sent" in w for w in report.warnings)
    assert sa_server.custom_values("Podcasts") == {}


def test_older_runs_without_metrics_send_nothing_and_warn_once(
    sa_server: SuperAnnotateServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, out = make_run(tmp_path)
    add_metrics(out, {SOURCES[0]: METRICS[SOURCES[0]]})  # one file with metrics, two without
    with caplog.at_level(logging.WARNING):
        report = run_upload(tmp_path, options())

    assert sa_server.priorities("Podcasts") == {item(SOURCES[0]): 12.0}
    assert list(sa_server.custom_values("Podcasts")) == [item(SOURCES[0])]
    assert report.metadata["unknown"] == ["doubtful_share", "duration", "language", "predicted_wer"]
    assert not report.warnings
    assert sum("lacks" in r.getMessage() for r in caplog.records) == 1


def test_items_without_speech_send_what_they_have_and_warn_nothing(
    sa_server: SuperAnnotateServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A current run writes every key; a file without speech has no predicted WER, language or share.
    _, out = make_run(tmp_path)
    add_metrics(out, {SOURCES[0]: METRICS[SOURCES[0]], SOURCES[1]: (None, 5.0, None, None)})
    run = json.loads((out / "run.json").read_text())
    run["files"][2].update(predicted_wer=None, duration=None, language=None, doubtful_share=None)  # failed to decode
    write_json(out / "run.json", run)
    with caplog.at_level(logging.WARNING):
        report = run_upload(tmp_path, options())

    assert sa_server.priorities("Podcasts") == {item(SOURCES[0]): 12.0}
    assert sa_server.custom_values("Podcasts")[item(SOURCES[1])] == {"duration_seconds": 5.0}
    assert "unknown" not in report.metadata and not report.warnings
    assert not any("lacks" in r.getMessage() for r in caplog.records)


def test_the_server_refuses_what_the_platform_refuses(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    make_run(tmp_path)
    run_upload(tmp_path, options(priority="none", custom_fields=False))  # the project and its items
    session = preflight(options())
    session.create_custom_fields("Podcasts", {"duration_seconds": {"type": "number"}})
    with pytest.raises(Exception, match="already exists"):
        session.create_custom_fields("Podcasts", {"duration_seconds": {"type": "number"}})
    with pytest.raises(Exception, match="type must be"):
        session.create_custom_fields("Podcasts", {"when": {"type": "datetime"}})
    name = item(SOURCES[0])
    result = session.upload_custom_values(
        "Podcasts", [{name: {"duration_seconds": 3.0}}, {item(SOURCES[1]): {"nope": 1}}, {"ghost": {}}]
    )
    assert result["succeeded"] == [name] and sorted(result["failed"]) == sorted([item(SOURCES[1]), "ghost"])
    assert session.upload_custom_values("Podcasts", [{name: {"duration_seconds": "3 s"}}])["failed"] == [name]


def test_dry_run_lists_what_would_be_sent(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    inp, out = make_run(tmp_path)
    add_metrics(out)
    with caplog.at_level(logging.DEBUG, logger="preannotate.superannotate.metadata"):
        report = upload_run(out, options(dry_run=True), AnnotationOptions(), inp, None)
    assert report.metadata == {"priority": "doubtful_first", "priority_scores": 3, "custom_values": 3}
    lines = [r for r in caplog.records if r.name == "preannotate.superannotate.metadata"]
    # Per item at DEBUG, so that a dry run of thousands of items stays readable at INFO.
    debug = [r.getMessage() for r in lines if r.levelno == logging.DEBUG]
    assert f"dry run: would give {item(SOURCES[1])} priority 45.0" in debug
    assert any(m.startswith(f"dry run: would set custom fields of {item(SOURCES[2])}") for m in debug)
    assert len(debug) == 6
    [summary] = [r.getMessage() for r in lines if r.levelno == logging.INFO]
    assert summary == (
        "dry run: would send priority scores (doubtful_first) for 3 item(s), custom field values "
        "(predicted_wer, duration_seconds, language, doubtful_share) for 3 item(s)"
    )


def test_an_upload_logs_one_info_line_for_scores_and_values(
    sa_server: SuperAnnotateServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, out = make_run(tmp_path)
    add_metrics(out, {s: (*METRICS[s][:2], "", METRICS[s][3]) for s in METRICS})  # no language known
    with caplog.at_level(logging.DEBUG, logger="preannotate.superannotate.metadata"):
        run_upload(tmp_path, options(priority="easy_first"))
    infos = [
        r.getMessage()
        for r in caplog.records
        if r.name == "preannotate.superannotate.metadata" and r.levelno == logging.INFO
    ]
    assert infos[-1] == (
        "SuperAnnotate: sent priority scores (easy_first) for 3 item(s), custom field values "
        "(predicted_wer, duration_seconds, doubtful_share) for 3 item(s)"
    )
    assert len(infos) == 2 and infos[0].startswith("created custom fields")


# the score rules, without a server
@pytest.mark.parametrize(
    ("wer", "priority", "score"),
    [(0.25, "doubtful_first", 25.0), (0.25, "easy_first", 75.0), (1.7, "doubtful_first", 100.0),
     (-0.1, "easy_first", 100.0), (0.123456789, "doubtful_first", 12.346), (0.5, "none", None),
     (None, "doubtful_first", None), (float("nan"), "easy_first", None), (True, "doubtful_first", None)],
)  # fmt: skip
def test_priority_score(wer: object, priority: str, score: float | None) -> None:
    assert priority_score(wer, priority) == score  # type: ignore[arg-type]


def test_custom_values_keep_only_known_values_of_the_right_type() -> None:
    record = {"predicted_wer": 0.2, "duration": None, "language": "", "doubtful_share": 1.5}
    assert custom_values(record) == {"predicted_wer": 0.2}
    assert custom_values({"duration": "12", "language": "de", "doubtful_share": 0.25}) == {
        "language": "de",
        "doubtful_share": 0.25,
    }


def test_plan_orders_scores_and_names_unknown_keys() -> None:
    records = {"a": {"predicted_wer": 0.1}, "b": {"predicted_wer": 0.9, "duration": 3.0}, "c": {}}
    plan = plan_metadata(records, ["a", "b", "c"], "doubtful_first", fields=False)
    assert [s["name"] for s in plan.scores] == ["b", "a"] and plan.values == [] and plan.unknown == ["predicted_wer"]
    plan = plan_metadata(records, ["b"], "none", fields=True)
    assert plan.scores == [] and plan.values == [{"b": {"predicted_wer": 0.9, "duration_seconds": 3.0}}]
    assert plan.unknown == ["doubtful_share", "language"]


def test_priority_option_is_validated() -> None:
    with pytest.raises(ConfigError, match="superannotate.priority"):
        options(priority="hardest").validate()


def test_a_priority_call_failing_part_way_counts_what_was_sent(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    """The SDK sends 100 scores per request and stops at the first failure: 100 were stored, run.json said 0."""
    sources = [f"en/f{i:03d}.wav" for i in range(150)]
    _, out = make_run(tmp_path, sources)
    add_metrics(out, {source: (0.1 + i / 1000, 10.0, "en", 0.1) for i, source in enumerate(sources)})
    sa_server.inject("images/updateEntropy", 400, times=100, after=1)  # the second request fails, every try
    report = run_upload(tmp_path, options(custom_fields=False))
    assert len(sa_server.priorities("Podcasts")) == report.metadata["priority_scores"] == 100
    assert any("priority scores of 50 item(s) not sent" in w for w in report.warnings), report.warnings


def test_custom_fields_whose_creation_answer_was_lost_are_used(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    """The fields were made but the answer lost: the retry's "already exists" cost every value of the upload."""
    _, out = make_run(tmp_path)
    add_metrics(out)
    sa_server.inject("custom/metadata/schema", "lost", method="POST")
    report = run_upload(tmp_path, options())
    assert report.metadata["custom_values"] == 3 and len(sa_server.custom_values("Podcasts")) == 3, report.warnings


def test_a_value_outside_an_existing_fields_spec_is_left_out_alone(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    """Another team's predicted_wer with a maximum of 1: an item with 1.3 lost all four of its values."""
    _, out = make_run(tmp_path)
    add_metrics(out, {**METRICS, SOURCES[1]: (1.3, 12.0, "es", 0.5)})
    session = preflight(options())
    session.ensure_project("Podcasts", "Another team's project")
    session.create_custom_fields("Podcasts", {"predicted_wer": {"type": "number", "minimum": 0, "maximum": 1}})
    report = run_upload(tmp_path, options())
    values = sa_server.custom_values("Podcasts")
    assert values[item(SOURCES[1])] == {"duration_seconds": 12.0, "language": "es", "doubtful_share": 0.5}
    assert values[item(SOURCES[0])]["predicted_wer"] == 0.12 and report.metadata["custom_values"] == 3
    assert any("predicted_wer (1 item(s)" in w for w in report.warnings), report.warnings
