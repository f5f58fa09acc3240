"""`preannotate upload` starts from the options the run recorded in run.json; a file and `--set` replace them.

Real model, real SDK, the SuperAnnotate-compatible server on loopback. Before, `upload -o OUT` alone
ignored the run's project and URLs: it stopped with "superannotate.project must name...", and with only
`--set superannotate.project=...` it attached items without the run's URL prefix.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from support.configs import run_config
from support.media import SAMPLES
from support.upload_runs import make_run

from preannotate import cli
from preannotate.config import config_to_dict, load_config, merge_into
from preannotate.run import run_pipeline
from preannotate.superannotate import recorded_options

PROJECT, PREFIX = "Recorded drafts", "https://bucket.example/audio/"


@pytest.fixture
def dry_run(tmp_path: Path, sa_server, tiny_model) -> Path:
    """A finished run over two clips, made as a dry run with the upload options a team would give."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("hello_world", "quick_brown_fox"):
        shutil.copy(SAMPLES / "en" / f"{name}.wav", folder)
    options = [f"superannotate.project={PROJECT}", f"superannotate.url_prefix={PREFIX}", "superannotate.dry_run=true",
               "superannotate.backoff_seconds=0.01", "superannotate.status=QualityCheck"]  # fmt: skip
    report = run_pipeline(run_config(tmp_path, *options), progress=False)
    assert report.upload["dry_run"] and not sa_server.upload_counts
    return tmp_path / "out"


def test_upload_sends_the_run_to_its_recorded_project_with_its_urls_and_status(
    dry_run: Path, sa_server, caplog
) -> None:
    caplog.set_level(logging.INFO)
    assert cli.main(["upload", "-o", str(dry_run)]) == cli.EXIT_OK  # the run's dry_run is not inherited
    items = sa_server.items(PROJECT)
    assert {name: item["url"] for name, item in items.items()} == {
        "hello_world.wav": PREFIX + "hello_world.wav", "quick_brown_fox.wav": PREFIX + "quick_brown_fox.wav",
    }  # fmt: skip
    assert {item["status"] for item in items.values()} == {"QualityCheck"}
    assert "options the run recorded (project 'Recorded drafts')" in caplog.text
    upload = json.loads((dry_run / "run.json").read_text())["upload"]
    assert not upload["dry_run"] and upload["summary"]["succeeded"] == 2


def test_set_and_a_config_file_replace_recorded_options_key_by_key(dry_run: Path, sa_server, tmp_path: Path) -> None:
    config = tmp_path / "upload.yaml"
    config.write_text("superannotate:\n  url_prefix: https://mirror.example/a/\n")
    args = ["upload", str(config), "-o", str(dry_run), "--set", "superannotate.project=Elsewhere"]
    assert cli.main(args) == cli.EXIT_OK
    assert sa_server.project(PROJECT) is None
    items = sa_server.items("Elsewhere")
    assert items["hello_world.wav"]["url"] == "https://mirror.example/a/hello_world.wav"
    assert {item["status"] for item in items.values()} == {"QualityCheck"}  # still the run's


def test_dry_run_flag_still_uploads_nothing(dry_run: Path, sa_server) -> None:
    assert cli.main(["upload", "-o", str(dry_run), "--dry-run"]) == cli.EXIT_OK
    assert not sa_server.upload_counts and sa_server.project(PROJECT) is None


def _recorded_run(root: Path, *overrides: str) -> Path:
    """make_run's output with the configuration a run over its input records (config_to_dict, as run writes)."""
    inp, out = make_run(root)
    config = load_config(None, [f"input.dir={inp}", *overrides])
    record = json.loads((out / "run.json").read_text())
    (out / "run.json").write_text(json.dumps({**record, "config": config_to_dict(config)}))
    return out


