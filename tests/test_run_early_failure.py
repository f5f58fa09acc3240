"""A run that fails before it transcribes anything leaves its output folder as it found it.

A model that cannot load (a damaged checkpoint, an English-only model asked for French), a cluster that does
not answer: a new output folder is not left behind (nor the parents made for it, nor a journal and a lock file
in a folder that was empty), and an existing run's folder is unchanged (its journal is what resuming reads).
The error and the exit code are those of before.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from support.correction_runs import run_cli
from support.media import SAMPLES

from preannotate.journal import JOURNAL_FILE, Journal
from preannotate.lock import LOCK_FILE, output_lock
from preannotate.report import RunReport
from preannotate.run import ray_session

DRY = ["--set", "superannotate.dry_run=true", "--set", "model.device=cpu", "--no-progress"]
ENGLISH_ONLY = "transcribe.language: bundled:tiny.en is English-only and cannot transcribe 'fr'"


@pytest.fixture
def inp(tmp_path: Path) -> Path:
    """An input folder of one short English clip."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SAMPLES / "en" / "counting.wav", folder / "counting.wav")
    return folder


@pytest.fixture
def damaged(tmp_path: Path) -> Path:
    """A real torch checkpoint in openai-whisper's layout, cut off halfway (a copy that stopped)."""
    buffer = io.BytesIO()
    torch.save({"dims": {"n_mels": 80}, "model_state_dict": {"w": torch.arange(4096, dtype=torch.float32)}}, buffer)
    path = tmp_path / "damaged.pt"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    return path


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A loopback port bound but not listening: a connection there is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def run(inp: Path, out: Path, *options: str):
    sets = [arg for option in options for arg in ("--set", option)]
    return run_cli("run", "-i", str(inp), "-o", str(out), *DRY, *sets)


def contents(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes (the lock file's too: empty once released)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def last_error(done) -> str:
    return done.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("where", ["new", "new/with/parents", "empty"])
def test_a_damaged_checkpoint_leaves_a_new_output_folder_as_it_was(
    tmp_path: Path, inp: Path, damaged: Path, where: str
) -> None:
    out = tmp_path / where
    if where == "empty":
        out.mkdir()
    done = run(inp, out, f"model.name={damaged}")
    assert done.returncode == 2, done.stderr
    assert last_error(done) == (
        f"preannotate: error: {damaged}: not a loadable openai-whisper checkpoint: damaged or not a torch file "
        "(OSError: [Errno 22] Invalid argument)"
    )
    if where == "empty":
        assert list(out.iterdir()) == []  # no journal, no lock file
    else:
        assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.pt", "in"]  # nor the parents made for it


def test_an_english_only_model_asked_for_french_leaves_nothing(tmp_path: Path, inp: Path, loads_model: None) -> None:
    out = tmp_path / "out"
    done = run(inp, out, "model.name=bundled:tiny.en", "transcribe.language=fr")
    assert done.returncode == 2 and last_error(done) == f"preannotate: error: {ENGLISH_ONLY}", done.stderr
    assert not out.exists()


def test_a_model_that_fails_leaves_an_existing_run_unchanged(
    tmp_path: Path, inp: Path, damaged: Path, loads_model: None
) -> None:
    out = tmp_path / "out"
    assert run(inp, out, "model.name=bundled:tiny.en").returncode == 0
    before = contents(out)
    french = run(inp, out, "model.name=bundled:tiny.en", "transcribe.language=fr")  # every file to redo
    assert french.returncode == 2 and last_error(french) == f"preannotate: error: {ENGLISH_ONLY}"
    assert contents(out) == before  # the journal too: a new start record would describe a run that never was
    broken = run(inp, out, f"model.name={damaged}")
    assert broken.returncode == 2 and "not a loadable openai-whisper checkpoint" in last_error(broken)
    assert contents(out) == before
    again = run(inp, out, "model.name=bundled:tiny.en")  # resumes from the journal as if nothing had happened
    assert again.returncode == 0 and "1 finished file(s) taken from journal.jsonl" in again.stderr, again.stderr


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (["model.name=/no/such/model.pt"], "unknown model '/no/such/model.pt'; it is not an existing path"),
        (["model.engine=nope"], "nope"),
    ],
)
def test_a_model_refused_before_loading_leaves_nothing(tmp_path: Path, inp: Path, options: list, error: str) -> None:
    out = tmp_path / "out"
    done = run(inp, out, *options)
    assert done.returncode == 2 and error in last_error(done), done.stderr
    assert not out.exists()


