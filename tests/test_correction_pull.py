"""`preannotate pull` keeps a run's corrections its own, and `report`/`export` read only a sound pulled.json.

A project the run was never uploaded to can hold items of the same names: pulling from it would put
someone else's annotations in `corrected/`, and `export` would publish them. Runs are uploaded with
the real SDK to the loopback server and pulled with the real command line.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from support.correction_runs import ANNOTATION, PROJECT, annotate, make_run, run_cli, sa_options, set_text, upload
from support.pulled_runs import make_pulled_run
from support.sa_server import SuperAnnotateServer, pointed_at_server

from preannotate.correction import pull_run
from preannotate.correction.pull import load_pull, open_session
from preannotate.errors import CorrectionInputError
from preannotate.superannotate import LEDGER_FILE, preflight, upload_run, write_upload_record

OTHER = "Someone else's"


def upload_to(project: str, inp: Path, out: Path) -> None:
    """Uploads the run to `project` with the real SDK (the project is made if missing)."""
    options = replace(sa_options(), project=project)
    assert upload_run(out, options, ANNOTATION, inp, preflight(options)).succeeded


def new_run(root: Path) -> tuple[Path, Path]:
    root.mkdir()
    return make_run(root)


def state(out: Path) -> dict[str, bytes]:
    """pulled.json and every file under corrected/, byte for byte."""
    files = [out / "pulled.json", *sorted((out / "corrected").rglob("*"))]
    return {str(p.relative_to(out)): p.read_bytes() for p in files if p.is_file()}


def pull(out: Path, *args: str):
    return run_cli("pull", "-o", str(out), *args)


def test_pull_refuses_a_project_the_run_was_not_uploaded_to(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    # Someone else's run, with items of the same names, in their own project.
    other_in, other_out = new_run(tmp_path / "theirs")
    upload_to(OTHER, other_in, other_out)
    theirs = sa_server.annotation(OTHER, "talk.wav")
    set_text(theirs, 0, "Not this run's words.")
    sa_server.set_annotation(OTHER, "talk.wav", theirs)
    inp, out = new_run(tmp_path / "ours")
    upload(inp, out)
    annotate(sa_server)
    assert pull(out).returncode == 1  # the ledger's one project; hello.wav was removed from it
    before, requests = state(out), len(sa_server.paths())

    refused = pull(out, "--set", f"superannotate.project={OTHER}")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
    assert f"refusing to pull from {OTHER!r}" in refused.stderr and f"uploaded to {PROJECT!r}" in refused.stderr
    assert f"give superannotate.project={PROJECT}" in refused.stderr
    assert state(out) == before and len(sa_server.paths()) == requests  # nothing asked of SuperAnnotate
    with pytest.raises(CorrectionInputError, match="refusing to pull"):
        pull_run(out, OTHER, open_session(sa_options()))
    assert state(out) == before and load_pull(out).project == PROJECT


def test_pull_refuses_the_project_of_that_name_on_another_host(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    inp, out = new_run(tmp_path / "ours")
    upload(inp, out)
    annotate(sa_server)
    # another SuperAnnotate host with a project of the name (leaving the block points back at the run's own)
    with pytest.MonkeyPatch.context() as mp, pointed_at_server(mp) as elsewhere:
        other_in, other_out = new_run(tmp_path / "theirs")
        upload(other_in, other_out)
        requests = len(elsewhere.paths())
        refused = pull(out)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
        assert f"refusing to pull from {PROJECT!r} at {elsewhere.url.split('//')[1]}" in refused.stderr
        assert f"uploaded to the project of that name at {sa_server.url.split('//')[1]}" in refused.stderr
        assert not (out / "corrected").exists() and not (out / "pulled.json").exists()
        assert not [p for p in elsewhere.paths()[requests:] if "download" in p]  # no annotation was asked for
    assert pull(out).returncode == 1  # back on the run's own host: pulled (hello.wav was removed there)
    assert load_pull(out).project == PROJECT and (out / "corrected" / "talk.wav.json").is_file()


def test_a_run_uploaded_by_other_means_is_pulled_from_one_project(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    inp, out = make_run(tmp_path)
    upload(inp, out)
    (out / LEDGER_FILE).unlink()  # as if uploaded by hand: no record of where
    nameless = pull(out)
    assert nameless.returncode == 2 and "the upload ledger names none" in nameless.stderr, nameless.stderr
    first = pull(out, "--set", f"superannotate.project={PROJECT}")
    assert first.returncode == 0 and "pulled 4 annotation(s)" in first.stdout, first.stderr
    upload_to(OTHER, *new_run(tmp_path / "theirs"))
    before = state(out)

    refused = pull(out, "--set", f"superannotate.project={OTHER}")
    assert refused.returncode == 2, refused.stderr
    assert f"hold the corrections pulled from {PROJECT!r}" in refused.stderr and "aside" in refused.stderr
    assert state(out) == before
    again = pull(out)  # the previous pull's project
    assert again.returncode == 0 and f"from {PROJECT!r}" in again.stdout, again.stderr


def test_a_run_uploaded_to_two_projects_is_pulled_from_the_one_named(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    inp, out = make_run(tmp_path)
    upload(inp, out)
    upload_to(OTHER, inp, out)
    unnamed = pull(out)
    assert unnamed.returncode == 2, unnamed.stderr
    assert f"the upload ledger names 2, {PROJECT!r}, {OTHER!r}; choose one with --set" in unnamed.stderr
    assert pull(out, "--set", f"superannotate.project={PROJECT}").returncode == 0
    before = state(out)

    switched = pull(out, "--set", f"superannotate.project={OTHER}")
    assert switched.returncode == 2 and "move pulled.json and corrected/ aside" in switched.stderr, switched.stderr
    assert state(out) == before
    shutil.move(out / "pulled.json", tmp_path / "pulled.json")
    shutil.move(out / "corrected", tmp_path / "corrected")
    moved = pull(out, "--set", f"superannotate.project={OTHER}")
    assert moved.returncode == 0 and f"from {OTHER!r}" in moved.stdout, moved.stderr


def test_an_item_of_the_same_name_playing_other_audio_is_not_pulled(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    inp, out = make_run(tmp_path)
    upload(inp, out)
    annotate(sa_server)  # hello.wav removed from the project
    # Someone else attaches their own hello.wav and completes it; the upload guard would keep it, and so must pull.
    sa_server.add_item(PROJECT, "hello.wav", "https://other-team.example/private/hello.wav", status="Completed")
    theirs = sa_server.annotation(PROJECT, "talk.wav")
    set_text(theirs, 0, "Someone else's recording.")
    theirs["metadata"]["name"] = "hello.wav"
    sa_server.set_annotation(PROJECT, "hello.wav", theirs)
    with sa_server.state.lock:  # a presigned URL of our own object: a new signature, the same audio
        fox = sa_server.state.items[sa_server.project(PROJECT)["id"]]["fox.wav"]
        fox["url"] += "?X-Amz-Signature=abc&X-Amz-Expires=3600"

    result = pull(out)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    pulled = {i.item: i for i in load_pull(out).items}
    assert "not this run's item: it plays https://other-team.example/private/hello.wav" in pulled["hello.wav"].problem
    assert "media.example.org/a/hello.wav" in pulled["hello.wav"].problem
    assert pulled["hello.wav"].file is None and not pulled["hello.wav"].selected
    assert not (out / "corrected" / "hello.wav.json").exists()
    assert {name for name, i in pulled.items() if i.file} == {"talk.wav", "fox.wav", "count.wav"}
    assert "X-Amz-Signature" not in result.stdout + result.stderr


def test_a_same_named_item_the_upload_kept_as_not_this_runs_is_not_pulled(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    setup_in, setup_out = new_run(tmp_path / "setup")
    upload(setup_in, setup_out)  # the project exists; then someone else's fox.wav takes the name before our upload
    with sa_server.state.lock:
        del sa_server.state.items[sa_server.project(PROJECT)["id"]]["fox.wav"]
    sa_server.add_item(PROJECT, "fox.wav", "https://other-team.example/private/fox.wav")
    inp, out = new_run(tmp_path / "ours")
    options = sa_options()
    report = upload_run(out, options, ANNOTATION, inp, preflight(options))
    write_upload_record(out, report)  # as `preannotate upload` and `preannotate run` record it
    kept = next(i for i in report.items if i.item == "fox.wav")
    assert report.kept_human_edits == ["fox.wav"] and "not this run's item" in (kept.reason or "")

    assert pull(out).returncode == 1
    pulled = {i.item: i for i in load_pull(out).items}
    assert "it plays https://other-team.example/private/fox.wav" in pulled["fox.wav"].problem
    assert not (out / "corrected" / "fox.wav.json").exists() and pulled["talk.wav"].file


def test_pull_lists_an_item_repeated_in_run_json_once(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    inp, out = make_run(tmp_path)
    upload(inp, out)
    run = json.loads((out / "run.json").read_text())
    run["files"].append(dict(run["files"][0]))
    (out / "run.json").write_text(json.dumps(run))
    pulled = pull_run(out, PROJECT, open_session(sa_options()))
    assert sorted(pulled.pulled) == ["count.wav", "fox.wav", "hello.wav", "talk.wav"]
    assert len(load_pull(out).items) == 4


def first(key: str, value: object):
    return lambda p: p["items"][0].update({key: value})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.pop("project"), "project missing"),
        (lambda p: p.pop("format"), "format missing"),
        (
            lambda p: [p.pop(k) for k in ("project", "target", "statuses", "pulled_at")],
            "project, target, statuses, pulled_at missing",
        ),
        (lambda p: p.update(statuses=None), "statuses is null, not a list"),
        (lambda p: p.update(statuses=[1]), "statuses is a list ([1]), not a list of strings"),
        (first("problem", 3), "items[0].problem is an integer (3), not a string or null"),
        (first("selected", "no"), "items[0].selected is a string ('no'), not true or false"),
        (first("status", ["Completed"]), "items[0].status is a list (['Completed']), not a string or null"),
        (first("item", 5), "items[0].item is an integer (5), not a string"),
        (first("extra", 1), "items[0] has unknown field(s) 'extra'"),
        (lambda p: p["items"].append(dict(p["items"][0])), "items[1]: item 'a.wav' is listed twice"),
        (lambda p: p["items"].append("b.wav"), "items[1] is a string ('b.wav'), not an object"),
        (lambda p: p.update(items={}), "items is an object ({}), not a list"),
        (lambda p: p.update(format=True), "format is true or false (True), not 1"),
        (lambda p: p.update(format=2), "format is an integer (2), not 1"),
        (None, "it is not valid JSON"),
    ],
)
def test_a_damaged_pulled_json_stops_report_and_export_with_its_problem(tmp_path: Path, change, message: str) -> None:
    out = make_pulled_run(tmp_path, {"a.wav": (np.zeros(16000, np.float32), [(0.0, 1.0, "Hi.")])})
    path = out / "pulled.json"
    if change is None:
        path.write_text('{"format": 1, "items": [')
    else:
        pulled = json.loads(path.read_text())
        change(pulled)
        path.write_text(json.dumps(pulled))
    for command in ("report", "export"):
        done = run_cli(command, "-o", str(out), "-i", str(tmp_path / "in"))
        assert done.returncode == 2 and "Traceback" not in done.stderr, (command, done.stderr)
        assert f"{path} is not a pull index of format 1 ({message})" in done.stderr, (command, done.stderr)
    with pytest.raises(CorrectionInputError, match="run `preannotate pull` to pull again"):
        load_pull(out)
