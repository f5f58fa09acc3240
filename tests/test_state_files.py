"""State files edited or damaged between runs: stored transcripts, run.json's item names, pulled.json.

Whatever a state file holds, the run goes on: a damaged transcript is redone with a warning, an
item name that is not a plain name is a problem of that item only, and no path is built from it,
so nothing outside the output folder is read or written.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.correction_runs import ANNOTATION, PROJECT, make_run, sa_options
from support.media import SAMPLES
from support.sa_server import SuperAnnotateServer

from preannotate.correction import compare_run, pull_run
from preannotate.correction.dataset import export_dataset
from preannotate.correction.pull import load_pull, open_session
from preannotate.correction.rundata import run_items
from preannotate.errors import TranscriptionError
from preannotate.options import CorrectionOptions, DatasetExportOptions
from preannotate.results import Transcript
from preannotate.superannotate import preflight, upload_run
from preannotate.superannotate.plan import run_files

BAD_NAMES = {"talk.wav": "../../talk", "fox.wav": "a/b", "hello.wav": 5}  # count.wav stays as it is
NOT_PLAIN = "run.json item name {!r} is not a plain item name"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "preannotate", *args], capture_output=True, text=True, timeout=600)


def files_outside(root: Path, out: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and out not in p.parents}


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


# stored transcripts


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda t: t.update(segments="garbage"), "transcript: segments is str ('garbage'), not a list"),
        (lambda t: t["segments"][0].update(words={"w": 1}), "segment 0: words is dict ({'w': 1}), not a list"),
        (lambda t: t["segments"][0]["words"][0].update(start="0.1"), "segment 0, word 0: start is str ('0.1')"),
        (lambda t: t["segments"][0].pop("end"), "segment 0: end is missing"),
        (lambda t: t["segments"][0].update(tokens=[1, "x"]), "segment 0: tokens[1] is str ('x'), not an integer"),
        (lambda t: t.update(meta=[]), "transcript: meta is list ([]), not an object"),
        (lambda t: t.update(duration=True), "transcript: duration is bool (True), not a number"),
        (lambda t: t.update(language=["en"]), "transcript: language is list (['en']), not a string"),
    ],
)
def test_wrong_types_in_a_stored_transcript_are_named(damage, message: str) -> None:
    stored = json.loads((Path(__file__).parent / "data" / "pauses.tiny_en.json").read_text(encoding="utf-8"))
    assert Transcript.from_dict(stored).segments
    damage(stored)
    with pytest.raises(TranscriptionError) as error:
        Transcript.from_dict(stored)
    assert message in str(error.value)
    with pytest.raises(TranscriptionError, match="transcript is list"):
        Transcript.from_dict([stored])


def test_damaged_transcripts_are_redone_with_a_warning(tmp_path: Path, tiny_model) -> None:
    inp, out = tmp_path / "in", tmp_path / "out"
    shutil.copytree(SAMPLES / "en", inp, ignore=shutil.ignore_patterns("*.txt"))
    args = ("run", "-i", str(inp), "-o", str(out), "--set", "model.name=bundled:tiny.en", "--no-progress")
    assert cli(*args).returncode == 0
    transcripts = out / "transcripts"
    edit_json(transcripts / "counting.wav.json", lambda t: t.update(segments="garbage"))
    edit_json(transcripts / "hello_world.wav.json", lambda t: t["meta"].update(source="sha"))
    (transcripts / "quick_brown_fox.wav.json").write_text("[1, 2", encoding="utf-8")

    again = cli(*args)
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
    files = {f["item"]: f for f in json.loads((out / "run.json").read_text())["files"]}
    assert {item: f["status"] for item, f in files.items()} == dict.fromkeys(files, "ok")
    expected = {
        "counting.wav": "transcripts/counting.wav.json is damaged (transcript: segments is str",
        "hello_world.wav": "transcripts/hello_world.wav.json is damaged (meta: source is str, not an object)",
        "quick_brown_fox.wav": "transcripts/quick_brown_fox.wav.json is damaged (it is not valid JSON)",
    }
    for item, warning in expected.items():
        assert warning in files[item]["warnings"][0] and warning in again.stderr
        assert Transcript.from_dict(json.loads((transcripts / f"{item}.json").read_text())).segments  # rebuilt
    assert "hello" in (out / "chunks.csv").read_text().lower()
    third = cli(*args)
    statuses = [f["status"] for f in json.loads((out / "run.json").read_text())["files"]]
    assert third.returncode == 0 and statuses == ["skipped"] * 3


# run.json item names read back


def break_item_names(out: Path) -> None:
    """Edits run.json's item names, and leaves a valid annotation where `superannotate/../../talk.json` points."""

    def change(run: dict) -> None:
        for f in run["files"]:
            f["item"] = BAD_NAMES.get(f["item"], f["item"])
        run["files"].append({"item": "/abs/olute.wav", "source": "x.wav", "status": "ok"})

    edit_json(out / "run.json", change)
    decoy = json.loads((out / "superannotate" / "talk.wav.json").read_text(encoding="utf-8"))
    decoy["metadata"]["name"] = "../../talk"
    (out.parent / "talk.json").write_text(json.dumps(decoy), encoding="utf-8")


