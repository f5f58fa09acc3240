"""`batch` and `calibrate` hold `preannotate.lock`'s lock, as `run`, `upload`, `pull`, `report` and `export` do.

A batch holds `--out` for its whole duration while each run, in its own kernel process, holds its own folder
inside it; `calibrate` holds every run it reads, and the lock that guards its model file while it writes it.
The holder is always another real process than the command refused: this test process (holding the lock with
`preannotate.lock`'s own API) against the command line in a subprocess, or a probe process started while
the command works.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from support.batch_plans import NOTEBOOK, write_yaml
from support.notebooks import CORRECTION
from support.pulled_runs import long_run

from preannotate import batch, cli
from preannotate.batch import execution
from preannotate.correction import calibrate as calibrate_module
from preannotate.correction import calibrate_choice
from preannotate.correction.calibrate_lock import calibration_lock
from preannotate.correction.calibrate_model import MODEL_FILE
from preannotate.correction.report import REPORT_DIR
from preannotate.errors import LockError
from preannotate.lock import LOCK_FILE, output_lock
from preannotate.lock_beside import lock_folder
from preannotate.notebook import project_root
from preannotate.options import AnnotationOptions, CorrectionOptions

CLI = [sys.executable, "-m", "preannotate"]
# Tries the lock of the folder given, as a `pull` would, and says what became of it.
PROBE = """
import sys
from preannotate.errors import LockError
from preannotate.lock import output_lock
try:
    with output_lock(sys.argv[1], "pull"):
        print("taken")
except LockError as e:
    print(e)
