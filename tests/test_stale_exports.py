"""A file that fails now loses the exports an earlier run made of it: subtitles/ and superannotate/ agree with
chunks.csv, and nothing else of it, or of any other item, is touched."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.media import SAMPLES

from preannotate.exports import ItemChunks, item_export_paths
from preannotate.options import AnnotationOptions
from preannotate.report import FileResult, RunReport
from preannotate.run.chunks import export_files

CLI = [sys.executable, "-m", "preannotate"]
OFFLINE = ["--set", "model.name=bundled:tiny.en", "--set", "transcribe.beam_size=null", "--set",
           "transcribe.best_of=null", "--set", "superannotate.dry_run=true", "--no-progress"]  # fmt: skip


def run(inp: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "run", "-i", str(inp), "-o", str(out), *OFFLINE], capture_output=True, text=True)


def exports(out: Path, item: str) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in item_export_paths(out, item) if p.is_file()}


@pytest.mark.model
def test_a_file_that_breaks_loses_its_exports_and_gets_them_back_when_mended(
    tmp_path: Path, model_cache: Path, loads_model: None
) -> None:
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    shutil.copy(SAMPLES / "en" / "hello_world.wav", inp / "hello.wav")
    shutil.copy(SAMPLES / "en" / "quick_brown_fox.wav", inp / "fox.wav")
    first = run(inp, out)
    assert first.returncode == 0, first.stderr[-3000:]
    hello, fox = exports(out, "hello.wav"), exports(out, "fox.wav")
    assert len(hello) == len(fox) == 3
    fox_times = {p: p.stat().st_mtime_ns for p in item_export_paths(out, "fox.wav")}
    (inp / "hello.wav").write_text("not audio any more\n" * 50, encoding="utf-8")
    second = run(inp, out)
    assert second.returncode == 1 and "Traceback" not in second.stderr, second.stderr[-3000:]
    assert exports(out, "hello.wav") == {}
    assert "hello.wav" not in (out / "chunks.csv").read_text(encoding="utf-8")
    record = {f["source"]: f for f in json.loads((out / "run.json").read_text())["files"]}["hello.wav"]
    assert record["status"] == "failed" and "not a media file" in record["error"]
    assert record["warnings"] == [
        "removed its earlier exports (it fails now): subtitles/hello.wav.srt, subtitles/hello.wav.vtt, "
        "superannotate/hello.wav.json"
    ]
    assert "hello.wav: removed its earlier exports" in second.stderr
    assert exports(out, "fox.wav") == fox  # the other item's files, not even rewritten
    assert {p: p.stat().st_mtime_ns for p in item_export_paths(out, "fox.wav")} == fox_times
    assert (out / "transcripts" / "hello.wav.json").is_file()  # the transcript stays: a mended file reuses it
    shutil.copy(SAMPLES / "en" / "hello_world.wav", inp / "hello.wav")
    third = run(inp, out)
    assert third.returncode == 0, third.stderr[-3000:]
    assert exports(out, "hello.wav") == hello


def test_a_failed_files_name_that_a_written_item_also_has_keeps_that_items_files(tmp_path: Path) -> None:
    """Two sources of one item name (compared as macOS compares names): the files are the written one's."""
    out = tmp_path / "out"
    paths = [*item_export_paths(out, "Take.wav"), *item_export_paths(out, "take.wav")]  # one file on macOS
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("the written item's\n", encoding="utf-8")
    lost = FileResult("take.wav", "b/take.wav", "failed", error="b/take.wav: cannot export: appears twice")
    gone = FileResult("gone.wav", "gone.wav", "failed", error="gone.wav: empty file (0 bytes)")
    for path in item_export_paths(out, "gone.wav"):
        path.write_text("made before it broke\n", encoding="utf-8")
    odd = FileResult("../x", "x", "failed", error="x: empty file (0 bytes)")  # not one file's name
    (tmp_path / "x.json").write_text("outside\n", encoding="utf-8")
    report = RunReport(out, {}, files=[FileResult("Take.wav", "a/Take.wav", "ok"), lost, gone, odd])
    written = export_files(report, [ItemChunks("Take.wav", "a/Take.wav", "en", 1.0, [])], [report.files[0]],
                           AnnotationOptions())  # fmt: skip
    assert [e.item for e in written] == ["Take.wav"]
    assert all(p.is_file() for p in paths) and lost.warnings == []
    assert not any(p.exists() for p in item_export_paths(out, "gone.wav")) and len(gone.warnings) == 1
    assert (tmp_path / "x.json").is_file() and odd.warnings == []
