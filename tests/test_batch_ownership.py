"""`preannotate batch` overwrites only its own files: a run folder or output folder of the user's stops it.

In `<out>/<run name>/` a batch writes `parameters.yaml`, `papermill.log` and `notebook.ipynb` (and its
marker); a folder holding any of them that no batch is shown to have written (`--datasets data --out
data`, an `--out` where a project keeps a notebook of its own) stops the batch with exit code 2 before any
run starts, and everything in it is kept byte for byte. Most tests replace `execute` with a stand-in that
records the runs started; one executes real notebooks: a batch, `--resume` over a damaged notebook of its
own, then its folders as an earlier version (without the marker) left them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support.batch_plans import ROOT, write_yaml

from preannotate import batch, cli
from preannotate.batch import execution

MINE = b'{"cells": [], "metadata": {"mine": true}, "nbformat": 4, "nbformat_minor": 5}\n'  # a user's notebook


def batch_main(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = cli.main(["batch", *args])
    said = capsys.readouterr()
    return code, said.out, said.err


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the runs started: `execute` is a stand-in that writes nothing and succeeds."""
    names: list[str] = []

    def execute(nb: Path, run: batch.Run) -> batch.Outcome:
        names.append(run.name)
        return batch.Outcome(run, batch.OK)

    monkeypatch.setattr(execution, "execute", execute)
    return names


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", [batch.EXECUTED, batch.PARAMETERS_FILE, batch.LOG_FILE])
@pytest.mark.parametrize("dry_run", [False, True])
def test_a_users_file_in_a_run_folder_stops_the_batch_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture, started: list[str], name: str, dry_run: bool
) -> None:
    (tmp_path / "out" / "b").mkdir(parents=True)
    (tmp_path / "out" / "b" / name).write_bytes(MINE)
    runs = write_yaml(tmp_path / "runs.yaml", {"runs": [{"name": "a"}, {"name": "b"}]})
    before = snapshot(tmp_path)
    code, out, err = batch_main(capsys, "--runs", str(runs), "--out", str(tmp_path / "out"), *["--dry-run"] * dry_run)
    assert code == cli.EXIT_USAGE and started == [] and out == "", out + err
    assert f"run folder {tmp_path / 'out' / 'b'} holds {name}, and neither {batch.MARKER} nor" in err
    assert "the batch would overwrite them, so no run was started" in err and "Traceback" not in err
    assert snapshot(tmp_path) == before and not (tmp_path / "out" / "a").exists()  # a, fine, did not start either


def test_out_the_datasets_folder_keeps_a_users_notebook_and_parameters(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / "data" / name).mkdir(parents=True)
        shutil.copy(ROOT / "samples" / "en" / "hello_world.wav", tmp_path / "data" / name)
    (tmp_path / "data" / "b" / batch.EXECUTED).write_bytes(MINE)
    (tmp_path / "data" / "b" / batch.PARAMETERS_FILE).write_bytes(b"input_dir: .\nmodel: small  # mine\n")
    before = snapshot(tmp_path)
    command = [sys.executable, "-m", "preannotate", "batch", "--datasets", "data", "--out", "data"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == cli.EXIT_USAGE, result.stdout + result.stderr
    assert f"run folder data/b holds {batch.PARAMETERS_FILE}, {batch.EXECUTED}, and neither" in result.stderr
    assert snapshot(tmp_path) == before  # the other dataset's folder too: no marker, no notebook
    assert result.stdout == ""


def test_each_refused_folder_is_named_up_to_three(
    tmp_path: Path, capsys: pytest.CaptureFixture, started: list[str]
) -> None:
    for name in "abcd":
        (tmp_path / "out" / name).mkdir(parents=True)
        (tmp_path / "out" / name / batch.LOG_FILE).write_text(f"my log {name}\n")
    runs = write_yaml(tmp_path / "runs.yaml", {"runs": [{"name": n} for n in "abcde"]})
    code, _, err = batch_main(capsys, "--runs", str(runs), "--out", str(tmp_path / "out"))
    assert code == cli.EXIT_USAGE and started == []
    assert [f"run folder {tmp_path / 'out' / n} holds" in err for n in "abcd"] == [True, True, True, False]
    assert "; and 1 more folder(s): the batch would overwrite them" in err
    assert (tmp_path / "out" / "d" / batch.LOG_FILE).read_text() == "my log d\n"


def test_an_output_folder_of_the_users_stops_the_batch_as_it_stops_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture, started: list[str]
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "chunks.csv").write_bytes(b"my,own\n1,2\n")
    spec = {"runs": [{"name": "a"}, {"name": "b", "output_dir": str(project)}]}
    runs = write_yaml(tmp_path / "runs.yaml", spec)
    code, _, err = batch_main(capsys, "--runs", str(runs), "--out", str(tmp_path / "out"))
    assert code == cli.EXIT_USAGE and started == [], err
    assert f"output folder {project} of run 'b' holds chunks.csv, and no run.json or journal.jsonl" in err
    assert (project / "chunks.csv").read_bytes() == b"my,own\n1,2\n" and sorted(project.iterdir()) == [
        project / "chunks.csv"
    ]