"""


def probe(folder: Path) -> str:
    """What a `pull` started now in another process gets from `folder`'s lock: "taken", or the LockError."""
    done = subprocess.run([sys.executable, "-c", PROBE, str(folder)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def in_use_by(folder: Path, command: str, pid: int) -> str:
    """The start of the message a second process gets from `folder` held by `command` in process `pid`."""
    return f"{folder} is in use by `preannotate {command}` (pid {pid} on host {socket.gethostname()}, started "


def snapshot(folder: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


# batch


def probe_notebook(path: Path) -> Path:
    """A notebook that does, in its kernel, what a run of a batch does about locks, and records what it found.

    It holds the lock of its own folder (`output_dir`: the batch gives each run its `<out>/<run name>`) as
    `preannotate run` would, and meanwhile tries the batch folder's (`batch_dir`).
    """
    parameters = nbformat.v4.new_code_cell('output_dir: str = ""\nbatch_dir: str = ""')
    parameters.metadata["tags"] = ["parameters"]
    work = textwrap.dedent("""
        import json, os
        from pathlib import Path
        from preannotate.errors import LockError
        from preannotate.lock import output_lock

        found = {"pid": os.getpid()}
        with output_lock(output_dir, "run"):
            found["own"] = "held"
            try:
                with output_lock(batch_dir, "probe"):
                    found["batch"] = "taken"
            except LockError as e:
                found["batch"] = str(e)
        Path(output_dir, "probe.json").write_text(json.dumps(found))
    """)
    nb = nbformat.v4.new_notebook(cells=[parameters, nbformat.v4.new_code_cell(work)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_a_second_batch_on_the_same_out_is_refused_at_once_naming_the_holder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    runs = write_yaml(tmp_path / "runs.yaml", {"runs": [{"name": "a", "input_dir": str(tmp_path / "no input")}]})
    with output_lock(out, "batch"):  # as the first batch there holds it while its runs execute
        before = snapshot(out)
        second = subprocess.run([*CLI, "batch", "--runs", str(runs), "--out", str(out)], capture_output=True,
                                text=True, timeout=600)  # fmt: skip
        assert second.returncode == cli.EXIT_USAGE, second.stdout + second.stderr
        assert f"preannotate: error: {in_use_by(out, 'batch', os.getpid())}" in second.stderr
        assert "Traceback" not in second.stderr and second.stdout == ""  # no run, no table
        assert snapshot(out) == before  # no run folder, marker, notebook or log: the first batch's lock file alone


def test_batches_on_different_outs_run_side_by_side_and_their_runs_lock_their_own_folders(
    tmp_path: Path, runs_notebook: None
) -> None:
    """Two runs (--jobs 2) in their own kernels, each holding its folder inside --out while the batch holds --out."""
    first, second = tmp_path / "first", tmp_path / "second"
    notebook = probe_notebook(tmp_path / "probe.ipynb")
    spec = {"defaults": {"batch_dir": str(second)}, "runs": [{"name": "one"}, {"name": "two"}]}
    runs = write_yaml(tmp_path / "runs.yaml", spec)
    with output_lock(first, "batch"):  # another batch, working in another --out
        command = [*CLI, "batch", str(notebook), "--runs", str(runs), "--out", str(second), "--jobs", "2"]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stdout + stderr
        assert sorted(p.name for p in first.iterdir()) == [LOCK_FILE]
    for name in ("one", "two"):
        found = json.loads((second / name / "probe.json").read_text())
        assert found["own"] == "held" and found["pid"] != proc.pid  # its own lock, in its own kernel process
        assert found["batch"].startswith(in_use_by(second, "batch", proc.pid)), found
    assert (second / LOCK_FILE).read_text() == ""  # released in order when the batch ended


@pytest.mark.parametrize("dry_run", [False, True])
@pytest.mark.parametrize(
    ("notebook", "parameter"), [(NOTEBOOK, "output_dir"), (CORRECTION, "run_dir")], ids=["preannotate", "correction"]
)
def test_a_run_whose_output_folder_is_out_itself_is_refused_before_any_run(
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    notebook: Path,
    parameter: str,
    dry_run: bool,
) -> None:
    """Its run would find --out locked by its own batch: the plan is refused, not the run after it started."""
    started: list[str] = []
    monkeypatch.setattr(execution, "execute", lambda nb, run: started.append(run.name) or batch.Outcome(run, "ok"))
    out = tmp_path / "out"
    runs = write_yaml(tmp_path / "runs.yaml", {"runs": [{"name": "a", parameter: str(out)}]})
    code = cli.main(["batch", str(notebook), "--runs", str(runs), "--out", str(out), *["--dry-run"] * dry_run])
    said = capsys.readouterr()
    assert code == cli.EXIT_USAGE and started == [] and said.out == "", said.out + said.err
    assert f"{parameter} of run 'a' is the batch folder {out} itself, which the batch holds locked" in said.err
    assert not out.exists()


# calibrate


@pytest.fixture
def two_runs(tmp_path: Path) -> list[Path]:
    """Two pulled runs of 40 chunks each, from two projects: enough to calibrate on."""
    runs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        runs.append(long_run(tmp_path / name))
    pulled = json.loads((runs[1] / "pulled.json").read_text())  # not the same items of the same project
    (runs[1] / "pulled.json").write_text(json.dumps({**pulled, "project": "Other", "target": "target2"}))
    return runs


@pytest.mark.parametrize("held", [0, 1])
def test_calibrate_is_refused_while_a_pull_holds_a_run_it_reads(
    two_runs: list[Path], tmp_path: Path, held: int
) -> None:
    models = tmp_path / "models"
    out = ("--out", str(models / MODEL_FILE)) if held else ()  # the first run's correction/ by default
    with output_lock(two_runs[held], "pull"):  # rewriting pulled.json and corrected/ there
        done = subprocess.run([*CLI, "calibrate", "-o", str(two_runs[0]), "-o", str(two_runs[1]), *out],
                              capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == cli.EXIT_USAGE, done.stdout + done.stderr
    assert f"preannotate: error: {in_use_by(two_runs[held], 'pull', os.getpid())}" in done.stderr
    assert "Traceback" not in done.stderr and "fitted on" not in done.stdout
    assert not (two_runs[0] / REPORT_DIR).exists() and not models.exists()


@pytest.fixture
def probes_at(monkeypatch: pytest.MonkeyPatch, two_runs: list[Path]) -> Iterator[dict[str, list[str]]]:
    """What a `pull` started on each run gets at calibrate's first read of a pull and at its first fit."""
    found: dict[str, list[str]] = {}

    def probing(name: str, function):
        def inner(*args, **kwargs):
            if name not in found:
                found[name] = [probe(run) for run in two_runs]
            return function(*args, **kwargs)

        return inner

    monkeypatch.setattr(calibrate_module, "load_pull", probing("first read", calibrate_module.load_pull))
    for fit in ("fit_review_model", "recalibrate_review_model"):  # calibrate's two candidates, whichever fits first
        monkeypatch.setattr(calibrate_choice, fit, probing("fit", getattr(calibrate_choice, fit)))
    yield found


@pytest.mark.slow  # a refit with cross-validation
def test_calibrate_holds_every_run_from_its_first_read_to_the_end_of_its_fit(
    two_runs: list[Path], probes_at: dict[str, list[str]]
) -> None:
    calibration = calibrate_module.calibrate(two_runs, AnnotationOptions(), CorrectionOptions())
    assert calibration.rows["chunks"] == 80
    for moment in ("first read", "fit"):  # a pull then would find each run held by this calibrate
        refused = [message.startswith(in_use_by(run, "calibrate", os.getpid())) for run, message in
                   zip(two_runs, probes_at[moment])]  # fmt: skip
        assert refused == [True, True], (moment, probes_at[moment])
    assert [probe(run) for run in two_runs] == ["taken", "taken"]  # released when it returned


@pytest.mark.slow  # refits with cross-validation, in subprocesses
@pytest.mark.parametrize("inside", ["a folder of models", "another run"])
def test_calibrate_writes_its_model_under_the_lock_that_guards_it(
    two_runs: list[Path], tmp_path: Path, inside: str
) -> None:
    """The run it lies in (whose lock `report` holds while it writes correction/), else the model file's own."""
    path = tmp_path / "models" / MODEL_FILE
    held = output_lock(lock_folder(path, "calibrate"), "calibrate", remove=True)  # another calibrate writing it
    message = f"{path} is being written by `preannotate calibrate` (pid {os.getpid()} on host "
    if inside == "another run":
        path = two_runs[1] / REPORT_DIR / MODEL_FILE
        held, message = output_lock(two_runs[1], "report"), in_use_by(two_runs[1], "report", os.getpid())
    with held:
        done = subprocess.run([*CLI, "calibrate", "-o", str(two_runs[0]), "--out", str(path)], capture_output=True,
                              text=True, timeout=600)  # fmt: skip
    assert done.returncode == cli.EXIT_USAGE, done.stdout + done.stderr
    assert f"preannotate: error: {message}" in done.stderr
    assert "Traceback" not in done.stderr and not path.exists()
    assert probe(two_runs[0]) == "taken"  # the run it read was released
    assert not (tmp_path / "models").exists()  # the lock's folders went with it


def hold(folder: Path, command: str) -> subprocess.Popen:
    """A real process that holds `folder`'s lock as `command` until it is stopped; returns once it holds it."""
    code = f"""
        import time
        from preannotate.lock import output_lock
        with output_lock({str(folder)!r}, {command!r}):
            print("held", flush=True)
            time.sleep(600)
    """
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_whole_calibration_holds_its_runs_and_the_model_s_own_lock_or_none(
    two_runs: list[Path], tmp_path: Path
) -> None:
    """`calibration_lock`: what a calibrate command holds from before its fit to its model written."""
    models = tmp_path / "models"
    path, own = models / MODEL_FILE, lock_folder(models / MODEL_FILE, "calibrate")
    with calibration_lock(two_runs, path):
        for folder in (*two_runs, own):
            assert probe(folder).startswith(in_use_by(folder, "calibrate", os.getpid())), folder
        assert {p.name for p in models.iterdir()} == {own.name}  # no lock of the folder, where the user's files are
        assert probe(lock_folder(models / "fr.json", "calibrate")) == "taken"  # another model beside it: free
    assert not models.exists()  # made for the lock, and removed with it
    other = hold(own, "calibrate")  # another calibrate, writing the same model
    try:
        refused = re.escape(f"{path} is being written by `preannotate calibrate` (pid {other.pid} on host ")
        with pytest.raises(LockError, match=refused), calibration_lock(two_runs, path):
            pytest.fail("held while another process writes the same model")
        assert [probe(run) for run in two_runs] == ["taken", "taken"]  # none kept
    finally:
        other.kill()
        other.wait()


def test_a_second_calibrate_writing_the_same_model_stops_before_its_fit(
    two_runs: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not after minutes of fitting, to find then that the first one's model is being written there."""
    models = tmp_path / "models"
    models.mkdir()

    def no_fit(*args, **kwargs):
        pytest.fail("fitted although another calibrate writes the same model")

    for fit in ("fit_review_model", "recalibrate_review_model"):
        monkeypatch.setattr(calibrate_choice, fit, no_fit)
    other = hold(lock_folder(models / MODEL_FILE, "calibrate"), "calibrate")
    try:
        code = cli.main(["calibrate", "-o", str(two_runs[0]), "--out", str(models / MODEL_FILE)])
    finally:
        other.kill()
        other.wait()
    message = f"{models / MODEL_FILE} is being written by `preannotate calibrate` (pid {other.pid} on host "
    assert code == cli.EXIT_USAGE and message in capsys.readouterr().err
    assert not (models / MODEL_FILE).exists() and probe(two_runs[0]) == "taken"


def test_another_notebooks_relative_output_folder_is_read_from_where_its_kernel_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """papermill starts the kernel in the project's root, wherever the batch was started from."""
    started: list[str] = []
    monkeypatch.setattr(execution, "execute", lambda nb, run: started.append(run.name) or batch.Outcome(run, "ok"))
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    relative = os.path.relpath(out, project_root())  # --out as the kernel would read it
    runs = write_yaml(tmp_path / "runs.yaml", {"runs": [{"name": "a"}]})  # a runs file's paths are from its folder
    notebook = str(probe_notebook(tmp_path / "probe.ipynb"))
    code = cli.main(["batch", notebook, "--runs", str(runs), "--out", str(out), "-p", "output_dir", relative])
    said = capsys.readouterr().err
    assert code == cli.EXIT_USAGE and started == [], said
    assert f"output_dir of run 'a' is the batch folder {out} itself" in said