def test_run_files_mark_names_that_are_not_plain(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    files = [{"item": n, "source": "s.wav", "status": "ok"} for n in ["ok.wav", "../..", "", None, 7, ".", "a\\b"]]
    (out / "run.json").write_text(json.dumps({"files": files}), encoding="utf-8")
    listed = run_files(out)
    assert listed[0]["problem"] == "" and listed[0]["item"] == "ok.wav"
    assert [f["problem"] for f in listed[1:]] == [NOT_PLAIN.format(n) for n in ["../..", "", None, 7, ".", "a\\b"]]


def test_dry_run_upload_fails_only_the_items_with_edited_names(tmp_path: Path, sa_clean_env) -> None:
    inp, out = make_run(tmp_path)
    break_item_names(out)
    before = files_outside(tmp_path, out)
    done = cli(
        "upload", "-i", str(inp), "-o", str(out), "--set", "superannotate.url_prefix=https://media.example.org/a"
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    items = {i["item"]: i for i in json.loads((out / "run.json").read_text())["upload"]["items"]}
    assert items["count.wav"]["status"] == "skipped" and "dry run" in items["count.wav"]["reason"]
    for name in [*BAD_NAMES.values(), "/abs/olute.wav"]:
        assert items[str(name)]["status"] == "failed"
        assert items[str(name)]["reason"] == NOT_PLAIN.format(name)
    assert files_outside(tmp_path, out) == before


def test_upload_pull_report_and_export_go_on_past_edited_names(tmp_path: Path, sa_server: SuperAnnotateServer) -> None:
    inp, out = make_run(tmp_path)
    break_item_names(out)
    before = files_outside(tmp_path, out)
    options = sa_options()
    uploaded = upload_run(out, options, ANNOTATION, inp, preflight(options))
    assert uploaded.succeeded == ["count.wav"] and len(uploaded.failed) == 4
    assert set(sa_server.items(PROJECT)) == {"count.wav"}

    pulled = pull_run(out, PROJECT, open_session(options))
    assert pulled.pulled == ["count.wav"]
    assert pulled.problems == {str(n): NOT_PLAIN.format(n) for n in [*BAD_NAMES.values(), "/abs/olute.wav"]}
    assert sorted(p.name for p in (out / "corrected").iterdir()) == ["count.wav.json"]

    result = compare_run(out, ANNOTATION, CorrectionOptions(compare_statuses=()))  # InProgress items too
    assert bool(result.items.set_index("item").loc["count.wav", "compared"])
    assert set(result.problems) == {str(n) for n in [*BAD_NAMES.values(), "/abs/olute.wav"]}
    exported = export_dataset(out, DatasetExportOptions(only_completed=False), ANNOTATION, input_dir=inp)
    assert exported.clips == 1 and set(exported.problems) == set(result.problems)
    assert files_outside(tmp_path, out) == before


def test_edited_pulled_json_reaches_nothing_outside_the_run(tmp_path: Path, sa_server: SuperAnnotateServer) -> None:
    inp, out = make_run(tmp_path)
    options = sa_options()
    upload_run(out, options, ANNOTATION, inp, preflight(options))
    pull_run(out, PROJECT, open_session(options))
    (tmp_path / "stolen.json").write_text(json.dumps({"metadata": {"name": "x"}, "instances": []}), encoding="utf-8")

    def change(pulled: dict) -> None:
        by_item = {i["item"]: i for i in pulled["items"]}
        by_item["talk.wav"].update(item="../../stolen", file="corrected/../../stolen.json")
        by_item["fox.wav"]["file"] = "../stolen.json"

    edit_json(out / "pulled.json", change)
    problems = load_pull(out).problems
    assert problems["../../stolen"] == "pulled.json item name '../../stolen' is not a plain item name"
    assert problems["fox.wav"] == "pulled.json its file '../stolen.json' is not corrected/fox.wav.json"
    result = compare_run(out, ANNOTATION, CorrectionOptions(compare_statuses=()))  # InProgress items too
    assert {"../../stolen", "fox.wav"} <= set(result.problems)
    assert set(result.items[result.items["compared"]]["item"]) == {"hello.wav", "count.wav"}


def test_report_and_export_read_no_edited_source_or_name() -> None:
    files = [
        {"item": "ok.wav", "source": "d/ok.wav"},
        {"item": "../..", "source": "x.wav"},
        {"item": "up.wav", "source": "../../etc/passwd"},
        {"item": "abs.wav", "source": "/etc/passwd"},
        "not a record",
    ]
    items = run_items({"files": files})
    assert list(items) == ["ok.wav", "up.wav", "abs.wav"] and items["ok.wav"]["source"] == "d/ok.wav"
    assert items["up.wav"]["source"] is None and "is not a relative path" in items["up.wav"]["problem"]
    assert items["abs.wav"]["source"] is None