def test_a_link_is_refused_even_in_a_folder_the_batch_made(
    tmp_path: Path, capsys: pytest.CaptureFixture, started: list[str]
) -> None:
    folder = tmp_path / "out" / "a"
    folder.mkdir(parents=True)
    (folder / batch.MARKER).write_text(json.dumps({"made_by": "preannotate batch", "format": 1}))
    (tmp_path / "mine.yaml").write_bytes(b"model: small\n")
    (folder / batch.PARAMETERS_FILE).symlink_to(tmp_path / "mine.yaml")  # writing it would change mine.yaml
    runs = write_yaml(tmp_path / "runs.yaml", {"runs": [{"name": "a"}]})
    code, _, err = batch_main(capsys, "--runs", str(runs), "--out", str(tmp_path / "out"))
    assert code == cli.EXIT_USAGE and started == [] and f"holds {batch.MARKER}, {batch.PARAMETERS_FILE}," in err
    assert (tmp_path / "mine.yaml").read_bytes() == b"model: small\n" and (folder / batch.PARAMETERS_FILE).is_symlink()


@pytest.mark.parametrize(("output_path", "refused"), [("notebook.ipynb", True), ("runs/a/notebook.ipynb", False)])
def test_an_executed_notebook_is_the_batch_s_only_when_papermill_wrote_it_into_a_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture, started: list[str], output_path: str, refused: bool
) -> None:
    """Without the marker (a batch of an earlier version, or papermill by hand in the user's folder)."""
    folder = tmp_path / "out" / "a"
    folder.mkdir(parents=True)
    meta = {"papermill": {"parameters": {"model": "small"}, "output_path": output_path}}
    (folder / batch.EXECUTED).write_text(json.dumps({"cells": [], "metadata": meta}))
    (folder / batch.PARAMETERS_FILE).write_text("model: small\n")
    before = snapshot(folder)
    runs = write_yaml(tmp_path / "runs.yaml", {"runs": [{"name": "a"}]})
    code, _, err = batch_main(capsys, "--runs", str(runs), "--out", str(tmp_path / "out"))
    assert (code, started) == ((cli.EXIT_USAGE, []) if refused else (0, ["a"])), err
    assert snapshot(folder) == before  # the stand-in writes nothing; the real batch would


# a real batch, then its folders again


def real_batch(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "preannotate", "batch", "--datasets", "data", "--out", "out", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)


def statuses(stdout: str) -> dict[str, str]:
    cells = [line.split() for line in stdout.splitlines()]
    return {c[0]: c[1] for c in cells if c[:1] in (["ok"], ["empty"]) and len(c) > 2}


def test_the_batch_s_own_folders_run_again_resume_and_survive_a_damaged_notebook(
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    started: list[str],
    runs_notebook: None,
) -> None:
    """The real batches run in their own processes; the stand-in serves the last, in-process ones."""
    (tmp_path / "data" / "ok").mkdir(parents=True)
    (tmp_path / "data" / "empty").mkdir()  # its run fails at once: no media files, no model loaded
    shutil.copy(ROOT / "samples" / "en" / "hello_world.wav", tmp_path / "data" / "ok")
    params = ("-p", "model", "bundled:tiny.en", "-p", "language", "en", "-p", "dry_run", "true")
    first = real_batch(tmp_path, *params, "--jobs", "2")
    assert statuses(first.stdout) == {"ok": batch.OK, "empty": batch.FAILED}, first.stdout + first.stderr
    out = tmp_path / "out"
    assert all((out / name / batch.MARKER).is_file() for name in ("ok", "empty"))
    (out / "ok" / "notes.txt").write_text("mine")  # a file the batch does not write is no obstacle, and kept
    mtime = (out / "ok" / batch.EXECUTED).stat().st_mtime_ns
    damaged = (out / "empty" / batch.EXECUTED).read_bytes()[:500]  # as a run killed while papermill wrote it
    (out / "empty" / batch.EXECUTED).write_bytes(damaged)

    resumed = real_batch(tmp_path, *params, "--resume")
    assert statuses(resumed.stdout) == {"ok": batch.SKIPPED, "empty": batch.FAILED}, resumed.stdout + resumed.stderr
    assert "holds no media files" in resumed.stdout and (out / "empty" / batch.EXECUTED).read_bytes() != damaged
    assert (out / "ok" / batch.EXECUTED).stat().st_mtime_ns == mtime and (
        out / "ok" / "notes.txt"
    ).read_text() == "mine"

    # As a batch of an earlier version left them: no marker. In this process, from the same folder.
    monkeypatch.chdir(tmp_path)
    for name in ("ok", "empty"):
        (out / name / batch.MARKER).unlink()
    assert batch_main(capsys, "--datasets", "data", "--out", "out", *params, "--resume")[0] == 0
    assert started == ["empty"]  # its notebook holds the parameters of its parameters.yaml
    (out / "empty" / batch.EXECUTED).write_bytes(damaged)
    assert batch_main(capsys, "--datasets", "data", "--out", "out", *params, "--resume")[0] == 0
    assert started == ["empty"] * 2  # a damaged notebook beside this run's parameters.yaml and papermill.log
    assert yaml.safe_load((out / "empty" / batch.PARAMETERS_FILE).read_text())["language"] == "en"
    code, _, err = batch_main(capsys, "--datasets", "data", "--out", "out", *params, "-p", "language", "fr")
    assert code == cli.EXIT_USAGE and started == ["empty"] * 2  # other parameters: nothing shows it was the batch's
    assert (
        f"run folder {Path('out') / 'empty'} holds {batch.PARAMETERS_FILE}, {batch.LOG_FILE}, {batch.EXECUTED}" in err
    )
