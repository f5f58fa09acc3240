"""State files nested too deep for Python's JSON parser are damaged files, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from preannotate.journal.records import parse
from preannotate.storage import read_json
from preannotate.superannotate import LEDGER_FILE, Ledger

DEEP = "[" * 100_000 + "]" * 100_000  # valid JSON; json.loads raises RecursionError on it


def test_a_file_nested_too_deep_reads_as_not_json(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text(DEEP)
    assert read_json(tmp_path / "deep.json") is None


def test_an_upload_ledger_nested_too_deep_is_named_and_started_anew(tmp_path: Path) -> None:
    (tmp_path / LEDGER_FILE).write_text(DEEP)
    ledger = Ledger.load(tmp_path)
    assert ledger.data["targets"] == {} and "not valid JSON" in ledger.problems[0]
    ledger.save()
    assert [p.read_text() for p in tmp_path.glob(f"{LEDGER_FILE}.invalid-*")] == [DEEP]  # the original is kept


def test_a_journal_line_nested_too_deep_is_a_damaged_line(caplog) -> None:
    good = '{"t": "file", "item": "a"}'
    assert parse(f"{good}\n{DEEP}\n{good}\n", "journal.jsonl") == [json.loads(good)] * 2
    assert "journal.jsonl: line 2 is damaged" in caplog.text
