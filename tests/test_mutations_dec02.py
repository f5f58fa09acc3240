"""Tests written from a mutation audit of the state-file, lock, recorded-options and ownership changes (Dec 2).

Each holds one behaviour that a changed line had and no earlier test pinned down; the comment above each names
the mutant it kills. The real code runs throughout: real files, sockets and named pipes, real subprocesses, the
real SDK against the loopback server. Faults are injected only at the operating system's boundary (a file
system without hard links, a file swapped for a pipe between the look and the open), as the audit tests do.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from importlib import metadata
from pathlib import Path

import pytest
from support import upload_runs
from support.correction_runs import ANNOTATION, PROJECT, make_run, redraft_texts, sa_options, send, set_text, stopped
from support.lock_processes import PAUSE_AT_FIRST_FLOCK, go_on, kill_left, release, start_race
from support.sa_server import SuperAnnotateServer

from preannotate.asr import get_spec
from preannotate.config import load_config
from preannotate.correction import pull_run
from preannotate.correction.compare import compare_run
from preannotate.correction.pull import open_session
from preannotate.correction.rundata import draft_for, load_ledger, nearest_draft
from preannotate.errors import ConfigError, StateFileError, UploadError
from preannotate.journal.records import read_records
from preannotate.lock import LOCK_FILE, output_lock
from preannotate.options import CorrectionOptions, SuperAnnotateOptions
from preannotate.storage import read_json
from preannotate.superannotate import LEDGER_FILE, Ledger, recorded_options
from preannotate.superannotate.client import UploadSession
from preannotate.superannotate.plan import PlannedItem
from preannotate.superannotate.send import rounds

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "preannotate"]


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, env=environ)


def python(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout, env=environ
    )


# --- state files ----------------------------------------------------------------------------------------------


# Mutant: `read_regular_bytes` without its look before the open. A socket cannot be opened (ENXIO), so without
# the look it read as a missing run.json: `upload` said the folder held no run instead of naming the socket.
def test_a_socket_in_place_of_run_json_is_named_as_one(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(out / "run.json"))
        with pytest.raises(StateFileError, match="is a socket, not a file this tool wrote"):
            read_json(out / "run.json")
        proc = cli("upload", "-o", str(out))
    finally:
        server.close()
    assert proc.returncode == 2, proc.stderr
    assert f"{out / 'run.json'} is a socket, not a file this tool wrote" in proc.stderr
    assert "Traceback" not in proc.stderr


# Mutants: `read_regular_bytes` without its second look (the open file's `fstat`), and its open without
# O_NONBLOCK. A named pipe put in place of the file between the look and the open is refused, at once: without
# the second look an empty read was taken for a damaged file; without O_NONBLOCK the open waited for a writer.
def test_a_pipe_swapped_in_after_the_look_is_refused_without_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "run.json"
    path.write_text("{}", encoding="utf-8")
    real_stat, swapped = os.stat, []

    def stat_then_swap(target, *args, **kwargs):  # the OS answers for the file, then someone swaps it
        result = real_stat(target, *args, **kwargs)
        if not swapped and os.fspath(target) == str(path):
            swapped.append(True)
            path.unlink()
            os.mkfifo(path)
        return result

    outcome: dict[str, object] = {}

    def read() -> None:
        try:
            outcome["value"] = read_json(path)
        except StateFileError as e:
            outcome["error"] = str(e)

    monkeypatch.setattr(os, "stat", stat_then_swap)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    blocked = reader.is_alive()
    if blocked:
        with open(path, "wb"):  # a writer lets the waiting open go on
            pass
        reader.join(10)
    assert swapped and not blocked, "the open waited for the named pipe's writer"
    assert "is a named pipe, not a file this tool wrote" in str(outcome.get("error")), outcome
    assert path.is_fifo()  # left as it was


# Mutant: `read_records` without turning carriage returns into newlines. The journal used to be read in text
# mode, which reads a lone `\r` as the end of a line; its records still read so.
def test_a_journal_with_carriage_returns_reads_as_in_text_mode(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_bytes(b'{"t": "start", "n": 1}\r{"t": "file", "n": 2}\r\n{"t": "end", "n": 3}\r')
    assert [r["n"] for r in read_records(path)] == [1, 2, 3]


# --- the lock ---------------------------------------------------------------------------------------------------

# A file system without hard links (FAT, some network shares): `os.link` fails with EPERM. Nothing in the
# package is replaced; the OS call answers as such a file system does.
NO_LINKS = """
    import errno, json, os, sys
    def link(src, dst, *args, **kwargs):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM), str(src))
    os.link = link
    from preannotate.lock import LOCK_FILE, output_lock
    out = {out!r}
    with output_lock(out, "run"):
        held = json.loads(open(os.path.join(out, LOCK_FILE)).read())
        print(json.dumps({{"pid": held["pid"], "command": held["command"], "mine": os.getpid(),
                          "names": sorted(os.listdir(out))}}), flush=True)
    print(json.dumps(os.path.exists(out)), flush=True)
