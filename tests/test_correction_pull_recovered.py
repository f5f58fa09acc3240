"""Corrections a pull can no longer get stay listed: after a damaged pulled.json, and when someone else takes the name.

A damaged pulled.json (not JSON, a field of the wrong type) is kept beside the new one as
`pulled.json.invalid-<UTC time>`, and each item the pull cannot get whose `corrected/<item>.json` is still its
annotation is listed again as `missing`, recovered from that file. An item of ours deleted from the project and
replaced by someone else's of the same name (other audio) keeps its earlier correction as a removed item does,
never overwritten by theirs. Runs are uploaded with the real SDK to the loopback server, edited there as
annotators would, and pulled with the real command line.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from support.correction_runs import ANNOTATION, PROJECT, annotate, make_run, run_cli, set_text, upload
from support.sa_server import SuperAnnotateServer

from preannotate.correction import compare_run
from preannotate.correction.dataset import export_dataset
from preannotate.correction.pull import NO_ANNOTATION, NOT_IN_PROJECT, load_pull
from preannotate.correction.pull_gone import OTHER_AUDIO, RECOVERED
from preannotate.options import CorrectionOptions, DatasetExportOptions

THEIRS = "https://other-team.example/private"  # someone else's audio, of the same item names


def pull(out: Path, *args: str):
    return run_cli("pull", "-o", str(out), "--set", "superannotate.backoff_seconds=0", *args)


def entries(out: Path) -> dict[str, dict]:
    """pulled.json's items by name, as written."""
    return {i["item"]: i for i in json.loads((out / "pulled.json").read_text(encoding="utf-8"))["items"]}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def remove(server: SuperAnnotateServer, item: str) -> None:
    """Deletes the item and its annotation from the project, as a manager would."""
    with server.state.lock:
        pid = server.project(PROJECT)["id"]
        del server.state.items[pid][item]
        del server.state.annotations[(pid, item)]


def replace_with_theirs(server: SuperAnnotateServer, item: str) -> None:
    """Deletes our item; someone else attaches their own recording under its name and completes it."""
    theirs = server.annotation(PROJECT, item)
    remove(server, item)
    server.add_item(PROJECT, item, f"{THEIRS}/{item}", status="Completed")
    set_text(theirs, 0, "Someone else's recording.")
    server.set_annotation(PROJECT, item, theirs)


def pulled_run(server: SuperAnnotateServer, root: Path) -> tuple[Path, Path]:
    """A run corrected (hello.wav removed before any pull) and pulled; returns its input and output folders."""
    inp, out = make_run(root)
    upload(inp, out)
    annotate(server)
    assert pull(out).returncode == 1  # hello.wav: never pulled, a problem
    return inp, out


def corrected(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "corrected").glob("*.json"))}


