"""`preannotate batch` given careless input, a run that cannot write, Ctrl-C and `--resume`: no kernel is started.

Bad input stops the batch with exit code 2 and a message naming the file or run and the problem,
before any file is written; where runs would execute, `execute` is replaced by a stand-in.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.batch_plans import NOTEBOOK, write_yaml
from support.notebooks import CORRECTION

from preannotate import batch, cli, notebook
from preannotate.batch import execution
from preannotate.errors import ConfigError

TOKEN = "batch-audit-team-token-0123=42"  # shaped like a team token


def batch_main(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = cli.main(["batch", *args])
    said = capsys.readouterr()
    return code, said.out, said.err


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"runs": []}, "`runs:` lists no run"),
        ({"defaults": ["model", "tiny"], "runs": [{"name": "a"}]}, "`defaults:` must be a mapping of parameters"),
        ({"runs": [{"name": ["a"]}]}, "run 1: `name` must be text (quote it), not ['a']"),
        ({"runs": [{"name": "a"}, {"name": True}]}, "run 2: `name` must be text (quote it), not True"),
        ({"runs": [{"name": "a", 5: "x"}]}, "unknown parameter of run 'a': 5"),
        ({"runs": [{"name": "a", "overrides": "patience 2"}]}, "run 'a': `overrides` must be a mapping"),
        ({"runs": [{"name": "a", "beam_size": "five"}]}, "run 'a': transcribe.beam_size: 'five' is not a valid int"),
        ({"runs": [{"name": "a", "overrides": {"cloud.key": "x"}}]}, "run 'a': unknown option 'cloud'"),
        ({"runs": [{"name": "En"}, {"name": "en"}]}, "run names must differ: En, en (a name becomes a folder"),
        ({"runs": [{"name": "a/b"}, {"name": "a_b"}]}, "run names must differ: a_b (a name becomes a folder"),
        (
            {"runs": [{"name": "a", "output_dir": "/data/x/"}, {"name": "b", "output_dir": "/data/./x"}]},
            "runs must not share an output_dir: ['/data/x']",
        ),
    ],
)
@pytest.mark.parametrize("dry_run", [True, False])
def test_a_bad_runs_file_exits_2_naming_the_problem_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture, spec: dict, message: str, dry_run: bool
) -> None:
    runs = write_yaml(tmp_path / "runs.yaml", spec)
    code, _, err = batch_main(capsys, "--runs", str(runs), "--out", str(tmp_path / "out"), *["--dry-run"] * dry_run)
    assert code == cli.EXIT_USAGE and message in err and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["5", "[a, b]"])
def test_overrides_on_the_command_line_must_be_a_mapping(
    tmp_path: Path, capsys: pytest.CaptureFixture, value: str
) -> None:
    runs = write_yaml(tmp_path / "runs.yaml", {"runs": [{"name": "a"}]})
    code, _, err = batch_main(capsys, "--runs", str(runs), "-p", "overrides", value, "--dry-run")
    assert code == cli.EXIT_USAGE and "run 'a': `overrides` must be a mapping" in err


def test_null_overrides_are_no_overrides(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    runs = write_yaml(tmp_path / "runs.yaml", {"runs": [{"name": "a", "overrides": None}]})
    code, out, _ = batch_main(capsys, "--runs", str(runs), "--out", str(tmp_path / "out"), "--dry-run")
    assert code == 0 and "overrides: None" in out


def test_the_notebook_refuses_overrides_that_are_not_a_mapping() -> None:
    with pytest.raises(ConfigError, match="overrides must be a mapping of dotted option keys to values, not str"):
        notebook.config_from_parameters({"overrides": "patience 2"})


def test_a_url_with_a_password_is_refused_and_never_quoted(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    url = "s3://AKIAEXAMPLE:wJalrXUtnFEMIK7MDENG@team-audio/calls"
    runs = write_yaml(tmp_path / "runs.yaml", {"runs": [{"name": "a", "input_dir": url}]})
    code, out, err = batch_main(capsys, "--runs", str(runs), "--out", str(tmp_path / "out"))
    assert code == cli.EXIT_USAGE and "run 'a': parameter input_dir: the URL holds a password" in err
    assert "wJalrXUtnFEMIK7MDENG" not in out + err and not (tmp_path / "out").exists()


def test_a_yaml_date_is_the_text_papermill_hands_the_notebook(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    runs = tmp_path / "runs.yaml"
    runs.write_text("runs: [{name: a, initial_prompt: 2024-01-01}]\n", encoding="utf-8")
    code, out, _ = batch_main(capsys, "--runs", str(runs), "--out", str(tmp_path / "out"), "--dry-run")
    assert code == 0 and "initial_prompt: '2024-01-01'" in out


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("runs: []\n"), "cannot be read as a notebook: Notebook does not appear to be JSON"),
        (lambda p: p.mkdir(), "is not a file"),
    ],
)
def test_a_notebook_argument_that_is_no_notebook_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture, make, message: str
) -> None:
    make(tmp_path / "nb.ipynb")
    runs = write_yaml(tmp_path / "runs.yaml", {"runs": [{"name": "a"}]})
    code, _, err = batch_main(capsys, str(tmp_path / "nb.ipynb"), "--runs", str(runs), "--dry-run")
    assert code == cli.EXIT_USAGE and f"notebook {tmp_path / 'nb.ipynb'} {message}" in err and "Traceback" not in err


def test_a_config_folder_without_yaml_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for folder in ("configs", "typo"):
        (tmp_path / folder).mkdir()
    write_yaml(tmp_path / "configs" / "en.yaml", {"transcribe": {"language": "en"}})
    code, _, err = batch_main(capsys, "--configs", str(tmp_path / "configs"), str(tmp_path / "typo"), "--dry-run")
    assert code == cli.EXIT_USAGE and f"no config files (*.yaml, *.yml) in {tmp_path / 'typo'}" in err


def test_a_datasets_file_is_not_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "data").touch()
    code, _, err = batch_main(capsys, "--datasets", str(tmp_path / "data"), "--dry-run")
    assert code == cli.EXIT_USAGE and f"datasets folder {tmp_path / 'data'} is not a folder" in err


def test_out_being_a_file_stops_the_batch_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(execution, "execute", lambda nb, run: pytest.fail("a run started"))
    (tmp_path / "out").write_text("notes")
    runs = write_yaml(tmp_path / "runs.yaml", {"runs": [{"name": "a"}]})
    code, _, err = batch_main(capsys, "--runs", str(runs), "--out", str(tmp_path / "out"))
    assert code == cli.EXIT_USAGE and "is a file, not a folder" in err and "Traceback" not in err
    assert (tmp_path / "out").read_text() == "notes"


def test_a_run_whose_folder_cannot_be_made_fails_alone(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("in the way")
    outcome = batch.execute(NOTEBOOK, batch.Run("a", {}, tmp_path / "a" / "run"))
    assert outcome.status == batch.FAILED and outcome.message.startswith(f"cannot write {tmp_path / 'a' / 'run'}: ")


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """Python's own SIGINT handler, as a terminal's Ctrl-C meets it: a shell starting tests in the background
    without job control makes them ignore SIGINT, and an ignored signal raises nothing."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.mark.usefixtures("ctrl_c_raises")
