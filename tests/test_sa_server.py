"""The loopback server refuses what SuperAnnotate refuses: annotations are checked with the shared schema.

The real SDK validates nothing locally for Video projects; a bad annotation only comes back among the
`failed` names of `upload_annotations` (/work/shared/notes/superannotate.md). These tests send through the
real SDK, so they fail if the server stores what the platform would refuse.
"""

from __future__ import annotations

import copy

import pytest
from support.sa_schema import schema_problems, video_errors
from support.sa_server import SuperAnnotateServer
from support.upload_runs import class_defs, video_json

from preannotate.options import SuperAnnotateOptions
from preannotate.superannotate import preflight

PROJECT = "Checks"
NAMES = ("good.wav", "bad.wav")
CLASSES = class_defs()


def good(name: str) -> dict:
    return video_json(name, [(0.0, 0.9, "Hello.")], duration=1.0)


def broken(change: str) -> dict:
    """`bad.wav`'s annotation with one thing wrong, as a client might send it."""
    d = copy.deepcopy(good("bad.wav"))
    parameter = d["instances"][0]["parameters"][0]
    if change == "float time":
        parameter["timestamps"][1]["timestamp"] = 0.9
    elif change == "one timestamp":
        parameter["timestamps"] = parameter["timestamps"][:1]
    elif change == "empty text":
        parameter["timestamps"][0]["attributes"][0]["name"] = ""
    elif change == "string duration":
        d["metadata"]["duration"] = "1000000"
    elif change == "negative start":
        d["instances"][0]["meta"]["start"] = -1
    elif change == "timestamp outside":
        parameter["timestamps"][1]["timestamp"] = 950_000
    return d


@pytest.fixture
def session(sa_server: SuperAnnotateServer):
    session = preflight(SuperAnnotateOptions(project=PROJECT, backoff_seconds=0.0))
    session.ensure_project(PROJECT, "schema checks")
    session.create_class(PROJECT, CLASSES[0])
    session.attach(PROJECT, [{"name": n, "url": f"https://media.example.org/{n}"} for n in NAMES])
    return session


@pytest.mark.parametrize(
    "change", ["float time", "one timestamp", "empty text", "string duration", "negative start", "timestamp outside"]
)
def test_a_bad_annotation_is_reported_failed_and_not_stored(
    sa_server: SuperAnnotateServer, session, change: str
) -> None:
    result = session.upload(PROJECT, [good("good.wav"), broken(change)])
    assert result["succeeded"] == ["good.wav"] and result["failed"] == ["bad.wav"]
    assert dict(sa_server.upload_counts) == {(PROJECT, "good.wav"): 1}


def test_unknown_class_and_group_are_missing_resources() -> None:
    items = {"a.wav": {}}
    d = good("a.wav")
    stamp = d["instances"][0]["parameters"][0]["timestamps"][0]
    stamp["attributes"] = [*stamp["attributes"], {"groupName": "Mood", "name": "calm"}]
    assert video_errors(d, "a.wav", items, CLASSES) == [("attributeGroup", "Mood")]
    d["instances"][0]["meta"]["className"] = "speech"
    assert video_errors(d, "a.wav", items, CLASSES) == [("class", "speech")]


def test_the_server_and_the_exporter_checks_share_one_schema() -> None:
    d = broken("float time")
    [problem] = schema_problems(d)
    assert video_errors(d, "bad.wav", {"bad.wav": {}}, CLASSES) == [("error", problem)]