def first_item(key: str, value: object) -> Callable[[dict], None]:
    return lambda index: index["items"][0].update({key: value})


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (None, "it is not valid JSON"),
        (first_item("selected", "yes"), "items[0].selected is a string ('yes'), not true or false"),
        (lambda index: index.update(format=2), "format is an integer (2), not 1"),
    ],
)
def test_a_damaged_pulled_json_is_kept_and_the_corrections_it_listed_are_recovered(
    sa_server: SuperAnnotateServer, tmp_path: Path, damage: Callable[[dict], None] | None, message: str
) -> None:
    _, out = pulled_run(sa_server, tmp_path)
    remove(sa_server, "talk.wav")
    sa_server.omit_from_download("fox.wav")
    replace_with_theirs(sa_server, "count.wav")
    stored, path = corrected(out), out / "pulled.json"
    if damage is None:
        path.write_bytes(path.read_bytes()[:100])  # cut short, as by a full disk
    else:
        index = json.loads(path.read_text())
        damage(index)
        path.write_text(json.dumps(index))
    original = path.read_bytes()

    result = pull(out)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr  # hello.wav alone fails
    [copy] = out.glob("pulled.json.invalid-*")
    assert re.fullmatch(r"pulled\.json\.invalid-\d{8}T\d{6}Z", copy.name) and copy.read_bytes() == original
    assert f"{path} was damaged ({message}): kept as {copy.name}" in result.stderr, result.stderr
    # Before: the index was rewritten without them (the damaged one lost), so report and export dropped them.
    index, now = load_pull(out), entries(out)
    for item, why in (("talk.wav", NOT_IN_PROJECT), ("fox.wav", NO_ANNOTATION)):
        assert now[item] == {
            "item": item, "status": None, "file": f"corrected/{item}.json", "problem": None, "selected": True,
            "sha256": sha(stored[f"{item}.json"]), "missing": f"{why}; {RECOVERED}", "missing_since": index.pulled_at,
        }  # fmt: skip
    count = now["count.wav"]
    assert count["missing"] == (
        f"{OTHER_AUDIO}; not this run's item: it plays {THEIRS}/count.wav on SuperAnnotate, "
        f"this run's audio is https://media.example.org/a/count.wav; {RECOVERED}"
    )
    assert (count["file"], count["status"]) == ("corrected/count.wav.json", None)
    assert count["sha256"] == sha(stored["count.wav.json"])
    assert corrected(out) == stored  # someone else's count.wav never replaced ours
    assert index.problems == {"hello.wav": NOT_IN_PROJECT}
    assert "kept 3 from an earlier pull" in result.stdout, result.stdout
    assert f"talk.wav ({NOT_IN_PROJECT}; {RECOVERED}, since {index.pulled_at})" in result.stderr

    rows = compare_run(out, ANNOTATION, CorrectionOptions(compare_statuses=())).items.set_index("item")
    assert all(rows.loc[item, "compared"] and RECOVERED in rows.loc[item, "notes"] for item in ("talk.wav", "fox.wav"))
    rows = compare_run(out, ANNOTATION, CorrectionOptions()).items.set_index("item")  # only Completed ones
    assert "not compared: status unknown" in rows.loc["talk.wav", "notes"] and not rows.loc["talk.wav", "compared"]

    again = pull(out)  # the index is sound again: the reason, the time and the hash stay
    assert again.returncode == 1 and f"{path} was damaged" not in again.stderr, again.stderr
    assert entries(out) == now and len(list(out.glob("pulled.json.invalid-*"))) == 1