def test_ctrl_c_starts_no_more_runs_and_prints_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, stopping = [], threading.Event()

    def execute(nb: Path, run: batch.Run) -> batch.Outcome:
        started.append(run.name)
        if run.name == "b":  # as a terminal's Ctrl-C: SIGINT to the main thread, papermill then fails
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
            # papermill takes seconds to stop: return once the batch has seen the Ctrl-C, however loaded the machine
            assert stopping.wait(30)
            return batch.Outcome(run, batch.FAILED, 1.0, "KeyboardInterrupt: ")
        return batch.Outcome(run, batch.OK, 1.0)

    monkeypatch.setattr(execution, "execute", execute)
    monkeypatch.setattr(execution, "_stop_children", lambda **_: stopping.set())  # no papermill process to wait for
    runs = write_yaml(tmp_path / "runs.yaml", {"runs": [{"name": n} for n in "abc"]})
    code, out, err = batch_main(capsys, "--runs", str(runs), "--out", str(tmp_path / "out"), "--jobs", "1")
    assert code == cli.EXIT_INTERRUPTED and started == ["a", "b"], out + err
    table = {line.split()[0]: line.split()[1] for line in out.splitlines() if line[:2] in ("a ", "b ", "c ")}
    assert table == {"a": batch.OK, "b": batch.INTERRUPTED, "c": batch.NOT_STARTED}
    assert "b: interrupted (Ctrl-C): KeyboardInterrupt\n" in out and "run the batch again with --resume" in out


