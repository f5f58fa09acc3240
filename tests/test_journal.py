"""The run journal: appended per file, replayed into run.json exactly, torn lines ignored, killed runs rebuilt."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path

import pytest

from preannotate.journal import (
    JOURNAL_FILE,
    Journal,
    parse,
    read_records,
    read_run,
    rebuild_run_json,
    replay,
    reused_result,
    stored_state,
)
from preannotate.naming import MediaFile
from preannotate.report import FileResult, RunReport


def _planned(out: Path, n: int) -> RunReport:
    report = RunReport(out, {"input": {"dir": "in"}, "model": {"name": "tiny"}}, versions={"python": "3.11"})
    report.model = {"name": "tiny", "identity": "bundled|tiny"}
    skipped = FileResult("a0.wav", "a0.wav", "skipped", duration=1.5, language="en", segments=2, warnings=["w"])
    waiting = [FileResult(f"f{i}.wav", f"f{i}.wav", "failed", "not processed (run interrupted)") for i in range(n)]
    report.files = [skipped, *waiting]
    return report


def _finished(i: int) -> FileResult:
    if i % 3 == 2:
        return FileResult(f"f{i}.wav", f"f{i}.wav", "failed", f"f{i}.wav: cannot decode", seconds=0.1)
    return FileResult(
        f"f{i}.wav", f"f{i}.wav", "ok", duration=i + 0.125, language="fr", language_probability=0.987654321,
        segments=i, seconds=0.25, warnings=["truncated: ü"],
    )  # fmt: skip


def _run_json_text(out: Path) -> str:
    return (out / "run.json").read_text(encoding="utf-8")


def test_replay_after_each_file_gives_run_json_byte_for_byte(tmp_path: Path) -> None:
    """At every point of a run, the journal replays into the run.json a full rewrite would have written."""
    live, rebuilt = tmp_path / "live", tmp_path / "rebuilt"
    report = _planned(live, 5)
    live.mkdir()
    report.journal = journal = Journal.start(report)
    report.note(model={**report.model, "engine": "openai-whisper"}, versions={**report.versions, "torch": "2"})
    for i in range(5):
        report.record(_finished(i), None)
        journal_text = (live / JOURNAL_FILE).read_text(encoding="utf-8")
        replayed = replay(parse(journal_text), rebuilt)
        assert replayed is not None and not replayed.finished
        rebuilt.mkdir(exist_ok=True)
        replayed.report.write()
        report.journal = None  # the reference: the old full rewrite, no journal record
        report.write()
        report.journal = journal
        assert _run_json_text(rebuilt) == _run_json_text(live)
    journal.close()


def test_a_killed_runs_journal_rebuilds_run_json_and_a_torn_line_is_ignored(tmp_path: Path, caplog) -> None:
    report = _planned(tmp_path, 4)
    report.journal = Journal.start(report)
    report.write()  # run.json as a stage left it: the files planned
    for i in range(2):
        report.record(_finished(i))
    report.journal.close()
    with open(tmp_path / JOURNAL_FILE, "a", encoding="utf-8") as f:
        f.write('{"t": "file", "file": {"item": "f2.w')  # the kill came in the middle of a line
    expected = json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n"
    with caplog.at_level(logging.WARNING):
        assert read_run(tmp_path) == json.loads(expected)
    assert "last line is torn" in caplog.text and "rebuilt" in caplog.text
    assert _run_json_text(tmp_path) == expected
    assert read_records(tmp_path / JOURNAL_FILE)[-1] == {"t": "written"}
    assert rebuild_run_json(tmp_path) is None  # rebuilt once: later readers leave run.json alone


def test_lines_reach_the_file_at_once_and_are_committed_in_groups(tmp_path: Path) -> None:
    """Each line is in the file when `append` returns (a kill loses none); a power cut's window is one interval."""
    report = _planned(tmp_path, 3)
    report.journal = journal = Journal.start(report)
    journal.interval = 0.2
    report.record(_finished(0))
    assert [r["t"] for r in read_records(tmp_path / JOURNAL_FILE)] == ["start", "file"] and not journal.durable
    deadline = time.monotonic() + 10
    while not journal.durable:  # committed by the timer, with no further line
        assert time.monotonic() < deadline, "the line was never committed"
        time.sleep(0.01)
    time.sleep(journal.interval)
    report.record(_finished(1))  # the first line after a quiet interval is committed at once
    assert journal.durable
    report.record(_finished(2))
    assert not journal.durable
    report.write()  # `written` vouches for run.json: committed at once, after what came before it
    assert journal.durable and read_records(tmp_path / JOURNAL_FILE)[-1] == {"t": "written"}
    journal.close()
    replayed = replay(read_records(tmp_path / JOURNAL_FILE), tmp_path)
    assert replayed is not None and replayed.report.files == report.files


def test_a_finished_journal_leaves_run_json_alone(tmp_path: Path) -> None:
    """After the run wrote run.json, other commands (upload) may change it: the journal must not undo that."""
    report = _planned(tmp_path, 2)
    report.journal = Journal.start(report)
    report.record(_finished(0))
    report.write()
    report.journal.close()
    data = json.loads(_run_json_text(tmp_path))
    data["upload"] = {"summary": {"failed": 0}}
    (tmp_path / "run.json").write_text(json.dumps(data), encoding="utf-8")
    assert rebuild_run_json(tmp_path) is None
    assert read_run(tmp_path)["upload"] == {"summary": {"failed": 0}}