def test_without_recorded_options_upload_takes_only_its_own(tmp_path: Path, sa_server, capsys) -> None:
    inp, out = make_run(tmp_path)  # a run.json with no configuration (older versions, other tools)
    assert recorded_options(out) == {}
    assert cli.main(["upload", "-o", str(out)]) == cli.EXIT_USAGE
    assert "superannotate.project must name" in capsys.readouterr().err
    args = ["upload", "-i", str(inp), "-o", str(out), "--set", f"superannotate.project={PROJECT}",
            "--set", f"superannotate.url_prefix={PREFIX}"]  # fmt: skip
    assert cli.main(args) == cli.EXIT_OK and len(sa_server.items(PROJECT)) == 3


def test_recorded_values_no_longer_valid_are_named_and_left_out(tmp_path: Path, sa_server, caplog, capsys) -> None:
    out = _recorded_run(tmp_path / "a", f"superannotate.project={PROJECT}")
    record = json.loads((out / "run.json").read_text())
    record["config"]["superannotate"]["batch_size"] = -3  # a value an older version let through
    record["config"]["superannotate"]["renamed_option"] = 1  # an option this version no longer has
    (out / "run.json").write_text(json.dumps(record))
    assert recorded_options(out) == {}
    assert f"{out / 'run.json'}: the run's recorded options are not used" in caplog.text
    assert "batch_size" in caplog.text
    assert cli.main(["upload", "-o", str(out)]) == cli.EXIT_USAGE  # its own options: no project
    assert "superannotate.project must name" in capsys.readouterr().err

    fine = _recorded_run(tmp_path / "b", f"superannotate.project={PROJECT}")
    record = json.loads((fine / "run.json").read_text())
    record["config"]["superannotate"]["renamed_option"] = 1  # unknown keys alone are dropped, not fatal
    (fine / "run.json").write_text(json.dumps(record))
    assert recorded_options(fine)["superannotate"]["project"] == PROJECT


def test_recorded_options_leave_out_the_per_command_flags_and_other_sections(tmp_path: Path) -> None:
    out = _recorded_run(tmp_path, f"superannotate.project={PROJECT}", "superannotate.dry_run=true",
                        "superannotate.force_upload=true", "superannotate.overwrite_human_edits=true",
                        "transcribe.beam_size=2", "annotation.class_name=speech")  # fmt: skip
    base = recorded_options(out)
    assert set(base) == {"input", "annotation", "superannotate"}
    assert {"dry_run", "force_upload", "overwrite_human_edits"}.isdisjoint(base["superannotate"])
    assert base["annotation"]["class_name"] == "speech" and base["superannotate"]["project"] == PROJECT


def test_merge_into_sets_key_by_key_and_an_empty_section_sets_nothing() -> None:
    base = {"superannotate": {"project": "P", "status": "QualityCheck"}, "input": {"dir": "/data"}}
    merge_into(base, {"superannotate": {"project": "Q"}, "input": None, "annotation": {"class_name": "c"}})
    assert base == {"superannotate": {"project": "Q", "status": "QualityCheck"}, "input": {"dir": "/data"},
                    "annotation": {"class_name": "c"}}  # fmt: skip


def test_routing_options_given_to_upload_are_said_to_change_nothing(tmp_path: Path, caplog) -> None:
    """`--set superannotate.control_share=1` at upload was accepted and every draft still went up with its text."""
    out = _recorded_run(tmp_path, f"superannotate.url_prefix={PREFIX}")
    caplog.set_level(logging.WARNING)
    assert cli.main(["upload", "-o", str(out), "--dry-run"]) == cli.EXIT_OK
    assert "change nothing" not in caplog.text  # the run's own values
    args = ["--set", "superannotate.control_share=1", "--set", "annotation.draft_max_wer=0"]
    assert cli.main(["upload", "-o", str(out), "--dry-run", *args, "--set", "superannotate.status=QualityCheck"]) == 0
    said = "annotation.draft_max_wer=0.0 (the run's: 0.3); superannotate.control_share=1.0 (the run's: 0.0)."
    assert said in caplog.text and "Run `preannotate run` again with them" in caplog.text
    assert "status=" not in caplog.text  # an option upload applies itself