# A stand-in for papermill: saving its notebook after the first Ctrl-C takes long; a second one stops it.
SLOW_TO_STOP = """
import signal, sys, time
signal.signal(signal.SIGINT, lambda *_: signal.signal(signal.SIGINT, lambda *_: sys.exit(1)))
print("ready", flush=True)
time.sleep(120)
"""


def ctrl_c(child: subprocess.Popen) -> None:
    """What a terminal's Ctrl-C does: SIGINT to every process of the group, this one's main thread included."""
    child.send_signal(signal.SIGINT)
    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)


def inside(function: str) -> bool:
    """Whether the main thread is running `function` now."""
    frame = sys._current_frames().get(threading.main_thread().ident or 0)
    while frame is not None and frame.f_code.co_name != function:
        frame = frame.f_back
    return frame is not None


@pytest.mark.usefixtures("ctrl_c_raises")
def test_a_second_ctrl_c_stops_the_wait_for_notebooks_and_still_prints_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def execute(nb: Path, run: batch.Run) -> batch.Outcome:
        if run.name == "a":
            return batch.Outcome(run, batch.OK, 1.0)
        child = subprocess.Popen([sys.executable, "-c", SLOW_TO_STOP], stdout=subprocess.PIPE, text=True,
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
        assert child.stdout and child.stdout.readline() == "ready\n"
        with execution._children_lock:
            execution._children.add(child)
        ctrl_c(child)
        deadline = time.monotonic() + 30
        while not inside("_stop_children") and time.monotonic() < deadline:  # the batch waits for the notebook
            time.sleep(0.01)
        ctrl_c(child)  # and a second time
        code = child.wait(60)
        with execution._children_lock:
            execution._children.discard(child)
        return batch.Outcome(run, batch.FAILED, 1.0, f"papermill exited with {code}")

    monkeypatch.setattr(execution, "execute", execute)
    monkeypatch.setattr(execution, "STOP_GRACE_S", 60.0)
    runs = write_yaml(tmp_path / "runs.yaml", {"runs": [{"name": n} for n in "abc"]})
    code, out, err = batch_main(capsys, "--runs", str(runs), "--out", str(tmp_path / "out"), "--jobs", "1")
    assert code == cli.EXIT_INTERRUPTED and "Ctrl-C again: interrupting the running notebooks now" in err
    table = {line.split()[0]: line.split()[1] for line in out.splitlines() if line[:2] in ("a ", "b ", "c ")}
    assert table == {"a": batch.OK, "b": batch.INTERRUPTED, "c": batch.NOT_STARTED}, out + err


# A stand-in for papermill that saves and stops at SIGINT, and never stops by itself.
STOPS_AT_CTRL_C = """
import signal, sys, time
signal.signal(signal.SIGINT, lambda *_: sys.exit(1))
print("ready", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_sigterm_stops_the_batch_and_its_notebooks_as_ctrl_c_does(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """A scheduler's stop reaches the batch alone, not its papermill processes: they ran on, orphaned, holding their
    run folders' locks, and a rerun called the runs failed while the orphans finished them."""
    orphans = []

    def execute(nb: Path, run: batch.Run) -> batch.Outcome:
        if run.name == "a":
            return batch.Outcome(run, batch.OK, 1.0)
        child = subprocess.Popen([sys.executable, "-c", STOPS_AT_CTRL_C], stdout=subprocess.PIPE, text=True)
        orphans.append(child)
        assert child.stdout and child.stdout.readline() == "ready\n"
        with execution._children_lock:
            execution._children.add(child)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.Signals[name])  # to the batch alone
        code = child.wait(60)
        with execution._children_lock:
            execution._children.discard(child)
        return batch.Outcome(run, batch.FAILED, 1.0, f"papermill exited with {code}")

    monkeypatch.setattr(execution, "execute", execute)
    monkeypatch.setattr(execution, "STOP_GRACE_S", 60.0)  # it is told at once, not after the grace
    runs = write_yaml(tmp_path / "runs.yaml", {"runs": [{"name": n} for n in "abc"]})
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)
    code, out, err = batch_main(capsys, "--runs", str(runs), "--out", str(tmp_path / "out"), "--jobs", "1")
    assert code == cli.EXIT_INTERRUPTED and [c.returncode for c in orphans] == [1], out + err
    table = {line.split()[0]: line.split()[1] for line in out.splitlines() if line[:2] in ("a ", "b ", "c ")}
    assert table == {"a": batch.OK, "b": batch.INTERRUPTED, "c": batch.NOT_STARTED}, out + err
    assert f"b: interrupted ({name}): papermill exited with 1" in out
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)) == before  # handlers given back


