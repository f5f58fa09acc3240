"""README claims checked by a walk through its first half: a folder literally named `~` is `./~`.

README, Running it: "`~` at the start of a path is the home folder wherever it is written ...; a folder literally
named `~` is `./~`". `Path("./~")` is `Path("~")` (pathlib drops the `./`), so expanding a Path read `./~` as the home
folder: the run transcribed the user's home folder instead of the folder named `~`, and locked the home folder's
namesake instead of the output folder it wrote in.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from support.media import SAMPLES

from preannotate.lock import output_lock

CLI = [sys.executable, "-m", "preannotate"]
GREEDY = ["--set", "transcribe.beam_size=null", "--set", "transcribe.best_of=null"]


def _folders(tmp_path):
    """A home folder holding counting.wav and, in the working folder, a folder named `~` holding hello_world.wav."""
    home, work = tmp_path / "home", tmp_path / "work"
    (work / "~").mkdir(parents=True)
    home.mkdir()
    shutil.copy(SAMPLES / "en" / "counting.wav", home / "in_home.wav")
    shutil.copy(SAMPLES / "en" / "hello_world.wav", work / "~" / "in_tilde.wav")
    return home, work


def _run(args, cwd, home):
    env = {**os.environ, "HOME": str(home)}
    env.pop("SA_TOKEN", None)
    return subprocess.run([*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _sources(out):
    return [f["source"] for f in json.loads((out / "run.json").read_text())["files"]]


def test_dot_slash_tilde_on_the_command_line_is_the_folder_named_tilde(tmp_path, tiny_model):
    home, work = _folders(tmp_path)
    args = ["run", "-i", "./~", "-o", "./~/out", "--set", "model.name=bundled:tiny.en", "--no-progress", *GREEDY]
    proc = _run(args, work, home)
    assert proc.returncode == 0, proc.stderr
    out = work / "~" / "out"
    assert _sources(out) == ["in_tilde.wav"]  # not the home folder's in_home.wav
    text = json.loads((out / "transcripts" / "in_tilde.wav.json").read_text())["text"].lower()
    assert "hello" in text
    assert sorted(p.name for p in home.iterdir()) == ["in_home.wav"]  # nothing written at home


def test_dot_slash_tilde_in_a_config_file_is_the_folder_named_tilde_beside_it(tmp_path, tiny_model):
    home, work = _folders(tmp_path)
    config = work / "run.yaml"
    config.write_text("input:\n  dir: ./~\noutput:\n  dir: out\nmodel:\n  name: bundled:tiny.en\n")
    proc = _run(["run", str(config), "--no-progress", *GREEDY], tmp_path, home)  # from another folder
    assert proc.returncode == 0, proc.stderr
    assert _sources(work / "out") == ["in_tilde.wav"]


def test_the_lock_of_dot_slash_tilde_is_in_the_folder_named_tilde(tmp_path, monkeypatch):
    home, work = _folders(tmp_path)
    (home / "out").mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    with output_lock("./~/out", "run"):
        assert (work / "~" / "out" / ".preannotate.lock").is_file()
        assert not (home / "out" / ".preannotate.lock").exists()
