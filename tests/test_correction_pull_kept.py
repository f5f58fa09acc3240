"""A pull replaces in `corrected/` only what the last pull stored, unchanged: anyone's own edits are kept aside.

`corrected/<item>.json` mirrors SuperAnnotate, but a reviewer may fix a file by hand after a pull, or put a
correction of their own there: the next pull moves such a file to `corrected-kept/<pull time>/` before it
replaces it. Runs are uploaded with the real SDK to the loopback server and pulled with the real command line.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from support.correction_runs import PROJECT, annotate, make_run, run_cli, set_text, upload
from support.sa_server import SuperAnnotateServer

import preannotate.correction.pull as pull_module
from preannotate.errors import DiskFullError


def pull(out: Path, *args: str):
    return run_cli("pull", "-o", str(out), *args)


def kept(out: Path) -> dict[str, bytes]:
    """What `corrected-kept/` holds: `<pull time>/<item>.json` -> bytes."""
    folder = out / "corrected-kept"
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.json"))}


def rewrite(server: SuperAnnotateServer, item: str, text: str) -> None:
    annotation = server.annotation(PROJECT, item)
    set_text(annotation, 0, text)
    server.set_annotation(PROJECT, item, annotation)


def test_a_file_changed_by_hand_since_the_pull_is_kept_aside_and_an_unchanged_one_replaced(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    inp, out = make_run(tmp_path)
    upload(inp, out)
    annotate(sa_server)
    assert pull(out).returncode == 1  # hello.wav was removed from the project
    index = json.loads((out / "pulled.json").read_text())
    for entry in index["items"]:  # each stored file's hash is what vouches for it at the next pull
        if entry["file"]:
            assert entry["sha256"] == hashlib.sha256((out / entry["file"]).read_bytes()).hexdigest()
    assert not (out / "corrected-kept").exists()

    edited = out / "corrected" / "talk.wav.json"
    mine = json.loads(edited.read_text())
    mine["instances"] = mine["instances"][:2]  # a reviewer's own fix, made in the file
    edited.write_text(json.dumps(mine), encoding="utf-8")
    mine_bytes = edited.read_bytes()
    rewrite(sa_server, "talk.wav", "Annotated again on the platform.")
    rewrite(sa_server, "fox.wav", "The quick brown fox, again.")
    again = pull(out)
    assert again.returncode == 1 and "Traceback" not in again.stderr, again.stderr
    assert "1 file(s) in corrected/ were not as the last pull stored them" in again.stderr, again.stderr
    [(name, content)] = kept(out).items()
    assert name.endswith("/talk.wav.json") and content == mine_bytes  # the hand edit, byte for byte
    assert "Annotated again on the platform." in edited.read_text()  # and the platform's annotation pulled
    assert "The quick brown fox, again." in (out / "corrected" / "fox.wav.json").read_text()  # replaced alone


def test_an_index_that_cannot_be_written_leaves_corrected_as_it_was(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch
) -> None:
    """The disk fills as the pull writes its interim index: no file has moved yet, the old index still holds."""
    inp, out = make_run(tmp_path)
    upload(inp, out)
    annotate(sa_server)
    pull(out)
    edited = out / "corrected" / "talk.wav.json"
    edited.write_text(edited.read_text().replace("}", " }", 1), encoding="utf-8")  # a reviewer's edit
    before = {p: p.read_bytes() for p in [*sorted((out / "corrected").iterdir()), out / "pulled.json"]}
    rewrite(sa_server, "talk.wav", "Annotated again on the platform.")
    real_write = pull_module.write_json_atomic

    def disk_fills(path, data, *args, **kwargs):  # the device, not the code under test, runs out of room
        if any(item.get("problem") == pull_module.INTERRUPTED for item in data.get("items", [])):
            raise DiskFullError(f"{path}: No space left on device")
        return real_write(path, data, *args, **kwargs)

    monkeypatch.setattr(pull_module, "write_json_atomic", disk_fills)
    again = pull(out)
    assert again.returncode != 0 and "No space left" in again.stderr and "Traceback" not in again.stderr
    assert {p: p.read_bytes() for p in before} == before  # the hand edit in place, the old index unchanged
    assert sorted((out / "corrected").iterdir()) == sorted(p for p in before if p.parent.name == "corrected")
    assert not (out / "corrected-kept").exists()


def test_a_users_own_file_in_corrected_before_any_pull_is_kept(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    inp, out = make_run(tmp_path)
    upload(inp, out)
    (out / "corrected").mkdir()
    own = out / "corrected" / "fox.wav.json"
    own.write_text('{"my": "own corrections"}', encoding="utf-8")
    assert pull(out).returncode == 0
    [(name, content)] = kept(out).items()
    assert name.endswith("/fox.wav.json") and content == b'{"my": "own corrections"}'
    assert json.loads(own.read_text())["instances"]  # the platform's annotation now


def test_a_file_left_out_by_a_status_filter_stays_vouched_for_at_the_next_pull(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    inp, out = make_run(tmp_path)
    upload(inp, out)
    assert pull(out).returncode == 0  # every item, NotStarted
    annotate(sa_server)  # talk.wav and fox.wav now Completed; hello.wav, pulled, removed (its pull is kept)
    assert pull(out, "--status", "Completed").returncode == 0  # count.wav left out by the filter: its file stays
    rewrite(sa_server, "count.wav", "Counting, corrected.")
    assert pull(out).returncode == 0
    assert not (out / "corrected-kept").exists()  # every file replaced was a pull's own, unchanged
    assert "Counting, corrected." in (out / "corrected" / "count.wav.json").read_text()