"""


# Mutant: `_create_locked` returning None where links fail, instead of creating the file in place: the command
# then looped for ever. It takes the lock, its details in the file, and leaves the folder as it found it.
def test_the_lock_is_taken_on_a_file_system_without_hard_links(tmp_path: Path) -> None:
    out = tmp_path / "new" / "project"
    try:
        proc = python(NO_LINKS.format(out=str(out)), timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("taking the lock looped where the file system has no hard links")
    assert proc.returncode == 0, proc.stderr
    inside, after = proc.stdout.strip().splitlines()
    held = json.loads(inside)
    assert held["pid"] == held["mine"] and held["command"] == "run"
    assert held["names"] == [LOCK_FILE]  # no temporary file left beside it
    assert json.loads(after) is False and not (tmp_path / "new").exists()  # the folders it made are gone


# The refused process of a race, pinned at its first flock (on its own temporary lock file) until the test
# writes to a named pipe, as in test_state_files_audit.py; it counts its open descriptors around the refusal.
PINNED = (
    PAUSE_AT_FIRST_FLOCK
    + """
    from preannotate.errors import LockError
    from preannotate.lock import output_lock
    before = len(os.listdir("/proc/self/fd"))
    try:
        with output_lock({out!r}, "run"):
            print("held", flush=True)
    except LockError:
        print("refused", len(os.listdir("/proc/self/fd")) - before, flush=True)
"""
)


# Mutant: `_create_locked` not unlocking and closing its temporary file when another process linked its lock
# file first: every lost race kept a descriptor (and a lock on an unlinked file) open for the process's life.
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors in /proc")
def test_a_process_that_loses_the_race_keeps_no_descriptor_open(tmp_path: Path) -> None:
    out, pin = tmp_path / "project", tmp_path / "pin"
    out.mkdir()
    refused, holder = start_race(PINNED, out, pin)
    try:
        go_on(pin)
        said, _ = refused.communicate(timeout=60)
        assert said.split() == ["refused", "0"], said
        assert release(holder) == 0
    finally:
        kill_left(refused, holder)


# --- which upload the annotator saw (report, export) ------------------------------------------------------------

CONFIRMED = ["The quick brown fox", "jumps over the lazy dog."]  # fox.wav's draft as `make_run` writes it
REDRAFT = ["A quick brown fox", "jumped over a lazy dog"]  # as many words, at the same times
THIRD = ["Quick brown fox", "jumping over lazy dogs"]  # fewer words


def rewrite(server: SuperAnnotateServer, texts: list[str]) -> None:
    """An annotator who retyped every event of fox.wav (same times), then marked it Completed."""
    annotation = server.annotation(PROJECT, "fox.wav")
    for n, text in enumerate(texts):
        set_text(annotation, n, text)
    server.set_annotation(PROJECT, "fox.wav", annotation)
    server.set_status(PROJECT, "fox.wav", "Completed")


def compared_with(out: Path) -> list[str]:
    """Pulls the run, and returns the draft texts `report` measured fox.wav's correction against."""
    opts = sa_options()
    pull_run(out, opts.project or "", open_session(opts))
    result = compare_run(out, ANNOTATION, CorrectionOptions())
    if result.chunks.empty:  # no item compared: a table without columns
        return []
    chunks = result.chunks[result.chunks["item"] == "fox.wav"].sort_values("chunk")
    return list(chunks["text"])


