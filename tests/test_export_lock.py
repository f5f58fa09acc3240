"""Two exports into one destination: the second stops at once, naming the first (real processes, real locks)."""

from __future__ import annotations

import errno
import fcntl
import logging
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.lock_processes import kill_left, release, start_python
from support.media import read_sample
from support.pulled_runs import ANNOTATION, make_pulled_run

from preannotate.correction.dataset import export_dataset
from preannotate.options import DatasetExportOptions

CLI = [sys.executable, "-m", "preannotate"]

# Holds the export lock of {dest} until a line arrives on its stdin, as an export does while it works.
HOLDER = """
    import sys
    from pathlib import Path
    from preannotate.lock_beside import lock_beside
    with lock_beside(Path({dest!r}), "export", "is being exported into by"):
        print("held", flush=True)
        sys.stdin.readline()
"""


def pulled_run(root: Path, text: str) -> Path:
    root.mkdir()
    fox = read_sample("en/quick_brown_fox")
    return make_pulled_run(root, {"fox.wav": (fox, [(0.0, 1.2, text), (1.2, 2.8, "jumps.")])})


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def export(run: Path, dest: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "export", "-o", str(run), "--dest", str(dest)], capture_output=True, text=True)


def hold(dest: Path) -> subprocess.Popen:
    holder = start_python(HOLDER.format(dest=str(dest)))
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    except BaseException:
        kill_left(holder)
        raise
    return holder


def test_a_second_export_into_the_same_folder_stops_at_once_and_a_sibling_folder_is_free(tmp_path: Path) -> None:
    first, second = pulled_run(tmp_path / "a", "The quick brown fox"), pulled_run(tmp_path / "b", "A quick fox")
    datasets = tmp_path / "datasets"
    dest = datasets / "en"
    assert export(first, dest).returncode == 0
    before = snapshot(dest)
    holder = hold(dest)  # the first run exporting into it again, still at work
    try:
        refused = export(second, dest)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
        assert f"{dest} is being exported into by `preannotate export` (pid {holder.pid} on host" in refused.stderr
        assert snapshot(dest) == before  # nothing of the second export there, nothing of the first replaced
        assert sorted(p.name for p in datasets.iterdir()) == [".en.export-lock", "en"]  # no staging left
        assert export(second, datasets / "fr").returncode == 0  # another folder beside it: not held up
    finally:
        assert release(holder) == 0
    done = export(second, dest)
    assert done.returncode == 0, done.stderr
    assert "A quick fox" in (dest / "metadata.jsonl").read_text()
    assert sorted(p.name for p in datasets.iterdir()) == ["en", "fr"]  # the lock's folder went with the lock


def test_the_lock_of_a_killed_export_is_taken_over_and_removed(tmp_path: Path) -> None:
    run = pulled_run(tmp_path / "a", "The quick brown fox")
    dest = tmp_path / "datasets" / "en"
    holder = hold(dest)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (tmp_path / "datasets" / ".en.export-lock" / ".preannotate.lock").is_file()  # left by the kill
    done = export(run, dest)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert (dest / "metadata.jsonl").is_file()
    assert [p.name for p in (tmp_path / "datasets").iterdir()] == ["en"]


def test_where_the_file_system_has_no_locks_the_export_goes_on_and_leaves_no_lock_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Some network shares answer flock with ENOLCK: the export is made unlocked, as a run is, and says so."""
    run = pulled_run(tmp_path / "a", "The quick brown fox")
    dest = tmp_path / "datasets" / "en"

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with caplog.at_level(logging.WARNING, logger="preannotate.lock"):
        export_dataset(run, DatasetExportOptions(dir=str(dest)), ANNOTATION)
    assert (dest / "metadata.jsonl").is_file()
    assert "going on without a lock" in caplog.text
    assert [p.name for p in dest.parent.iterdir()] == ["en"]