def finished_earlier(run: batch.Run, upload: dict | None = None) -> None:
    """Writes what a successful execution of `run` leaves: papermill's metadata and run.json."""
    run.folder.mkdir(parents=True, exist_ok=True)
    meta = {"papermill": {"end_time": "2024-01-01T00:00:00", "exception": None, "parameters": run.parameters}}
    (run.folder / batch.EXECUTED).write_text(json.dumps({"cells": [], "metadata": meta}))
    summary = {"files": 1, "failed": 0, "chunks": 1, "audio_seconds": 1.0}
    Path(run.parameters["output_dir"], "run.json").write_text(json.dumps({"summary": summary, "upload": upload}))


def resumed(runs: list[batch.Run], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setattr(execution, "execute", lambda nb, run: batch.Outcome(run, batch.OK))
    return {o.run.name: o.status for o in batch.run_batch(NOTEBOOK, runs, resume=True)}


def test_resume_compares_a_yaml_date_as_papermill_saved_it(
    tmp_path: Path, known: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = tmp_path / "runs.yaml"
    runs.write_text("runs: [{name: a, initial_prompt: 2024-01-01}]\n", encoding="utf-8")
    (run,) = batch.prepare(batch.runs_from_file(runs, {}, tmp_path / "out"), known)
    finished_earlier(run)
    assert resumed([run], monkeypatch) == {"a": batch.SKIPPED}


@pytest.mark.parametrize(
    ("dry_run", "token", "status"),
    [(None, TOKEN, batch.OK), (None, None, batch.SKIPPED), (True, TOKEN, batch.SKIPPED)],
)
def test_resume_runs_again_a_dry_run_made_for_want_of_a_token(
    tmp_path: Path, known: dict, monkeypatch: pytest.MonkeyPatch, sa_clean_env: None, dry_run, token, status
) -> None:
    params = {} if dry_run is None else {"dry_run": dry_run}
    (run,) = batch.prepare([batch.Run("a", params, tmp_path / "a")], known)
    finished_earlier(run, {"dry_run": True, "summary": {"succeeded": 0, "failed": 0}})
    if token:
        monkeypatch.setenv("SA_TOKEN", token)
    assert resumed([run], monkeypatch) == {"a": status}


def test_resume_runs_again_over_a_damaged_notebook(
    tmp_path: Path, known: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    (run,) = batch.prepare([batch.Run("a", {}, tmp_path / "a")], known)
    finished_earlier(run)
    (run.folder / batch.EXECUTED).write_text("[1, 2]")
    assert resumed([run], monkeypatch) == {"a": batch.OK}


@pytest.mark.parametrize(
    "runs",
    [
        [{"name": "a", "run_dir": "/data/latest"}, {"name": "b", "run_dir": "/data/latest/."}],
        [{"name": "a"}, {"name": "b", "statuses": ["InProgress"]}],  # both the notebook's default, runs/latest
    ],
)
def test_correction_runs_sharing_a_run_dir_are_refused_before_any_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture, runs: list[dict]
) -> None:
    """The second run's pull and report would replace the first's in the same run folder."""
    spec = write_yaml(tmp_path / "runs.yaml", {"defaults": {"project": "P"}, "runs": runs})
    code, _, err = batch_main(capsys, str(CORRECTION), "--runs", str(spec), "--out", str(tmp_path / "out"), "--dry-run")
    assert code == cli.EXIT_USAGE and "runs must not share a run_dir" in err, err