def pending(out: Path) -> dict:
    (target,) = json.loads((out / LEDGER_FILE).read_text())["targets"].values()
    return target.get("pending", {})


# Mutant: `draft_for` counting `superannotate/<item>.json` among the candidates when the ledger has no confirmed
# upload of the item. That file, rewritten since and never sent, was shown to nobody; an annotator who retyped
# every event left no evidence, and the unsent file (fewer words) won over the send SuperAnnotate took.
def test_a_draft_never_sent_is_no_candidate_when_only_an_unconfirmed_upload_was(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inp, out = make_run(tmp_path)
    stopped(inp, out, monkeypatch)  # the first drafts arrived, unrecorded
    assert list(pending(out)) and json.loads((out / LEDGER_FILE).read_text())["targets"]
    redraft_texts(out, THIRD)  # a second model rewrote the local draft; it was never uploaded
    rewrite(sa_server, ["Completely new words", "typed by someone else entirely"])  # nothing shared
    assert compared_with(out) == CONFIRMED


# Mutant: `draft_for` taking the unconfirmed uploads oldest first. On a tie (an annotator who retyped every
# event), the newest unconfirmed upload is the one SuperAnnotate holds when both arrived.
def test_on_a_tie_the_newest_of_the_unconfirmed_uploads_is_taken(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inp, out = make_run(tmp_path)
    stopped(inp, out, monkeypatch)  # the first drafts arrived, unrecorded
    redraft_texts(out, REDRAFT)
    stopped(inp, out, monkeypatch)  # and so did the second: SuperAnnotate shows it
    assert len(pending(out)["fox.wav"]) == 2
    rewrite(sa_server, ["Completely new words", "typed by someone else entirely"])  # a tie
    assert compared_with(out) == REDRAFT


def shown(*events: tuple[int, int, str, str]) -> dict:
    """An annotation of events (start, end, group, text), as `nearest_draft` reads them."""
    instances = []
    for start, end, group, text in events:
        stamps = [{"timestamp": t, "attributes": [{"groupName": group, "name": text}]} for t in (start, end)]
        instances.append(
            {"meta": {"type": "event", "start": start, "end": end}, "parameters": [{"timestamps": stamps}]}
        )
    return {"instances": instances}


# Mutants: `_shown` without the events' times; `_shown` without the words' groups; `_jaccard` of two empty
# annotations 0 instead of 1. Each is evidence of which draft the annotator was shown.
def test_the_nearest_draft_weighs_times_groups_and_emptiness() -> None:
    early, late = shown((0, 10, "Text", "hello world")), shown((0, 12, "Text", "hello world"))
    assert nearest_draft(shown((0, 12, "Text", "hello there")), [early, late]) == 1  # only the times differ
    as_text, as_speaker = shown((0, 10, "Text", "Anna")), shown((0, 10, "Speaker", "Anna"))
    assert nearest_draft(shown((0, 10, "Text", "Anna")), [as_speaker, as_text]) == 1  # only the group differs
    assert nearest_draft({"instances": []}, [early, {"instances": []}]) == 1  # everything deleted: the empty one


# --- what a run and its configuration record --------------------------------------------------------------------


# Mutant: openai-whisper's spec naming no packages: a run of that engine that loads no model (every file reused)
# recorded no version of openai-whisper or torch, the packages that shape its transcripts.
def test_each_engine_names_the_packages_whose_versions_a_run_records() -> None:
    for engine, packages in (
        ("openai-whisper", ("openai-whisper", "torch")),
        ("faster-whisper", ("faster-whisper", "ctranslate2")),
    ):
        installed = {}
        for name in packages:
            try:
                installed[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
        assert get_spec(engine).versions() == installed, engine


TOKEN = "fake-token-as-user-0212xyz"


# Mutant: `azure_container_url` not asking for an Azure scheme. Only `abfs://`, `abfss://` and `az://` name a
# container before the `@`; in an https or s3 URL that part is a user name (here a token), refused unquoted.
@pytest.mark.parametrize(
    ("key", "url"),
    [
        ("superannotate.url_prefix", f"https://{TOKEN}@teamaudio.blob.core.windows.net/calls/"),
        ("input.dir", f"s3://{TOKEN}@teamaudio.dfs.core.windows.net/calls"),
    ],
)
def test_only_an_azure_scheme_names_a_container_before_the_at(key: str, url: str) -> None:
    with pytest.raises(ConfigError, match="the URL holds a user name") as err:
        load_config(None, [f"{key}={url}"])
    assert TOKEN not in str(err.value)


# Mutants: `_known` without its check that a recorded section is a mapping (a run.json whose `input` is null,
# written by hand or an older version, stopped `upload` with a TypeError), and `recorded_options` keeping the
# empty sections (a run.json recording none of upload's options then counted as recording some).
def test_recorded_options_read_only_the_sections_a_run_json_holds(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text(
        json.dumps({"files": [], "config": {"input": None, "annotation": [1], "superannotate": {
            "project": "Podcasts", "dry_run": True, "renamed_long_ago": 3}, "model": {"name": "tiny"}}}),
        encoding="utf-8",
    )  # fmt: skip
    assert recorded_options(tmp_path) == {"superannotate": {"project": "Podcasts"}}
    (tmp_path / "run.json").write_text(json.dumps({"files": [], "config": {"model": {"name": "tiny"}}}))
    assert recorded_options(tmp_path) == {}


# --- rounds of batches ------------------------------------------------------------------------------------------


# Mutant: a round sized by the whole ledger, not an eighth of it: once the ledger held a batch's worth, the
# rest of an upload went in one round, and a stop inside it sent all of that again.
def test_a_round_holds_an_eighth_of_the_ledger_in_whole_batches(tmp_path: Path) -> None:
    ledger = Ledger.load(tmp_path)
    for n in range(160):
        ledger.begin("target", {}, f"clip_{n:03d}.wav", {"n": n})
    items = [PlannedItem(f"clip_{n:03d}.wav", f"clip_{n:03d}.wav", tmp_path / f"{n}.json") for n in range(160)]
    assert ledger.size() == 160
    sizes = [[len(batch) for batch in batches] for batches in rounds(items, 3, ledger)]
    assert sizes == [[3] * 7] * 7 + [[3, 3, 3, 3, 1]]  # 160 / 8 = 20 items: 21, whole batches
    assert [p for batches in rounds(items, 3, ledger) for batch in batches for p in batch] == items
    assert all(len(batches) == 1 for batches in rounds(items, 3, ledger, grow=False))


# Mutant: the ledger not saved as a round's last batch is recorded, only after its status is set. A stop while
# SuperAnnotate sets the status (after it took the annotations) then left the round's items unconfirmed.
def test_a_stop_while_the_status_is_set_keeps_the_rounds_uploads_confirmed(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload_runs.make_run(tmp_path)
    opts = upload_runs.options()
    assert not opts.keep_status

    def stop(self, project, status, names):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(UploadSession, "set_status", stop)
        with pytest.raises(KeyboardInterrupt):
            upload_runs.run_upload(tmp_path, opts)
    (target,) = json.loads((tmp_path / "output" / LEDGER_FILE).read_text())["targets"].values()
    assert sorted(target["items"]) == sorted(upload_runs.items_of()) and not target.get("pending")


# Mutant: rounds kept to one batch whenever the configured status is one people give too, `keep_status` or not.
# With `keep_status` no status is given, nothing needs the ledger saved around every batch, and a large upload
# went back to rewriting uploads.json whole three times a batch.
def test_rounds_grow_when_the_status_people_give_too_is_not_given(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = [f"clip_{n:04d}.wav" for n in range(240)]
    upload_runs.make_run(tmp_path, sources)
    saves: list[int] = []
    real_save = Ledger.save

    def counting_save(self: Ledger) -> None:  # the real save, counted
        saves.append(self.size())
        real_save(self)

    monkeypatch.setattr(Ledger, "save", counting_save)
    report = upload_runs.run_upload(
        tmp_path, upload_runs.options(batch_size=4, status="QualityCheck", keep_status=True)
    )
    assert len(report.succeeded) == len(sources) and not report.failed
    assert len(saves) < 90  # one batch a round: 2 saves for each of 60 batches


# Mutant: `load_config` building on a shallow copy of `base`: the file, `--set` and the flags were written into
# the caller's recorded sections, so a second configuration from the same base inherited the first's changes.
def test_load_config_leaves_its_base_as_it_was(tmp_path: Path) -> None:
    base = {"superannotate": {"project": "Podcasts", "status": "NotStarted"}}
    config = tmp_path / "config.yaml"
    config.write_text("superannotate:\n  status: InProgress\n", encoding="utf-8")
    first = load_config(config, ["superannotate.priority=easy_first"], base=base)
    assert (first.superannotate.project, first.superannotate.status) == ("Podcasts", "InProgress")
    assert base == {"superannotate": {"project": "Podcasts", "status": "NotStarted"}}
    again = load_config(None, [], base=base).superannotate
    assert (again.status, again.priority) == ("NotStarted", SuperAnnotateOptions().priority)


def lost(inp: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An upload whose every request fails as a whole: SuperAnnotate took nothing, the sends stay unconfirmed."""

    def fail(self, project, annotations):
        raise UploadError("503 Service Unavailable")

    with monkeypatch.context() as patch:
        patch.setattr(UploadSession, "upload", fail)
        send(inp, out)


# Mutants: `draft_for` putting the unconfirmed uploads before the confirmed one, and, without the correction to
# go by, taking the last candidate. On a tie, and without a correction, the confirmed upload is the draft.
def test_on_a_tie_and_without_a_correction_the_confirmed_upload_is_taken(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inp, out = make_run(tmp_path)
    send(inp, out)  # confirmed
    redraft_texts(out, REDRAFT)
    lost(inp, out, monkeypatch)  # sent, never arrived
    assert len(pending(out)["fox.wav"]) == 1
    rewrite(sa_server, ["Completely new words", "typed by someone else entirely"])  # a tie
    assert compared_with(out) == CONFIRMED
    (target,) = json.loads((out / LEDGER_FILE).read_text())["targets"]
    draft = draft_for(out, load_ledger(out), target, "fox.wav").annotation
    texts = [
        a["name"]
        for i in draft["instances"]
        for a in i["parameters"][0]["timestamps"][0]["attributes"]
        if a["groupName"] == ANNOTATION.text_group
    ]
    assert texts == CONFIRMED


# Mutant: `draft_for` letting an unconfirmed upload stand in when the confirmed upload's copy is lost. What
# SuperAnnotate showed may be that lost upload: the item is not measured, and says why.
def test_a_lost_confirmed_copy_is_not_replaced_by_an_unconfirmed_one(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inp, out = make_run(tmp_path)
    send(inp, out)  # confirmed
    redraft_texts(out, REDRAFT)  # superannotate/fox.wav.json no longer matches the confirmed upload
    lost(inp, out, monkeypatch)
    (target,) = json.loads((out / LEDGER_FILE).read_text())["targets"].values()
    (out / target["items"]["fox.wav"]["copy"]).unlink()  # the confirmed upload's copy is gone
    rewrite(sa_server, ["Completely new words", "typed by someone else entirely"])
    assert compared_with(out) == []
    result = compare_run(out, ANNOTATION, CorrectionOptions())
    row = result.items.set_index("item").loc["fox.wav"].to_dict()
    assert any("no draft: the ledger's copy" in str(value) for value in row.values()), row


# Mutant: `_acquire` reading back the lock file it just created as a previous holder's: every command then
# warned that it was taking over the lock of a command that ended without releasing it (its own).
def test_a_new_lock_file_is_not_taken_over(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "project"
    with caplog.at_level("WARNING", logger="preannotate.lock"), output_lock(out, "run"):
        held = json.loads((out / LOCK_FILE).read_text())
        assert held["pid"] == os.getpid() and held["command"] == "run"
    assert "taking over" not in caplog.text
    assert not out.exists()  # made by the command, left as found


# Mutant: `_open_locked` saying it created a lock file that was already there (an empty one a released command
# kept): the command then removed, as its own, a file it found.
def test_a_lock_file_found_in_the_folder_is_kept_when_released(tmp_path: Path) -> None:
    out = tmp_path / "project"
    out.mkdir()
    (out / LOCK_FILE).write_bytes(b"")  # released in order by an earlier command that did not make it
    with output_lock(out, "export"):
        assert json.loads((out / LOCK_FILE).read_text())["command"] == "export"
    assert [p.name for p in out.iterdir()] == [LOCK_FILE] and (out / LOCK_FILE).read_bytes() == b""