def test_an_input_folder_without_audio_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("no audio here\n")
    done = run(tmp_path / "in", tmp_path / "out", "model.name=bundled:tiny.en")
    assert done.returncode == 2 and "holds no media files" in last_error(done), done.stderr
    assert not (tmp_path / "out").exists()


def test_a_ray_cluster_that_does_not_answer_leaves_nothing(tmp_path: Path, inp: Path, refusing_port: int) -> None:
    out = tmp_path / "out"
    done = run(inp, out, "model.name=bundled:tiny.en", "run.executor=ray", f"ray.address=127.0.0.1:{refusing_port}")
    assert done.returncode == 2 and "cannot join the Ray cluster (nothing answers there" in last_error(done)
    assert not out.exists()


def test_a_failure_after_the_journal_started_removes_only_that_journal(
    tmp_path: Path, inp: Path, refusing_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cluster answers the early check, then is gone when the transcribe stage joins it: the journal was
    # started by then. The run removes it (its own, and alone in the folder), and the lock the folder it made.
    monkeypatch.setattr(ray_session, "check_ray", lambda options: None)
    out = tmp_path / "out"
    done = run(inp, out, "model.name=bundled:tiny.en", "run.executor=ray", f"ray.address=127.0.0.1:{refusing_port}")
    assert done.returncode == 2 and "cannot join the Ray cluster" in last_error(done), done.stderr
    assert not out.exists()


def _journal(out: Path) -> Journal:
    return Journal.start(RunReport(out, {"note": "a run"}))


def test_a_journal_is_discarded_only_when_it_is_its_runs_own_and_alone(tmp_path: Path) -> None:
    alone = _journal(tmp_path / "alone")
    alone.close()
    assert alone.discard_unused() and list((tmp_path / "alone").iterdir()) == []  # the lock removes the folder

    earlier = tmp_path / "earlier"  # a journal was there before: the run replaced it, it cannot give it back
    _journal(earlier).close()
    replacing = _journal(earlier)
    replacing.close()
    assert not replacing.discard_unused() and (earlier / JOURNAL_FILE).is_file()

    with_file = _journal(tmp_path / "with_file")
    with_file.append({"t": "file", "file": {}})
    with_file.close()
    assert not with_file.discard_unused()

    beside = _journal(tmp_path / "beside")
    beside.close()
    (tmp_path / "beside" / "notes.txt").write_text("mine\n")
    assert not beside.discard_unused()

    swapped = _journal(tmp_path / "swapped")  # the file there now is another one: not the run's to remove
    swapped.close()
    (tmp_path / "swapped" / JOURNAL_FILE).unlink()
    (tmp_path / "swapped" / JOURNAL_FILE).write_text(json.dumps({"t": "start"}) + "\n")
    assert not swapped.discard_unused() and (tmp_path / "swapped" / JOURNAL_FILE).is_file()


def test_the_lock_removes_only_a_lock_file_it_made(tmp_path: Path) -> None:
    made = tmp_path / "made"
    made.mkdir()
    with output_lock(made, "run"):
        assert (made / LOCK_FILE).is_file()
    assert list(made.iterdir()) == []  # a folder that held nothing holds nothing again

    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / LOCK_FILE).write_text("")  # left by an earlier command: not this one's
    with output_lock(kept, "run"):
        pass
    assert [p.name for p in kept.iterdir()] == [LOCK_FILE]

    with output_lock(tmp_path / "a" / "b" / "c", "run"):
        (tmp_path / "a" / "note.txt").write_text("mine\n")  # put there meanwhile: that folder stays
    assert sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "a").rglob("*")) == ["a/note.txt"]
