"""`preannotate report` replaces only its own files in `correction/`: any other is moved aside, never lost.

Runs are made without a model or a server (`support.pulled_runs`): the drafts pulled back as the corrections.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support.correction_runs import run_cli
from support.pulled_runs import small_run

from preannotate.correction.report_kept import INDEX_FILE, OLD_REPORT_WINDOW_S

REPORT_FILES = ("items.csv", "groups.csv", "chunks.csv", "calibration.csv", "summary.json", "report.html")


def report(out: Path):
    done = run_cli("report", "-o", str(out))
    assert done.returncode == 0, done.stderr
    return done


def kept(out: Path) -> dict[str, bytes]:
    """Every file under `correction-kept/<stamp>/`, by name, with its bytes."""
    return {p.name: p.read_bytes() for p in sorted((out / "correction-kept").glob("*/*"))}


@pytest.fixture
def reported(tmp_path: Path) -> Path:
    """A pulled run with its first report written."""
    out = small_run(tmp_path)
    report(out)
    return out


def test_an_edited_table_is_kept_aside_and_named(reported: Path) -> None:
    items = reported / "correction" / "items.csv"
    edited = items.read_bytes() + b"a.wav,my note on this item\n"
    items.write_bytes(edited)
    done = report(reported)
    assert kept(reported) == {"items.csv": edited}
    [where] = (reported / "correction-kept").glob("*/items.csv")
    assert f"kept as {where}" in done.stderr and "not as the last report wrote them" in done.stderr
    assert b"my note" not in items.read_bytes()  # the new report's own table in its place
    assert set(json.loads((reported / "correction" / INDEX_FILE).read_text())["files"]) == set(REPORT_FILES)


def test_an_unchanged_report_is_replaced_and_nothing_kept(reported: Path) -> None:
    report(reported)
    report(reported)
    assert not (reported / "correction-kept").exists()


def test_a_file_of_someones_own_before_any_report_is_kept(tmp_path: Path) -> None:
    out = small_run(tmp_path)
    mine = out / "correction" / "summary.json"
    mine.parent.mkdir()
    mine.write_text('{"my": "summary of the week"}\n')
    (out / "correction" / "notes.txt").write_text("not a name the report writes\n")
    done = report(out)
    assert kept(out) == {"summary.json": b'{"my": "summary of the week"}\n'} and "summary.json" in done.stderr
    assert (out / "correction" / "notes.txt").read_text() == "not a name the report writes\n"  # never touched


def test_kept_files_never_replace_each_other(reported: Path) -> None:
    items = reported / "correction" / "items.csv"
    for note in (b"first", b"second"):  # two reports, perhaps within the same second
        items.write_bytes(items.read_bytes() + b"a.wav," + note + b"\n")
        report(reported)
    found = [p.read_bytes() for p in sorted((reported / "correction-kept").glob("*/items*.csv"))]
    assert sorted(f.splitlines()[-1] for f in found) == [b"a.wav,first", b"a.wav,second"]


def test_a_file_the_report_would_write_as_it_is_is_not_kept(reported: Path) -> None:
    summary = reported / "correction" / "summary.json"
    content = summary.read_bytes()
    summary.write_bytes(b"changed by hand\n")
    (reported / "correction" / INDEX_FILE).unlink()
    summary.write_bytes(content)  # put back byte for byte: replacing it loses nothing
    report(reported)
    assert not (reported / "correction-kept").exists()


def test_a_forged_or_damaged_index_is_kept_not_trusted(reported: Path) -> None:
    index = reported / "correction" / INDEX_FILE
    index.write_text("my own file of that name\n")
    items = reported / "correction" / "items.csv"
    stamp = os.stat(items).st_mtime
    items.write_bytes(b"item,mine\n")
    os.utime(items, (stamp + 2 * OLD_REPORT_WINDOW_S,) * 2)  # edited long after the report
    report(reported)
    assert kept(reported) == {INDEX_FILE: b"my own file of that name\n", "items.csv": b"item,mine\n"}


def _as_an_older_version_left_it(out: Path) -> None:
    """The report's files without the index, as every report before the index left them."""
    (out / "correction" / INDEX_FILE).unlink()


def test_an_older_reports_files_are_replaced_on_the_first_report_after_upgrading(reported: Path) -> None:
    _as_an_older_version_left_it(reported)
    report(reported)
    assert not (reported / "correction-kept").exists()
    assert (reported / "correction" / INDEX_FILE).is_file()


def test_an_older_reports_file_edited_since_is_kept(reported: Path) -> None:
    _as_an_older_version_left_it(reported)
    items = reported / "correction" / "items.csv"
    written = os.stat(reported / "correction" / "report.html").st_mtime
    items.write_bytes(items.read_bytes() + b"a.wav,checked by Ana\n")  # still opens as the report wrote it
    os.utime(items, (written + 2 * OLD_REPORT_WINDOW_S,) * 2)  # but edited after the report
    report(reported)
    assert list(kept(reported)) == ["items.csv"] and kept(reported)["items.csv"].endswith(b"checked by Ana\n")


def test_a_link_in_place_of_a_report_file_is_kept_not_followed(reported: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.csv"
    target.write_text("someone's table\n")
    groups = reported / "correction" / "groups.csv"
    groups.unlink()
    groups.symlink_to(target)
    report(reported)
    moved = next((reported / "correction-kept").glob("*/groups.csv"))
    assert moved.is_symlink() and target.read_text() == "someone's table\n"
    assert not groups.is_symlink()
