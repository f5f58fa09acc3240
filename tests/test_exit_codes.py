"""Exit codes per outcome and typed flag values, by real runs of the command line (bundled tiny.en, greedy)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.media import SAMPLES

CLI = [sys.executable, "-m", "preannotate"]
FAST = ["--set", "model.name=bundled:tiny.en", "--set", "transcribe.beam_size=null", "--set", "transcribe.best_of=null",
        "--no-progress"]  # fmt: skip
SPEECH = SAMPLES / "en" / "quick_brown_fox.wav"


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent), **(env or {})}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=environ)


def folder_with_speech(folder: Path) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(SPEECH, folder / "fox.wav")
    return folder


def test_all_done_is_0_and_flag_values_are_names_as_typed(tmp_path: Path, model_cache: Path, loads_model: None) -> None:
    # A folder named like YAML (a mapping) and an output folder named like a date: both taken literally.
    folder_with_speech(tmp_path / "notes: draft")
    proc = cli("run", "-i", "notes: draft", "-o", "2024-01-01", *FAST, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = json.loads((tmp_path / "2024-01-01" / "run.json").read_text())
    assert [f["status"] for f in run["files"]] == ["ok"]
    assert run["config"]["input"]["dir"] == "notes: draft"  # relative to the current folder, as given


def test_a_date_and_a_tilde_are_folders_not_a_date_or_none(tmp_path: Path) -> None:
    (tmp_path / "2024-01-01").mkdir()
    proc = cli("run", "-i", "2024-01-01", "-o", "out", cwd=tmp_path)
    assert proc.returncode == 2 and "2024-01-01" in proc.stderr and "holds no media" in proc.stderr, proc.stderr
    home = tmp_path / "home"
    home.mkdir()
    proc = cli("run", "-i", "~", "-o", "out", cwd=tmp_path, env={"HOME": str(home)})  # `~` as a quoted argument
    assert proc.returncode == 2 and str(home) in proc.stderr and "holds no media" in proc.stderr, proc.stderr


def test_a_file_that_fails_is_1(tmp_path: Path, model_cache: Path, loads_model: None) -> None:
    folder = folder_with_speech(tmp_path / "in")
    (folder / "corrupt.ogg").write_bytes(b"OggS" + os.urandom(3000))
    proc = cli("run", "-i", str(folder), "-o", str(tmp_path / "out"), *FAST, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    statuses = {f["source"]: f["status"] for f in json.loads((tmp_path / "out" / "run.json").read_text())["files"]}
    assert statuses == {"fox.wav": "ok", "corrupt.ogg": "failed"}


def test_an_export_that_fails_after_transcription_is_1_not_2(
    tmp_path: Path, model_cache: Path, loads_model: None
) -> None:
    out, inp = tmp_path / "out", folder_with_speech(tmp_path / "in")
    assert cli("run", "-i", str(inp), "-o", str(out), *FAST, cwd=tmp_path).returncode == 0  # the folder is a run's
    (out / "chunks.csv").unlink()
    (out / "chunks.csv").mkdir()  # the export cannot replace a folder
    shutil.copy(SPEECH, inp / "fox again.wav")  # a new file to transcribe
    proc = cli("run", "-i", str(inp), "-o", str(out), *FAST, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "cannot write exports" in proc.stderr and "Traceback" not in proc.stderr
    assert (out / "transcripts" / "fox again.wav.json").is_file()  # the transcription is kept for the next run


def test_a_bad_config_is_2_and_nothing_is_written(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("transcribe:\n  beam_sise: 5\n")
    proc = cli("run", str(config), "-i", str(folder_with_speech(tmp_path / "in")), "-o", "out", cwd=tmp_path)
    assert proc.returncode == 2 and "did you mean 'transcribe.beam_size'" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_help_documents_the_exit_codes_and_version_is_the_package_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    for args in (["--help"], ["run", "--help"], ["upload", "--help"]):
        proc = cli(*args, cwd=tmp_path)
        assert proc.returncode == 0
        for code in ("0 ", "1 ", "2 ", "130 "):
            assert f"\n  {code}" in proc.stdout.split("exit codes:")[1], (args, proc.stdout)
    proc = cli("--version", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == f"preannotate {version('preannotate')}"


def test_a_library_logging_on_import_says_nothing_unless_asked(tmp_path: Path) -> None:
    # `batch` imports gcsfs, which logs "experimental features enabled" at INFO: noise on every command.
    args = ("batch", "--datasets", str(SAMPLES), "--dry-run")
    quiet, verbose = cli(*args, cwd=tmp_path), cli("-v", *args, cwd=tmp_path)
    assert quiet.returncode == verbose.returncode == 0, quiet.stderr
    assert "gcsfs" not in quiet.stderr and "INFO gcsfs: gcsfs experimental features" in verbose.stderr


def test_other_errors_in_finalizers_still_reach_pythons_hook_until_ctrl_c(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    from preannotate import interrupts

    seen: list[type] = []
    monkeypatch.setattr(interrupts, "_installed", [lambda u: seen.append(u.exc_type)])
    interrupts.install()
    report = types.SimpleNamespace
    interrupts._hook(report(exc_type=ValueError))
    assert seen == [ValueError]
    interrupts._hook(report(exc_type=KeyboardInterrupt))  # a swallowed Ctrl-C: recorded, not printed
    with pytest.raises(KeyboardInterrupt):
        interrupts.raise_if_pressed()
    interrupts._hook(report(exc_type=AttributeError))  # a library torn down after it: quiet
    assert seen == [ValueError]
    interrupts.install()  # the next command starts afresh
    interrupts.raise_if_pressed()
