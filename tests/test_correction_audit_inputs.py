"""Bad input to `preannotate report` and `calibrate`: a clear message and exit code 2, or a result that stays right.

Runs are made without a model or a server (`support.pulled_runs`): the drafts pulled back as the corrections,
some of them edited here as annotators would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.correction_runs import run_cli
from support.pulled_runs import ANNOTATION, long_run, small_run

from preannotate.correction import compare_run
from preannotate.correction import report as report_module
from preannotate.correction.arms import read_work_times
from preannotate.correction.calibrate_model import MODEL_FILE
from preannotate.correction.effort import DRAFT, ItemEdits, estimate
from preannotate.correction.report import write_report
from preannotate.correction.rundata import quality_table
from preannotate.errors import CorrectionInputError
from preannotate.options import CorrectionOptions
from preannotate.options.correction import EffortOptions


def strict_json(path: Path) -> dict:
    """The file read as JSON proper: NaN and Infinity, which Python writes by default, are refused."""

    def refuse(name: str) -> None:
        raise ValueError(f"{path.name} holds {name}, which is not JSON")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def write_times(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "times.csv"
    path.write_text(text, encoding="utf-8", newline="")
    return path


def test_work_time_errors_name_the_file_line_past_blank_lines(tmp_path: Path) -> None:
    path = write_times(tmp_path, "item,seconds\r\na.wav,10\r\n\r\n\r\nb.wav,soon\r\n")
    with pytest.raises(CorrectionInputError, match="line 5: seconds 'soon' of b.wav"):
        read_work_times(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("item,seconds\na.wav,1,5\n", "line 2: more cells than the header"),  # a decimal comma read as 1 s
        ("item,seconds,seconds\na.wav,10,20\n", "column seconds appears twice"),
        ("item,seconds\n", "has no work times"),
        ("", "no column item, seconds .*found nothing"),
        ("item,seconds\na.wav,1e308\nb.wav,1e308\n", "add up beyond any finite number"),
    ],
)
def test_work_times_that_would_be_misread_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CorrectionInputError, match=message):
        read_work_times(write_times(tmp_path, text))


def test_work_time_columns_are_found_in_any_case(tmp_path: Path) -> None:
    path = write_times(tmp_path, "\ufeffItem , Seconds\na.wav,10\n")
    assert read_work_times(path) == {"a.wav": 10.0}


def test_report_of_a_pull_without_items(tmp_path: Path) -> None:
    out = small_run(tmp_path)
    pulled = json.loads((out / "pulled.json").read_text())
    (out / "pulled.json").write_text(json.dumps({**pulled, "items": []}))
    done = run_cli("report", "-o", str(out))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "over 0 of 0 item(s)" in done.stdout and (out / "correction" / "report.html").is_file()


def test_summary_json_is_json_without_nan(tmp_path: Path) -> None:
    out = small_run(tmp_path)
    path = out / "chunks.jsonl"
    records = [{**json.loads(line), "predicted_wer": 0.02} for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    done = run_cli("report", "-o", str(out))
    assert done.returncode == 0, done.stderr
    bins = strict_json(out / "correction" / "summary.json")["calibration"]["bins"]
    assert bins[0]["chunks"] == 3 and bins[-1] == {**bins[-1], "chunks": 0, "mean_measured_wer": None}


def test_chunks_jsonl_with_bytes_not_utf8_costs_only_that_line(tmp_path: Path) -> None:
    out = small_run(tmp_path)
    path = out / "chunks.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([b'{"item": "a.wav", "text": "caf\xe9"}\n', *lines]))
    assert list(quality_table(out)["text"]) == ["hello there", "general kenobi", "one two"]  # the others' records
    done = run_cli("report", "-o", str(out))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    too_few = run_cli("calibrate", "-o", str(out))
    assert too_few.returncode == 2 and "too few compared chunks" in too_few.stderr, too_few.stderr


@pytest.mark.parametrize("command", ["report", "calibrate"])
def test_a_folder_without_run_json_is_bad_input(tmp_path: Path, command: str) -> None:
    out = small_run(tmp_path)
    (out / "run.json").write_text("not json")
    done = run_cli(command, "-o", str(out))
    assert done.returncode == 2 and "run.json is not a run's record: not valid JSON or no files list" in done.stderr, (
        done.stderr
    )


@pytest.mark.parametrize(
    "rates",
    [
        {"manual_rtf_high": 1e308},
        {"words_per_second": 1e-308},
        {"break_even_wer": 1e-200, "words_per_second": 1e-200},  # their product is 0 as a float
    ],
)
def test_rates_beyond_floats_give_no_estimate(rates: dict) -> None:
    drafted = ItemEdits("a.wav", DRAFT, audio_seconds=60.0, word_edits=15, segment_edits=3, ref_words=150)
    found = estimate([drafted], EffortOptions(**rates))
    assert found["hours_saved"] is None and "no finite figure" in found["note"]
    assert "hours_saved_high" not in found


def test_calibrate_refuses_the_same_run_twice(tmp_path: Path) -> None:
    out = long_run(tmp_path)
    done = run_cli("calibrate", "-o", str(out), "-o", f"{out}/")
    assert done.returncode == 2 and "the same run as" in done.stderr, done.stdout
    assert not (out / "correction" / MODEL_FILE).exists()


def test_calibrate_out_that_is_a_folder_is_bad_input(tmp_path: Path) -> None:
    out = long_run(tmp_path)
    folder = tmp_path / "models"
    folder.mkdir()
    done = run_cli("calibrate", "-o", str(out), "--out", str(folder))
    assert done.returncode == 2 and f"{folder} is a folder" in done.stderr, done.stderr
    assert list(folder.iterdir()) == []
    empty = run_cli("calibrate", "-o", str(out), "--out", "")
    assert empty.returncode == 2 and "--out is empty" in empty.stderr, empty.stderr
    assert not (out / "correction" / "review_model.json").exists()  # not the default path instead
    fine = run_cli("calibrate", "-o", str(out), "--out", str(folder / "model.json"))
    assert fine.returncode == 0 and (folder / "model.json").is_file(), fine.stderr


def test_a_report_that_cannot_be_rendered_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = small_run(tmp_path)
    result = compare_run(out, ANNOTATION, CorrectionOptions())

    def broken(*args: object) -> str:
        raise RuntimeError("no fonts")

    monkeypatch.setattr(report_module, "report_html", broken)
    with pytest.raises(RuntimeError):
        write_report(result, out / "correction")
    assert not (out / "correction").exists()  # no CSVs beside an old (or missing) report.html
