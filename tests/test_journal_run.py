"""The journal in real runs: a killed run's run.json rebuilt, resumed from the journal, nothing rewritten needlessly."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from support.media import SAMPLES

from preannotate.config import load_config
from preannotate.journal import JOURNAL_FILE, read_records, read_run
from preannotate.run import run_pipeline

GREEDY = ["transcribe.beam_size=null", "transcribe.best_of=null"]
OPTIONS = ["model.name=bundled:tiny.en", "model.device=cpu", *GREEDY, "superannotate.dry_run=true"]


def _dataset(folder: Path, copies: int) -> None:
    folder.mkdir()
    for n in range(copies):
        for clip in sorted((SAMPLES / "en").glob("*.wav")):
            shutil.copy(clip, folder / f"{n}_{clip.name}")


def _kill_after_first_file(inp: Path, out: Path) -> None:
    """Starts `preannotate run` and kills it (SIGKILL: no handler runs) once one file is journaled."""
    sets = [arg for option in OPTIONS for arg in ("--set", option)]
    command = [sys.executable, "-m", "preannotate", "run", "-i", str(inp), "-o", str(out), "--no-progress", *sets]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while not any(r["t"] == "file" for r in read_records(out / JOURNAL_FILE)):
            assert process.poll() is None and time.monotonic() < deadline, "the run ended before it was killed"
            time.sleep(0.02)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


def test_a_killed_run_is_rebuilt_from_its_journal_and_resumed_from_it(tmp_path: Path, tiny_model, caplog) -> None:
    inp, out = tmp_path / "in", tmp_path / "out"
    _dataset(inp, 3)  # 9 files of 1-3 s: the kill comes long before the last
    _kill_after_first_file(inp, out)
    assert not (out / "run.json").exists()  # no full rewrite per file any more: the journal is the record
    journaled = [r for r in read_records(out / JOURNAL_FILE) if r["t"] == "file" and "stored" in r]
    for record in journaled:  # transcripts are not fsync'd one by one: each one is whole, as journaled
        transcript = out / "transcripts" / f"{record['file']['item']}.json"
        st = transcript.stat()
        assert record["stored"]["transcript"] == [st.st_size, st.st_mtime_ns]
        assert json.loads(transcript.read_text(encoding="utf-8"))["meta"]["item"] == record["file"]["item"]

    data = read_run(out)  # what any command reading run.json does: rebuild it from the journal first
    assert (out / "run.json").is_file() and data["summary"]["files"] == 9 and not data["summary"]["interrupted"]
    finished = [f for f in data["files"] if f["status"] == "ok"]
    assert finished and all(f["error"] == "not processed (run interrupted)" for f in data["files"] if f not in finished)
    for f in finished:  # each journaled result is the one its transcript gives
        stored = json.loads((out / "transcripts" / f"{f['item']}.json").read_text(encoding="utf-8"))
        assert (f["duration"], f["language"], f["segments"]) == (round(stored["duration"], 3), "en", 1)

    config = load_config(None, [f"input.dir={inp}", f"output.dir={out}", *OPTIONS])
    with caplog.at_level(logging.INFO, logger="preannotate.run.pipeline"):
        resumed = run_pipeline(config, progress=False)
    statuses = {f.source: f.status for f in resumed.files}
    assert [statuses[f["source"]] for f in finished] == ["skipped"] * len(finished)
    assert sorted(statuses.values()).count("ok") == 9 - len(finished)
    assert f"{len(finished)} finished file(s) taken from {JOURNAL_FILE}" in caplog.text

    caplog.clear()
    for path in (out / "transcripts").iterdir():  # unreadable now, but of the same size and mtime: not to be read
        st = path.stat()
        path.write_bytes(b" " * st.st_size)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    state_files = {"run.json", JOURNAL_FILE, ".preannotate.lock"}  # rewritten by every run
    exports = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name not in state_files}
    with caplog.at_level(logging.INFO, logger="preannotate.run"):
        again = run_pipeline(config, progress=False)
    assert [f.status for f in again.files] == ["skipped"] * 9 and "damaged" not in caplog.text
    assert f"9 finished file(s) taken from {JOURNAL_FILE}" in caplog.text
    assert "chunks and exports kept as they are" in caplog.text
    assert {p: p.stat().st_mtime_ns for p in exports} == exports  # no transcript or export rewritten
    # the results taken from the journal are those reading the transcripts gave
    assert again.files == [dataclasses.replace(f, status="skipped", seconds=0.0) for f in resumed.files]