def test_files_that_are_not_their_items_annotation_are_not_recovered(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    _, out = pulled_run(sa_server, tmp_path)
    for item in ("talk.wav", "fox.wav", "count.wav"):
        remove(sa_server, item)
    (out / "corrected" / "talk.wav.json").write_text('{"instances": [', encoding="utf-8")
    (out / "corrected" / "fox.wav.json").write_bytes((out / "corrected" / "count.wav.json").read_bytes())
    (out / "pulled.json").write_text("[]", encoding="utf-8")
    before = corrected(out)

    result = pull(out)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "2 file(s) in corrected/ of items this pull cannot get are not their item's annotation" in result.stderr
    assert "talk.wav.json (not a JSON object), fox.wav.json (its metadata.name is 'count.wav')" in result.stderr
    now = entries(out)
    assert {item: (now[item]["problem"], now[item]["file"]) for item in ("talk.wav", "fox.wav")} == {
        "talk.wav": (NOT_IN_PROJECT, None), "fox.wav": (NOT_IN_PROJECT, None)
    }  # fmt: skip
    assert now["count.wav"]["missing"] == f"{NOT_IN_PROJECT}; {RECOVERED}"
    assert corrected(out) == before  # left where they are: nothing deleted or moved
    assert len(list(out.glob("pulled.json.invalid-*"))) == 1


def test_a_recovered_file_is_kept_aside_when_its_item_comes_back(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    _, out = pulled_run(sa_server, tmp_path)
    annotation = sa_server.annotation(PROJECT, "talk.wav")
    remove(sa_server, "talk.wav")
    (out / "pulled.json").write_text("not json", encoding="utf-8")
    ours = (out / "corrected" / "talk.wav.json").read_bytes()
    assert pull(out).returncode == 1 and entries(out)["talk.wav"]["missing"] == f"{NOT_IN_PROJECT}; {RECOVERED}"
    sa_server.add_item(PROJECT, "talk.wav", f"{THEIRS}/talk.wav", status="Completed")  # the name taken meanwhile
    sa_server.set_annotation(PROJECT, "talk.wav", annotation)
    assert pull(out).returncode == 1  # another cause, the file still recovered
    assert entries(out)["talk.wav"]["missing"].startswith(OTHER_AUDIO)
    assert entries(out)["talk.wav"]["missing"].endswith(RECOVERED)
    remove(sa_server, "talk.wav")

    sa_server.add_item(PROJECT, "talk.wav", "https://media.example.org/a/talk.wav", status="InProgress")
    set_text(annotation, 0, "Back in the project.")
    sa_server.set_annotation(PROJECT, "talk.wav", annotation)
    back = pull(out)
    assert back.returncode == 1 and "1 file(s) in corrected/ were not as the last pull stored them" in back.stderr
    # No pull vouched for the recovered file (it may hold someone's own edit): kept, not silently replaced.
    [kept] = (out / "corrected-kept").rglob("talk.wav*.json")
    assert kept.read_bytes() == ours
    assert "Back in the project." in (out / "corrected" / "talk.wav.json").read_text()
    assert entries(out)["talk.wav"]["missing"] is None


def test_a_damaged_pulled_json_naming_no_project_is_named_when_no_project_is_known(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    _, out = pulled_run(sa_server, tmp_path)
    (out / "uploads.json").unlink()  # as for a run uploaded by hand: the last pull named the project
    (out / "pulled.json").write_text('{"format": 1, "proj', encoding="utf-8")

    refused = pull(out)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
    assert f"the upload ledger names none, and {out / 'pulled.json'} names none: it is damaged" in refused.stderr
    assert (out / "pulled.json").read_text() == '{"format": 1, "proj'
    chosen = pull(out, "--set", f"superannotate.project={PROJECT}")
    assert chosen.returncode == 1 and "was damaged (it is not valid JSON)" in chosen.stderr, chosen.stderr


def test_an_item_replaced_by_someone_elses_of_its_name_keeps_its_earlier_correction(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    inp, out = pulled_run(sa_server, tmp_path)
    first = entries(out)["talk.wav"]
    ours = (out / "corrected" / "talk.wav.json").read_bytes()
    assert first["status"] == "Completed" and first["file"]
    replace_with_theirs(sa_server, "talk.wav")

    result = pull(out)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr  # hello.wav alone fails
    index, talk = load_pull(out), entries(out)["talk.wav"]
    why = (
        f"{OTHER_AUDIO}; not this run's item: it plays {THEIRS}/talk.wav on SuperAnnotate, "
        "this run's audio is https://media.example.org/a/talk.wav"
    )
    # Before: a problem without a file, so report and export dropped our correction.
    assert talk == {**first, "missing": why, "missing_since": index.pulled_at}
    assert (out / "corrected" / "talk.wav.json").read_bytes() == ours  # never theirs
    assert f"talk.wav ({why}, since {index.pulled_at})" in result.stderr, result.stderr
    assert index.problems == {"hello.wav": NOT_IN_PROJECT}
    assert pull(out).returncode == 1 and entries(out)["talk.wav"] == talk  # still theirs: kept since the first

    row = compare_run(out, ANNOTATION, CorrectionOptions()).items.set_index("item").loc["talk.wav"]
    assert row.compared and OTHER_AUDIO in row.notes
    dest = tmp_path / "dataset"
    exported = export_dataset(out, DatasetExportOptions(dir=str(dest), min_duration=0.5), ANNOTATION, inp)
    clips = pd.read_json(dest / "metadata.jsonl", lines=True, dtype=False)["file_name"]
    assert sum(name.startswith("clips/talk.wav-") for name in clips) == 5  # our corrected segments, Completed
    assert OTHER_AUDIO in exported.notes["talk.wav"][0]


def test_a_hand_edited_file_of_an_item_someone_else_took_is_kept_aside(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    _, out = pulled_run(sa_server, tmp_path)
    edited = out / "corrected" / "talk.wav.json"
    mine = json.loads(edited.read_text())
    set_text(mine, 1, "The quick red fox!")  # a reviewer's own fix, made in the file
    edited.write_text(json.dumps(mine), encoding="utf-8")
    mine = edited.read_bytes()
    replace_with_theirs(sa_server, "talk.wav")

    result = pull(out)
    assert "as SuperAnnotate no longer gives their items and the pull lists them no more: talk.wav" in result.stderr
    talk = entries(out)["talk.wav"]
    assert talk["file"] is None and talk["missing"] is None and "not this run's item" in talk["problem"]
    [kept] = (out / "corrected-kept").rglob("*.json")
    assert kept.read_bytes() == mine and not edited.exists()
