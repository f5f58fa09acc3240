"""Pulling again while the platform changes never pairs an annotation with a status it was not pulled in.

The annotators' corrections are the most valuable data the tool touches: `export` publishes an item's
`corrected/<item>.json` as finished when pulled.json says Completed. A pull that fails or stops half-way
must leave each stored file with the status it was pulled in. Runs are uploaded with the real SDK to the
loopback server, edited there as annotators would, and pulled with the real command line.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from support.correction_runs import PROJECT, make_run, run_cli, set_text, upload
from support.sa_server import SuperAnnotateServer

from preannotate.correction import pull as pull_module
from preannotate.correction.pull import INTERRUPTED, load_pull

ITEMS = ("talk.wav", "fox.wav", "hello.wav", "count.wav")
REWORK = "annotator still reworking this"


def state(out: Path) -> dict[str, bytes]:
    """pulled.json and every file under corrected/, byte for byte."""
    files = [out / "pulled.json", *sorted((out / "corrected").rglob("*"))]
    return {str(p.relative_to(out)): p.read_bytes() for p in files if p.is_file()}


def pull(out: Path) -> int:
    return run_cli("pull", "-o", str(out), "--set", "superannotate.backoff_seconds=0").returncode


def completed_and_pulled(server: SuperAnnotateServer, root: Path) -> Path:
    """A run uploaded, every item Completed by the annotators and pulled; returns its output folder."""
    inp, out = make_run(root)
    upload(inp, out)
    for item in ITEMS:
        server.set_status(PROJECT, item, "Completed")
    assert pull(out) == 0
    return out


def reopen(server: SuperAnnotateServer) -> None:
    """QA returns every item and an annotator starts reworking it: its annotation is half-done now."""
    for item in ITEMS:
        annotation = server.annotation(PROJECT, item)
        set_text(annotation, 0, REWORK)
        server.set_annotation(PROJECT, item, annotation)
        server.set_status(PROJECT, item, "Returned")


def paired(out: Path) -> dict[str, tuple[str | None, bool]]:
    """Item -> (the status pulled.json gives it, whether its stored file holds the half-done rework)."""
    return {
        i.item: (i.status, REWORK in (out / i.file).read_text(encoding="utf-8"))
        for i in load_pull(out).items
        if i.file and (out / i.file).is_file()
    }


def test_a_pull_failing_half_way_leaves_the_last_pull_whole(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = completed_and_pulled(sa_server, tmp_path)
    before = state(out)
    reopen(sa_server)
    monkeypatch.setattr(pull_module, "BATCH", 1)  # one item per download request: a failure can come between
    # The first item's download (its method call and its stream) is answered, then SuperAnnotate fails.
    sa_server.inject("annotations/download", 500, times=100, after=2)

    assert pull(out) == 1
    # Before: talk.wav's rework was stored while pulled.json still said Completed, so export published it.
    assert state(out) == before
    assert all(status == "Completed" and not rework for status, rework in paired(out).values())

    sa_server.state.faults.clear()
    assert pull(out) == 0
    assert paired(out) == dict.fromkeys(ITEMS, ("Returned", True))
    assert not list((out / "corrected").glob(".*")), "the pull's staging folder is left behind"


def test_a_pull_stopped_while_storing_lists_no_file_with_another_pulls_status(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = completed_and_pulled(sa_server, tmp_path)
    reopen(sa_server)
    blocked, replace, failures = out / "corrected" / "count.wav.json", os.replace, [1]

    def failing(source, target, *args, **kwargs):  # storing stops there, after the other items, once
        if Path(target) == blocked and failures:
            failures.pop()
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(target))
        return replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", failing)
    result = run_cli("pull", "-o", str(out))

    assert result.returncode == 1 and "count.wav.json" in result.stderr and "Traceback" not in result.stderr
    # Before: talk, fox and hello held the rework while pulled.json said Completed.
    assert all(not rework for _, rework in paired(out).values())
    index = json.loads((out / "pulled.json").read_text(encoding="utf-8"))
    assert {i["item"]: i["problem"] for i in index["items"]} == dict.fromkeys(ITEMS, INTERRUPTED)
    assert pull(out) == 0
    assert paired(out) == dict.fromkeys(ITEMS, ("Returned", True))
    # The three files moved in before the stop were that pull's own: replaced, not kept aside as changed.
    assert not (out / "corrected-kept").exists()


def test_a_pull_removes_only_its_own_old_staging_folders(tmp_path: Path) -> None:
    corrected = tmp_path / "corrected"
    old_own, young_own, theirs = (corrected / name for name in (".pull-ab12cd_9", ".pull-zz99yy00", ".pull-notes"))
    for folder in (old_own, young_own, theirs):
        folder.mkdir(parents=True)
    for folder in (old_own, theirs):  # two hours old
        os.utime(folder, (folder.stat().st_atime - 7200, folder.stat().st_mtime - 7200))
    with pull_module._staging(corrected) as staging:
        assert staging.name.startswith(".pull-") and staging.is_dir()
    assert not old_own.exists() and young_own.is_dir() and theirs.is_dir() and not staging.exists()
