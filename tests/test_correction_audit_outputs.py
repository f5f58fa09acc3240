"""What `preannotate calibrate`, `report` and `export` write, and what they refuse to overwrite or misread.

Runs are made without a model or a server (`support.pulled_runs`): the drafts pulled back as the corrections,
some of them edited here as annotators would.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from support.correction_runs import run_cli, set_text
from support.pulled_runs import long_run, small_run

from preannotate.cli import main
from preannotate.correction.arms import read_work_times
from preannotate.correction.calibrate_model import MODEL_FILE
from preannotate.discover import discover
from preannotate.errors import CorrectionInputError
from preannotate.options import MEDIA_EXTENSIONS


def test_calibrate_replaces_only_a_model_it_wrote_unchanged(tmp_path: Path) -> None:
    out = long_run(tmp_path)
    mine = tmp_path / "notes.json"
    mine.write_text("my own notes\n")
    for path in (mine, out / "chunks.csv"):  # a file of someone's, the run's own table
        before = path.read_bytes()
        done = run_cli("calibrate", "-o", str(out), "--out", str(path))
        assert done.returncode == 2 and f"refusing to replace {path}" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and path.read_bytes() == before
    default = out / "correction" / MODEL_FILE
    default.parent.mkdir()
    default.write_text('{"format": "preannotate-review-model", "note": "fitted by hand"}\n')
    refused = run_cli("calibrate", "-o", str(out))
    assert refused.returncode == 2 and "not a review model that `preannotate calibrate` wrote" in refused.stderr
    assert "fitted on" not in refused.stdout  # refused before the fit, not after it
    default.unlink()
    assert run_cli("calibrate", "-o", str(out)).returncode == 0
    again = run_cli("calibrate", "-o", str(out))  # its own file, unchanged: replaced
    assert again.returncode == 0, again.stderr
    model = json.loads(default.read_text())
    model["threshold"] = 0.5  # tuned by hand
    default.write_text(json.dumps(model, indent=2) + "\n")
    edited = run_cli("calibrate", "-o", str(out))
    assert edited.returncode == 2 and "changed since `preannotate calibrate` wrote it" in edited.stderr
    assert json.loads(default.read_text())["threshold"] == 0.5


def test_calibrate_refuses_an_item_pulled_in_two_runs(tmp_path: Path) -> None:
    out = long_run(tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)  # the same pulled annotations under another folder name
    model = tmp_path / "model.json"
    done = run_cli("calibrate", "-o", str(out), "-o", str(copy), "--out", str(model))
    assert done.returncode == 2 and "would count twice" in done.stderr and "long.wav" in done.stderr, done.stderr
    assert not model.exists()


def write_times(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "times.csv"
    path.write_text(text, encoding="utf-8", newline="")
    return path


def test_work_times_of_no_item_of_the_run_are_refused(tmp_path: Path) -> None:
    out = small_run(tmp_path)
    times = write_times(tmp_path, "item,seconds\na,300\nb,240\n")  # names without their extension
    done = run_cli("report", "-o", str(out), "--work-times", str(times))
    assert done.returncode == 2 and f"{times}: none of its items is an item of this run's pull" in done.stderr
    assert "a.wav, b.wav" in done.stderr and "Traceback" not in done.stderr
    assert not (out / "correction").exists()


def test_work_times_shorter_than_the_audio_are_flagged(tmp_path: Path) -> None:
    out = small_run(tmp_path)
    times = write_times(tmp_path, "item,seconds\na.wav,0.05\nb.wav,0.04\nc.wav,60\n")  # hours, and a stray item
    done = run_cli("report", "-o", str(out), "--work-times", str(times))
    assert done.returncode == 0, done.stderr
    assert "are they minutes or hours? The column is seconds" in done.stderr
    assert "work time(s) of no compared item, left out: c.wav" in done.stderr
    summary = json.loads((out / "correction" / "summary.json").read_text())
    assert len(summary["control_arm"]["warnings"]) == 2
    assert "Check the work times" in (out / "correction" / "report.html").read_text()


@pytest.mark.parametrize(
    ("text", "separator"), [("item;seconds\na.wav;10\n", "semicolons"), ("item\tseconds\n", "tabs")]
)
def test_work_times_in_another_separator_say_so(tmp_path: Path, text: str, separator: str) -> None:
    with pytest.raises(CorrectionInputError, match=f"separated by {separator}"):
        read_work_times(write_times(tmp_path, text))


@pytest.mark.parametrize("damage", ["another item's", "missing", "not JSON"])
def test_a_corrected_file_that_is_not_the_items_correction_is_named(tmp_path: Path, damage: str) -> None:
    out = small_run(tmp_path)
    path = out / "corrected" / "a.wav.json"
    if damage == "missing":
        path.unlink()
        message = "corrected/a.wav.json is missing or not valid JSON"
    elif damage == "not JSON":
        path.write_text("{garbage")
        message = "corrected/a.wav.json is missing or not valid JSON"
    else:  # copied by hand: b.wav's events would be cut from a.wav's audio
        shutil.copy(out / "corrected" / "b.wav.json", path)
        message = "corrected/a.wav.json is the annotation of 'b.wav', not of 'a.wav'"
    export = run_cli("export", "-o", str(out))
    assert export.returncode == 1 and f"a.wav: the pulled annotation {message}" in export.stderr, export.stderr
    assert (out / "dataset" / "metadata.jsonl").read_text().splitlines() == [
        '{"file_name": "clips/b.wav-0000.wav", "transcription": "one two"}'
    ]
    report = run_cli("report", "-o", str(out))
    assert report.returncode == 0 and f"a.wav: the pulled annotation {message}" in report.stderr, report.stderr


@pytest.mark.parametrize("command", ["report", "export"])
def test_a_second_run_folder_is_refused_not_silently_used_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture, command: str
) -> None:
    (tmp_path / "first").mkdir(), (tmp_path / "second").mkdir()
    first, second = small_run(tmp_path / "first"), small_run(tmp_path / "second")
    with pytest.raises(SystemExit) as stop:
        main([command, "-o", str(first), "-o", str(second)])
    assert stop.value.code == 2 and f"-o given twice ({first} and {second})" in capsys.readouterr().err
    assert sorted(p.name for p in second.iterdir()) == sorted(p.name for p in first.iterdir())  # nothing written


def test_calibrate_out_under_a_file_is_refused_before_the_fit(tmp_path: Path) -> None:
    out = long_run(tmp_path)
    (tmp_path / "models").write_text("a file, not a folder\n")
    done = run_cli("calibrate", "-o", str(out), "--out", str(tmp_path / "models" / "model.json"))
    assert done.returncode == 2 and "is a file, not a folder" in done.stderr, done.stderr
    assert "fitted on" not in done.stdout and (tmp_path / "models").read_text() == "a file, not a folder\n"


def test_a_corrected_text_with_a_lone_carriage_return_stays_in_its_cell_in_every_csv(tmp_path: Path) -> None:
    out = small_run(tmp_path)
    path = out / "corrected" / "b.wav.json"
    annotation = json.loads(path.read_text())
    set_text(annotation, 0, "one\rtwo")  # pasted from an old Mac file: Python's csv did not quote a lone \r
    path.write_text(json.dumps(annotation))
    assert run_cli("export", "-o", str(out)).returncode == 0
    assert run_cli("report", "-o", str(out)).returncode == 0
    metadata = (out / "dataset" / "metadata.jsonl").read_bytes()
    rows = [json.loads(line) for line in metadata.decode().split("\n") if line]
    assert rows[-1] == {"file_name": "clips/b.wav-0000.wav", "transcription": "one\rtwo"} and len(rows) == 3, rows
    assert b"\r" not in metadata  # the exact text kept, escaped: one line per clip
    for table in (out / "dataset" / "segments.csv", *(out / "correction").glob("*.csv")):
        frame = pd.read_csv(table, dtype=str, keep_default_na=False)  # one row per record: none split at the \r
        for column in frame.columns:
            assert not frame[column].str.startswith("two").any(), (table, column)


def test_a_reader_that_stops_reading_the_report_ends_it_quietly_with_141(tmp_path: Path) -> None:
    out = small_run(tmp_path)
    command = [sys.executable, "-m", "preannotate", "report", "-o", str(out)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        proc.stdout.close()  # as `| head -0` does: the reader is gone before the report prints
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=300)
    assert code == 141, err  # not 120 with "Exception ignored ... BrokenPipeError"
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert (out / "correction" / "summary.json").is_file()  # the report itself was written


@pytest.mark.parametrize("command", [["batch", "--help"], ["run", "--help"], ["--help"]])
def test_help_to_a_reader_that_stopped_reading_ends_quietly_with_141(command: list[str]) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "preannotate", *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        proc.stdout.close()  # as `| head -0` does
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=300)
    # argparse itself drops a write that fails (0); what this tool prints after it ends as a command does (141)
    assert code in (0, 141) and "Traceback" not in err and "BrokenPipeError" not in err, (code, err)
    assert code == 141 or command != ["batch", "--help"]


def test_a_dataset_exported_into_the_input_folder_is_not_the_next_runs_input(tmp_path: Path) -> None:
    out = small_run(tmp_path)
    inp = tmp_path / "in"
    assert run_cli("export", "-o", str(out), "--dest", str(inp / "dataset")).returncode == 0
    assert sorted(p.name for p in (inp / "dataset" / "clips").iterdir()) == [
        "a.wav-0000.wav", "a.wav-0001.wav", "b.wav-0000.wav",
    ]  # fmt: skip
    # Before: the next run over the input folder transcribed (and uploaded) the three clips as new recordings.
    assert [f.source for f in discover(inp, MEDIA_EXTENSIONS)] == ["a.wav", "b.wav"]
    # Given as the input itself, a dataset is what was asked for.
    assert len(discover(inp / "dataset", MEDIA_EXTENSIONS)) == 3
