"""Item names of file names that are not UTF-8, and state files that carry such a source path."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from support.media import SAMPLES

from preannotate.discover import discover
from preannotate.journal import JOURNAL_FILE, Journal, parse, replay
from preannotate.naming import item_name
from preannotate.report import FileResult, RunReport
from preannotate.storage import read_json

LATIN1 = os.fsdecode(b"caf\xe9.wav")  # `café.wav` written by a Latin-1 system: Python holds the byte as '\udce9'


def test_a_name_that_is_not_utf8_gets_a_safe_hashed_item_name() -> None:
    name = item_name(LATIN1)
    assert name.startswith("caf") and name.endswith(".wav") and name != item_name("caf_.wav")
    name.encode("utf-8")  # a valid name for files, JSON and SuperAnnotate
    assert item_name("café.wav") == "café.wav" and item_name("a b/c.wav") == "a b__c.wav"  # valid names as before


def test_discovery_names_every_file_of_a_folder_with_one_not_utf8(tmp_path: Path) -> None:
    shutil.copy(SAMPLES / "en" / "hello_world.wav", tmp_path / "a.wav")
    shutil.copy(SAMPLES / "en" / "hello_world.wav", os.fsencode(tmp_path) + b"/caf\xe9.wav")
    found = discover(tmp_path, (".wav",))
    assert [f.source for f in found] == ["a.wav", LATIN1] and found[1].item == item_name(LATIN1)
    assert Path(found[1].path).is_file()


def test_the_journal_and_run_json_keep_a_source_path_that_is_not_utf8(tmp_path: Path) -> None:
    report = RunReport(tmp_path, {"input": {"dir": "in"}}, versions={"python": "3.11"})
    report.files = [FileResult(item_name(LATIN1), LATIN1, "failed", "not processed (run interrupted)")]
    report.journal = journal = Journal.start(report)
    report.record(FileResult(item_name(LATIN1), LATIN1, "ok", duration=1.0, language="en", segments=1), None)
    report.write()
    journal.close()
    for name in (JOURNAL_FILE, "run.json"):
        (tmp_path / name).read_bytes().decode("utf-8")  # valid UTF-8: the byte is the JSON escape \udce9
    assert read_json(tmp_path / "run.json")["files"][0]["source"] == LATIN1  # reads back the same path
    replayed = replay(parse((tmp_path / JOURNAL_FILE).read_text(encoding="utf-8")), tmp_path)
    assert replayed is not None and replayed.report.files[0].source == LATIN1
    assert replayed.report.files[0].status == "ok"
