"""`preannotate calibrate` and the report's control arm, end to end on the loopback SuperAnnotate server:
drafts uploaded with the real SDK, corrected there, pulled, then the command line on the run folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support.correction_runs import (
    ANNOTATION,
    DOUBTFUL,
    N_CHUNKS,
    PROJECT,
    annotate,
    long_chunk,
    make_long_run,
    make_run,
    run_cli,
    sa_options,
    upload,
)
from support.sa_server import SuperAnnotateServer

from preannotate.config import load_config
from preannotate.correction import compare_run, pull_run
from preannotate.correction.calibrate import MIN_PER_CLASS, MODEL_DIR, calibrate_from_config, chunk_from_record
from preannotate.correction.calibration import calibration_table
from preannotate.correction.pull import open_session
from preannotate.correction.report import REPORT_DIR
from preannotate.options import CorrectionOptions
from preannotate.quality import ReviewModel

CHANGED = (DOUBTFUL - {0, 3}) | {1, 2}  # annotators fix 12 of them, and 2 the model was sure of


@pytest.fixture
def long_run(sa_server: SuperAnnotateServer, tmp_path: Path) -> Path:
    """One 80-s item of 40 chunks uploaded, 14 corrected on the server, pulled."""
    return make_long_run(sa_server, tmp_path, CHANGED)


@pytest.mark.slow  # two refits with cross-validation, in subprocesses
def test_calibrate_refits_on_the_pulled_run_and_scores_it_held_out(long_run: Path, tmp_path: Path) -> None:
    done = run_cli("calibrate", "-o", str(long_run))
    assert done.returncode == 0, done.stderr
    path = long_run / "correction" / "review_model.json"
    assert f"annotation.review_model={path}" in done.stdout
    assert f"fitted on {N_CHUNKS} chunk(s) from 1 run(s), {len(CHANGED)} with errors" in done.stdout
    model = ReviewModel.load(path)
    held_out = model.to_dict()["provenance"]["held_out"]
    # As uploaded, no chunk was flagged; refitted, the unsure word finds the fixed chunks: 12 of the 14 with
    # errors carry it (2 were fixed although sure), and 2 of the 14 unsure chunks were left as they were.
    assert held_out["uploaded"]["flagged"] == 0 and held_out["uploaded"]["recall"] == 0.0
    refitted = held_out["refitted"]
    assert (refitted["chunks"], refitted["with_error"]) == (N_CHUNKS, len(CHANGED))
    assert refitted["recall"] >= 0.75 and refitted["precision"] >= 0.75, refitted
    assert "refitted (held out)" in done.stdout and "as uploaded" in done.stdout
    # The shipped model recalibrated is the other candidate; one item: its chunks are split between folds.
    recalibrated = held_out["recalibrated"]
    assert (recalibrated["chunks"], recalibrated["with_error"]) == (N_CHUNKS, len(CHANGED))
    provenance = model.to_dict()["provenance"]
    assert provenance["folds"] == "by chunk" and provenance["method"] in ("refitted", "recalibrated")
    assert provenance["fit"]["method"] == provenance["method"]
    written = [line for line in done.stdout.splitlines() if line.endswith("<- written")]
    name = {"refitted": "refitted (held out)", "recalibrated": "shipped, recalibrated (held out)"}[provenance["method"]]
    assert len(written) == 1 and name in written[0], done.stdout
    assert 0.5 < held_out["shipped"]["auc"] <= 1.0  # its ranking, beside the candidates' held-out ones
    # The choice between the two, held out too: what to expect of the model written, printed under the candidates.
    selection = held_out["selection"]
    assert sum(selection["chosen"].values()) == 5 and selection["chunks"] == N_CHUNKS, selection
    assert "chosen in each fold (nested)" in done.stdout and "chosen in 5 folds: " in done.stdout, done.stdout
    # The model ranks an unsure chunk above a sure one.
    from preannotate.quality import chunk_features

    unsure, sure = (model.predict_wer(chunk_features(long_chunk(i), 80.0)) for i in (6, 7))
    assert unsure > sure
    assert_calibration_table(long_run)
    # What the correction notebook runs: the same model, into the run's correction/ beside the report.
    config = load_config(None, [f"output.dir={long_run}"])
    again, written = calibrate_from_config(config)
    assert written == path and MODEL_DIR == REPORT_DIR and again.method == provenance["method"]
    assert ReviewModel.load(path).threshold == model.threshold
    other, copy = tmp_path / "model.json", tmp_path / "copy"
    shutil.copytree(long_run, copy)  # a copy pulled the same items of the project: its chunks would count twice
    twice = run_cli("calibrate", "-o", str(long_run), "-o", str(copy), "--out", str(other))
    assert twice.returncode == 2 and "would count twice" in twice.stderr and not other.exists(), twice.stderr
    pulled = json.loads((copy / "pulled.json").read_text())  # the same recordings, annotated in another project
    (copy / "pulled.json").write_text(json.dumps({**pulled, "project": "Other", "target": pulled["target"] + "2"}))
    again = run_cli("calibrate", "-o", str(long_run), "-o", str(copy), "--out", str(other))
    assert again.returncode == 0 and f"fitted on {2 * N_CHUNKS} chunk(s) from 2 run(s)" in again.stdout
    assert ReviewModel.load(other).provenance["calibrated_on"] == [str(long_run), str(copy)]


def assert_calibration_table(run: Path) -> None:
    """With predicted WERs in chunks.jsonl (runs made with the review model), the table bins the 40 chunks."""
    path = run / "chunks.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for r in records:  # as the review model would: unsure chunks high
        r["predicted_wer"] = 0.4 if r["chunk"] in DOUBTFUL else 0.02
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    table = calibration_table(compare_run(run, ANNOTATION, CorrectionOptions()).chunks).set_index("predicted_wer_bin")
    # 26 sure chunks, 2 of them corrected; 14 unsure, 12 corrected. The English normalizer splits "word1" into
    # "word 1": 5 words, 1 substituted (word -> corrected), WER 0.2 per corrected chunk.
    assert table.loc["0.00-0.05", "chunks"] == 26 and table.loc["0.30-0.50", "chunks"] == 14
    assert table.loc["0.00-0.05", "mean_measured_wer"] == pytest.approx(2 * 0.2 / 26)
    assert table.loc["0.30-0.50", "mean_measured_wer"] == pytest.approx(12 * 0.2 / 14)
    assert table.loc["0.30-0.50", "share_with_error"] == pytest.approx(12 / 14)


def test_calibrate_says_what_is_missing(corrected_run: Path, tmp_path: Path) -> None:  # noqa: F811
    too_few = run_cli("calibrate", "-o", str(corrected_run))
    assert too_few.returncode == 2
    assert f"need at least {MIN_PER_CLASS} of each" in too_few.stderr and "1 with errors" not in too_few.stdout
    (tmp_path / "fresh").mkdir()
    _, unpulled = make_run(tmp_path / "fresh")  # never uploaded nor pulled
    missing = run_cli("calibrate", "-o", str(unpulled))
    assert missing.returncode == 2 and "run `preannotate pull` first" in missing.stderr
    for command in ("calibrate", "report", "export"):
        typo = run_cli(command, "-o", str(tmp_path / "no such run"))
        assert typo.returncode == 2 and "no such run" in typo.stderr and "pulled.json" not in typo.stderr, command
        assert "does not exist" in typo.stderr or "no such output folder" in typo.stderr, command
        assert "Traceback" not in typo.stderr


def test_report_compares_the_control_arm_with_work_times(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    inp, corrected_run = make_run(tmp_path)
    run = json.loads((corrected_run / "run.json").read_text())
    for f in run["files"]:
        f["route"] = "control" if f["item"] == "count.wav" else "draft"
    (corrected_run / "run.json").write_text(json.dumps(run))
    control = corrected_run / "superannotate" / "count.wav.json"  # uploaded with its boundaries, without text
    annotation = json.loads(control.read_text())
    for instance in annotation["instances"]:
        for stamp in instance["parameters"][0]["timestamps"]:
            stamp["attributes"] = [a for a in stamp["attributes"] if a["groupName"] != ANNOTATION.text_group]
    control.write_text(json.dumps(annotation))
    upload(inp, corrected_run)
    annotate(sa_server)
    pull_run(corrected_run, PROJECT, open_session(sa_options()))
    times = tmp_path / "times.csv"
    # talk.wav 12 s + fox.wav 2.889 s of drafts; count.wav 2.986 s typed from scratch.
    times.write_text("item,seconds\ntalk.wav,60\nfox.wav,15\ncount.wav,30\n")
    every = ("--set", "correction.compare_statuses=[]")  # count.wav, typed from scratch, is still InProgress
    done = run_cli("report", "-o", str(corrected_run), "--work-times", str(times), *every)
    assert done.returncode == 0, done.stderr
    summary = json.loads((corrected_run / "correction" / "summary.json").read_text())
    arms = summary["control_arm"]["arms"]
    draft_audio = 12.0 + 46218 / 16000
    assert arms["draft"]["hours_per_audio_hour"] == pytest.approx(75 / draft_audio)
    assert arms["control"]["hours_per_audio_hour"] == pytest.approx(30 / (47771 / 16000))
    assert summary["control_arm"]["ratio"] == pytest.approx((75 / draft_audio) / (30 / (47771 / 16000)))
    # talk.wav: 5 word edits, 4 boundary edits (retimed, removed, split, added); fox.wav none.
    assert (arms["draft"]["word_edits"], arms["draft"]["segment_edits"]) == (5, 4)
    assert summary["hours_saved"]["items_control"] == 1 and summary["hours_saved"]["hours_saved"] is not None
    assert "hours saved (estimate):" in done.stdout and "per audio hour (range" in done.stdout
    page = (corrected_run / "correction" / "report.html").read_text()
    for text in ("Hours saved (estimate)", "Gaur", "Bazillon", "Uncertainty", "Control arm", "times the control"):
        assert text in page, text
    assert (corrected_run / "correction" / "calibration.csv").is_file()
    times.write_text("item,seconds\ntalk.wav,60\nfox.wav,soon\n")
    bad = run_cli("report", "-o", str(corrected_run), "--work-times", str(times))
    assert bad.returncode == 2 and "line 3: seconds 'soon' of fox.wav is not a number" in bad.stderr


def test_chunks_are_rebuilt_from_records_and_damaged_ones_left_out() -> None:
    record = {
        "item": "a.wav",
        "chunk": 3,
        **long_chunk(3).to_dict(),
        "predicted_wer": 0.4,
        "doubtful_words": [[0, "x", 0.1]],
    }
    record.pop("index")
    assert chunk_from_record(json.loads(json.dumps(record))) == long_chunk(3)
    for damage in ({"start": "soon"}, {"end": float("nan")}, {"text": None}, {"words": [{"word": "x"}]}):
        assert chunk_from_record({**record, **damage}) is None, damage
