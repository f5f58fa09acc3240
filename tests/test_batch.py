"""`preannotate batch`: planning runs, checking parameters, and a real batch of notebooks with papermill.

The real batch runs notebooks/preannotate.ipynb three times (two one-clip datasets and a
missing folder) with the bundled tiny.en model, uploading to the loopback SuperAnnotate
server with SA_TOKEN set, then resumes it. The token must appear in no file or log.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from support.batch_plans import ROOT, write_yaml
from support.sa_server import SuperAnnotateServer

from preannotate import batch, cli
from preannotate.errors import ConfigError, InputError

PROJECT = "Batch test"
PREFIX = "https://audio.example.com/batch/"


# planning and checking, no kernel


def test_runs_file_applies_defaults_then_shared_then_the_run_own(tmp_path: Path, known: dict) -> None:
    spec = {"defaults": {"model": "small", "language": "en"}, "runs": [{"name": "a", "language": "fr"}, {"name": "b"}]}
    runs = batch.runs_from_file(write_yaml(tmp_path / "runs.yaml", spec), {"model": "bundled:tiny.en"}, tmp_path)
    assert [(r.name, r.parameters) for r in runs] == [
        ("a", {"model": "bundled:tiny.en", "language": "fr"}),
        ("b", {"model": "bundled:tiny.en", "language": "en"}),
    ]
    assert runs[0].folder == tmp_path / "a"


def test_a_number_names_a_run_as_text_zero_included(tmp_path: Path) -> None:
    runs = batch.runs_from_file(write_yaml(tmp_path / "runs.yaml", {"runs": [{"name": 0}, {"name": 12}]}), {}, tmp_path)
    assert [(r.name, r.folder) for r in runs] == [("0", tmp_path / "0"), ("12", tmp_path / "12")]


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"runs": [{"language": "en"}]}, "each with a `name`"),
        ({"runs": [{"name": ""}]}, "each with a `name`"),
        ({"runs": {"a": {}}}, "must be a list"),
        ({"runs": [{"name": "a"}], "default": {}}, "did you mean 'defaults'"),
    ],
)
def test_malformed_runs_file_is_an_error(tmp_path: Path, spec: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        batch.runs_from_file(write_yaml(tmp_path / "runs.yaml", spec), {}, tmp_path)


def test_unknown_parameter_stops_the_batch_before_anything_runs(tmp_path: Path, known: dict) -> None:
    runs = [batch.Run("a", {"input_dir": "x"}, tmp_path / "a"), batch.Run("b", {"modle": "tiny"}, tmp_path / "b")]
    with pytest.raises(ConfigError, match="parameter of run 'b': 'modle'; did you mean 'model'"):
        batch.prepare(runs, known)
    with pytest.raises(ConfigError, match="secrets are never parameters"):
        batch.prepare([batch.Run("a", {"sa_token": "x"}, tmp_path / "a")], known)
    with pytest.raises(ConfigError, match="run names must differ: a"):
        batch.prepare([batch.Run("a", {}, tmp_path / "a")] * 2, known)
    same = [batch.Run(n, {"output_dir": str(tmp_path)}, tmp_path / n) for n in "ab"]
    with pytest.raises(ConfigError, match="must not share an output_dir"):
        batch.prepare(same, known)


def test_prepare_makes_paths_absolute_and_gives_each_run_its_output_folder(
    tmp_path: Path, known: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run = batch.Run("a", {"input_dir": "data/a", "overrides": {"dataset.dir": "ds"}}, Path("out/a"))
    (ready,) = batch.prepare([run], known)
    assert ready.parameters == {
        "input_dir": str(tmp_path / "data" / "a"),
        "overrides": {"dataset.dir": str(tmp_path / "ds")},
        "output_dir": str(tmp_path / "out" / "a"),
    }


def test_one_run_per_dataset_folder(tmp_path: Path) -> None:
    for name in ("b", "a b", ".hidden"):
        (tmp_path / "data" / name).mkdir(parents=True)
    (tmp_path / "data" / "file.wav").touch()
    runs = batch.runs_from_datasets(tmp_path / "data", {"model": "tiny"}, tmp_path / "out")
    assert [(r.name, r.parameters["input_dir"]) for r in runs] == [
        ("a_b", str(tmp_path / "data" / "a b")),
        ("b", str(tmp_path / "data" / "b")),
    ]
    with pytest.raises(InputError, match="does not exist"):
        batch.runs_from_datasets(tmp_path / "nowhere", {}, tmp_path)


def test_one_run_per_config_file_with_other_options_as_overrides(tmp_path: Path, known: dict) -> None:
    folder = tmp_path / "configs"
    folder.mkdir()
    en = {"input": {"dir": "samples/en"}, "output": {"dir": "runs/x"}, "transcribe": {"beam_size": 5, "patience": 2.0}}
    write_yaml(folder / "en.yaml", en)
    write_yaml(folder / "fr.yml", {"transcribe": {"language": "fr"}})
    runs = batch.runs_from_configs([str(folder)], {"model": "bundled:tiny.en"}, tmp_path, known)
    assert [(r.name, r.parameters) for r in runs] == [  # a config's relative paths are relative to its folder
        ("en", {"model": "bundled:tiny.en", "input_dir": str(folder / "samples" / "en"), "beam_size": 5,
                "overrides": {"transcribe.patience": 2.0}}),
        ("fr", {"model": "bundled:tiny.en", "language": "fr"}),
    ]  # fmt: skip
    write_yaml(folder / "fr.yml", {"transcribe": {"beam_size": 0}})
    with pytest.raises(ConfigError, match="beam_size must be >= 1"):
        batch.runs_from_configs([str(folder)], {}, tmp_path, known)


@pytest.mark.parametrize(
    "summary, upload, status, uploaded",
    [
        ({"files": 2, "failed": 0}, {"dry_run": True, "summary": {"succeeded": 0, "failed": 0}}, "ok", "dry run"),
        ({"files": 2, "failed": 1}, None, "partial", "-"),
        (
            {"files": 2, "failed": 0},
            {"error": "unreachable", "summary": {"failed": 1}},
            "partial",
            "error",
        ),
        ({"files": 2, "failed": 0}, {"dry_run": False, "summary": {"succeeded": 2, "failed": 0}}, "ok", "2"),
    ],
)
def test_failed_files_or_uploads_make_a_run_partial(
    tmp_path: Path, summary: dict, upload: dict | None, status: str, uploaded: str
) -> None:
    (tmp_path / "run.json").write_text(json.dumps({"summary": summary, "upload": upload}))
    outcome = batch._with_results(batch.Outcome(batch.Run("a", {"output_dir": str(tmp_path)}, tmp_path), "ok"))
    assert (outcome.status, outcome.upload) == (status, uploaded)
    assert "failed; see run.json" in outcome.message if status == "partial" else outcome.message == ""


def test_help_lists_the_notebook_parameters(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["batch", "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and "--resume" in out
    assert 'input_dir: str = "samples"' in out and "dataset folder" in out.lower()
    assert "overrides: dict = {}" in out


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = {"runs": [{"name": "en", "input_dir": str(ROOT / "samples" / "en")}]}
    runs = write_yaml(tmp_path / "runs.yaml", spec)
    code = cli.main(["batch", "--runs", str(runs), "--out", str(tmp_path / "out"), "-p", "beam_size", "5", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0 and "en: " in out and "beam_size: 5" in out and f"output_dir: '{tmp_path / 'out' / 'en'}'" in out
    assert not (tmp_path / "out").exists()


def test_unknown_parameter_on_the_command_line_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    runs = write_yaml(tmp_path / "runs.yaml", {"runs": [{"name": "en"}]})
    assert cli.main(["batch", "--runs", str(runs), "-p", "lenguage", "en", "--dry-run"]) == cli.EXIT_USAGE
    assert "did you mean 'language'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[a", "-p overrides is not valid YAML: while parsing a flow sequence"),
        ("{model.name: a, model.name: b}", "-p overrides: key 'model.name' appears twice in one mapping (line 1, "
         "columns 2 and 17); keep one"),
        ("&a [*a]", "-p overrides: [0] refers back to a collection holding it"),
        ("!!float x", "-p overrides holds a value YAML cannot read"),
    ],
)  # fmt: skip
def test_a_yaml_parameter_is_read_as_strictly_as_a_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture, value: str, message: str
) -> None:
    runs = write_yaml(tmp_path / "runs.yaml", {"runs": [{"name": "en"}]})
    assert cli.main(["batch", "--runs", str(runs), "-p", "overrides", value, "--dry-run"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) <= 8, err


SECRET = "Zq8Xr2Lm5Tn7Vb1Kc4Hd9Jf3Gs6Pw0Ay"  # shaped like a SuperAnnotate API key
ENV_TOKEN = "batch-secret-team-token-77aa=42"  # shaped like a team token, and in SA_TOKEN


@pytest.mark.parametrize(
    ("parameters", "key"),
    [
        ({"overrides": {"superannotate.token": SECRET}}, "overrides.superannotate.token"),
        ({"overrides": {"superannotate": {"api_key": "x"}}}, "overrides.superannotate.api_key"),
        ({"project": SECRET}, "project"),
        ({"overrides": {"superannotate.project_description": SECRET}}, "overrides.superannotate.project_description"),
        ({"initial_prompt": ENV_TOKEN.split("=")[0]}, "initial_prompt"),
    ],
)
def test_secrets_in_parameters_are_refused_by_run_and_key(
    tmp_path: Path, known: dict, monkeypatch: pytest.MonkeyPatch, parameters: dict, key: str
) -> None:
    monkeypatch.setenv("SA_TOKEN", ENV_TOKEN)
    runs = [batch.Run("fine", {"language": "en"}, tmp_path / "fine"), batch.Run("leaky", parameters, tmp_path / "l")]
    with pytest.raises(ConfigError) as error:
        batch.prepare(runs, known)
    assert str(error.value).startswith(f"run 'leaky': parameter {key}: ")
    assert SECRET not in str(error.value) and ENV_TOKEN.split("=")[0] not in str(error.value)


@pytest.mark.parametrize(
    "spec",
    [
        {"runs": [{"name": "a", "input_dir": "x"}, {"name": "b", "overrides": {"superannotate.token": SECRET}}]},
        {"defaults": {"project": ENV_TOKEN}, "runs": [{"name": "a"}]},
        {"runs": [{"name": "a", "overrides": {"superannotate.project_description": SECRET}}]},
        {"runs": [{"name": SECRET}]},
    ],
)
@pytest.mark.parametrize("dry_run", [False, True])
def test_a_token_in_a_runs_file_is_written_nowhere(
    tmp_path: Path, spec: dict, dry_run: bool, monkeypatch: pytest.MonkeyPatch, capsys, caplog
) -> None:
    # In process (the command line's own main; test_exit_codes runs `python -m preannotate`): an exception
    # escaping main fails the test, and the log records, which a subprocess would print, are searched too.
    work = tmp_path / "work"
    work.mkdir()
    runs = write_yaml(tmp_path / "runs.yaml", spec)
    before = set(work.rglob("*"))
    monkeypatch.setenv("SA_TOKEN", ENV_TOKEN)
    monkeypatch.chdir(work)
    caplog.set_level(logging.DEBUG)
    code = cli.main(["batch", "--runs", str(runs), "--out", "batch", *(["--dry-run"] if dry_run else [])])
    said = capsys.readouterr()
    assert code == cli.EXIT_USAGE and "Traceback" not in said.err
    assert "secrets" in said.err and "set SA_TOKEN in the environment" in said.err
    for secret in (SECRET, ENV_TOKEN, ENV_TOKEN.split("=")[0]):
        assert secret not in said.out + said.err + caplog.text
    new = [p for p in work.rglob("*") if p not in before]
    assert new == []  # not even the batch folder


# a real batch


def run_batch(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "preannotate", "batch", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def first_batch(sa_module_server: SuperAnnotateServer, tmp_path_factory: pytest.TempPathFactory, runs_notebook: None):
    root = tmp_path_factory.mktemp("batch")
    for name, clip in (("a", "hello_world.wav"), ("b", "counting.wav")):
        (root / "data" / name).mkdir(parents=True)
        shutil.copy(ROOT / "samples" / "en" / clip, root / "data" / name / clip)
    spec = {
        "defaults": {"model": "bundled:tiny.en", "language": "en", "project": PROJECT, "url_prefix": PREFIX},
        "runs": [{"name": n, "input_dir": str(root / "data" / n)} for n in ("a", "b", "bad")],
    }
    runs = write_yaml(root / "runs.yaml", spec)
    no_backoff = ("-p", "overrides", '{"superannotate.backoff_seconds": 0}')
    args = ("--runs", str(runs), "--out", str(root / "out"), "--jobs", "3", *no_backoff)
    first = run_batch(*args)
    counts = dict(sa_module_server.upload_counts)
    mtimes = {n: (root / "out" / n / "notebook.ipynb").stat().st_mtime_ns for n in ("a", "b")}
    return root, args, first, counts, mtimes


def rows(stdout: str) -> dict[str, list[str]]:
    lines = [line.split() for line in stdout.splitlines()]
    return {cells[0]: cells for cells in lines if cells[:1] in (["a"], ["b"], ["bad"])}


def test_batch_runs_each_notebook_and_one_failure_does_not_stop_the_others(first_batch, sa_module_server) -> None:
    root, _, result, counts, _ = first_batch
    assert result.returncode == 1, result.stderr
    table = rows(result.stdout)
    assert table["a"][1:6] == ["ok", "1", "0.0003", "1", "1"]  # status, files, audio h, chunks, uploaded
    assert table["b"][1] == "ok" and table["b"][5] == "1"
    assert table["bad"][1:6] == ["failed", "-", "-", "-", "-"]
    assert table["a"][-1] == str(root / "out" / "a" / "notebook.ipynb")
    assert f"bad: InputError: input folder {root / 'data' / 'bad'} does not exist" in result.stdout
    assert counts == {(PROJECT, "hello_world.wav"): 1, (PROJECT, "counting.wav"): 1}
    assert set(sa_module_server.items(PROJECT)) == {"hello_world.wav", "counting.wav"}
    for name in ("a", "b"):
        folder = root / "out" / name
        assert {"notebook.ipynb", "parameters.yaml", "papermill.log", "run.json", "chunks.csv"} <= {
            p.name for p in folder.iterdir()
        }


def test_executed_notebook_shows_tables_timeline_and_upload(first_batch) -> None:
    root = first_batch[0]
    nb = nbformat.read(root / "out" / "a" / "notebook.ipynb", as_version=4)
    outputs = [o for cell in nb.cells for o in cell.get("outputs", [])]
    text = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "1 files (1 transcribed, 0 already done, 0 failed)" in text
    assert "Hello world" in text and "hello_world.wav" in text
    assert "upload: uploaded 1, skipped 0, failed 0" in text
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1
    assert sum("text/html" in o.get("data", {}) for o in outputs) == 3  # files, chunks, upload
    assert nb.metadata.papermill.parameters["model"] == "bundled:tiny.en"


def test_token_appears_in_no_notebook_output_or_log(first_batch, sa_module_server) -> None:
    root, _, result, _, _ = first_batch
    token = sa_module_server.token.encode()
    assert token not in (result.stdout + result.stderr).encode()
    checked = [p for p in (root / "out").rglob("*") if p.is_file()]
    assert len(checked) > 10
    assert [p for p in checked if token in p.read_bytes()] == []
    secret = sa_module_server.token.split("=")[0]  # the part that is the secret, without the team id
    assert [p for p in checked if secret.encode() in p.read_bytes()] == []


def test_resumed_batch_skips_finished_runs(first_batch, sa_module_server) -> None:
    root, args, _, counts, mtimes = first_batch
    result = run_batch(*args, "--resume")
    assert result.returncode == 1
    table = rows(result.stdout)
    assert table["a"][1] == table["b"][1] == "skipped" and table["bad"][1] == "failed"
    assert {n: (root / "out" / n / "notebook.ipynb").stat().st_mtime_ns for n in ("a", "b")} == mtimes
    assert dict(sa_module_server.upload_counts) == counts
