"""calibrate's `--out` may be any folder of the user's: its lock sweeps no temporary file there but its own.

Taking an output folder's lock removes stale temporary files of this tool from it (a killed writer's). A run's
folder is the tool's, so a name shaped like one of its temporary files is its own there; a folder that holds
only a model calibrate was told to write (`--out ~/models/team.json`, or `~`) is the user's, where such a name
proves nothing. There only the half-written model of a killed calibrate goes: its name starts with the model's.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from support.lock_processes import dead_pid

from preannotate.correction.calibrate_lock import holding
from preannotate.correction.calibrate_model import MODEL_FILE, Calibration, write_model
from preannotate.quality import default_model
from preannotate.storage import STALE_TEMP_S, host_tag, pid_alive


def _dead_pid() -> int:
    pid = dead_pid()
    assert not pid_alive(pid)
    return pid


def _stale(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    hour_ago = time.time() - STALE_TEMP_S - 60
    os.utime(path, (hour_ago, hour_ago))
    return path


def test_a_model_written_in_a_users_folder_removes_its_own_half_written_file_and_nothing_else(tmp_path: Path) -> None:
    """Mutants killed: the lock's sweep kept for a folder that is no run (the user's files shaped like ours go),
    and the model's own stale temporary file left (a killed calibrate's half model stays forever)."""
    pid = _dead_pid()
    home = tmp_path / "home"
    users = [
        _stale(home / ".notes.txt.a1b2c3d4.tmp", "an editor's swap file"),  # an older version's shape, exactly
        _stale(home / "backups" / ".thesis.tex.q9w8e7r6.tmp", "a backup in the making"),
        _stale(home / "transcripts" / f".call.json.{host_tag()}-{pid}-5e6b7a8c.tmp", "this tool's shape, not its"),
    ]
    ours = _stale(home / f".{MODEL_FILE}.{host_tag()}-{pid}-9f3a0c1d.tmp", '{"coef": [0.1')
    counts = {"chunks": 40, "with_error": 20, "left_out": 0}
    write_model(Calibration(default_model(), counts, {"refitted": None, "uploaded": None, "shipped": None}),
                home / MODEL_FILE)  # fmt: skip
    assert [p.read_text() for p in users] == [
        "an editor's swap file",
        "a backup in the making",
        "this tool's shape, not its",
    ]
    assert not ours.exists()
    assert (home / MODEL_FILE).is_file()


def test_a_runs_folder_is_still_swept_when_calibrate_locks_it(tmp_path: Path) -> None:
    """Mutant killed: no folder swept by calibrate's locks (a run's temporary files left by a killed pull stay)."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text("{}")
    left = _stale(run / "corrected" / f".interview.json.{host_tag()}-{_dead_pid()}-5e6b7a8c.tmp", "half a pull")
    with holding([run], [run]):
        pass
    assert not left.exists()