@pytest.mark.parametrize("damage", ["truncated", "removed", "no files"])
def test_a_finished_runs_damaged_run_json_is_rebuilt_and_kept_aside(tmp_path: Path, damage: str, caplog) -> None:
    """A run.json damaged after its run finished (a full disk, a truncated copy): upload, report and export read it."""
    report = _planned(tmp_path, 2)
    report.journal = Journal.start(report)
    report.record(_finished(0))
    report.write()
    report.journal.close()
    whole = _run_json_text(tmp_path)
    path = tmp_path / "run.json"
    if damage == "removed":
        path.unlink()
    else:
        path.write_text(whole[: len(whole) // 2] if damage == "truncated" else '{"config": {}}', encoding="utf-8")
    damaged = None if damage == "removed" else path.read_bytes()
    caplog.set_level(logging.WARNING)
    assert read_run(tmp_path)["files"] == json.loads(whole)["files"]
    assert _run_json_text(tmp_path) == whole and "rebuilt from journal.jsonl" in caplog.text
    kept = list(tmp_path.glob("run.json.invalid-*"))
    assert [k.read_bytes() for k in kept] == ([damaged] if damaged else [])
    assert read_run(tmp_path)["files"] == json.loads(whole)["files"] and len(list(tmp_path.glob("run.json.*"))) == len(
        kept
    )  # once: a whole run.json is read as it is


def test_a_damaged_run_json_without_a_runs_journal_is_left_where_it_is(tmp_path: Path) -> None:
    """Only a journal a run started shows the folder is a run's: someone's own run.json is neither moved nor read."""
    (tmp_path / "run.json").write_text("{their own notes", encoding="utf-8")
    (tmp_path / JOURNAL_FILE).write_text('{"t": "file", "file": {}}\n', encoding="utf-8")  # no start: not a run's
    assert read_run(tmp_path) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [JOURNAL_FILE, "run.json"]
    assert (tmp_path / "run.json").read_text(encoding="utf-8") == "{their own notes"


@pytest.mark.parametrize(
    "text",
    ["", "not json\n", '{"t": "file", "file": {}}\n', '{"t": "start"}\n', "[1, 2]\n"],
    ids=["empty", "garbage", "no start", "start without fields", "not a record"],
)
def test_a_damaged_journal_is_not_used_and_raises_nothing(tmp_path: Path, text: str) -> None:
    (tmp_path / JOURNAL_FILE).write_text(text, encoding="utf-8")
    assert replay(read_records(tmp_path / JOURNAL_FILE), tmp_path) is None
    assert rebuild_run_json(tmp_path) is None and read_run(tmp_path) is None


def test_a_damaged_middle_line_is_named_and_skipped(caplog) -> None:
    text = '{"t": "start"}\n{broken\n{"t": "written"}\n'
    with caplog.at_level(logging.WARNING):
        assert [r["t"] for r in parse(text, "out/journal.jsonl")] == ["start", "written"]
        assert [r["t"] for r in parse(text, "out/journal.jsonl")] == ["start", "written"]  # read again: said once
    assert caplog.text.count("out/journal.jsonl: line 2 is damaged") == 1


def test_stored_states_are_carried_from_the_start_and_file_records(tmp_path: Path) -> None:
    report = _planned(tmp_path, 2)
    report.journal = Journal.start(report, {"a0.wav": {"key": "k0"}})
    report.record(_finished(0), {"key": "k1"})
    report.record(_finished(1))
    report.journal.close()
    replayed = replay(read_records(tmp_path / JOURNAL_FILE), tmp_path)
    assert replayed is not None and replayed.stored == {"a0.wav": {"key": "k0"}, "f0.wav": {"key": "k1"}}


def test_a_finished_file_is_reused_from_the_journal_only_while_nothing_changed(tmp_path: Path) -> None:
    media_path, transcript = tmp_path / "a.wav", tmp_path / "a.wav.json"
    media_path.write_bytes(b"RIFF")
    transcript.write_text("{}", encoding="utf-8")
    media = MediaFile(media_path, "a.wav", "a.wav")
    st = media_path.stat()
    source = {"path": "a.wav", "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": "0" * 64}
    stored = stored_state("k", source, transcript, ["truncated"])
    prior = FileResult("a.wav", "a.wav", "ok", duration=1.5, language="en", segments=2, chunks=3, seconds=9.0)
    reused = reused_result(media, prior, stored, "k", transcript)
    expected = FileResult("a.wav", "a.wav", "skipped", duration=1.5, language="en", segments=2, warnings=["truncated"])
    assert reused == expected
    assert reused_result(media, prior, stored, "other key", transcript) is None
    assert reused_result(media, dataclasses.replace(prior, status="failed"), stored, "k", transcript) is None
    assert reused_result(media, prior, {**stored, "transcript": "bad"}, "k", transcript) is None  # an edited journal
    transcript.write_text('{"edited": 1}', encoding="utf-8")  # an edited transcript is read again
    assert reused_result(media, prior, stored, "k", transcript) is None
    transcript.unlink()
    assert reused_result(media, prior, stored, "k", transcript) is None
