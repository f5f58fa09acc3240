"""The Ray executor as a careless user meets it: files with long silences, bad files among good ones, a re-run,
and a cluster address where nothing answers.

The cluster test runs on one simulated node with three logical CPUs (fewer deadlock Ray Data) and the bundled
tiny.en model on the CPU.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import ray
from ray.cluster_utils import Cluster
from support.configs import config
from support.correction_runs import run_cli
from support.media import SAMPLES, write_float_wav, write_wav16

from preannotate.audio import SAMPLE_RATE, decode_audio
from preannotate.errors import ConfigError, ModelError
from preannotate.options import ModelOptions, RayOptions, TranscribeOptions
from preannotate.run import run_pipeline
from preannotate.run.ray_transcribe import transcribe_on_ray

MODEL = ModelOptions(name="bundled:tiny.en", device="cpu")
FAST = TranscribeOptions(beam_size=None, best_of=None)


def mixed_folder(folder: Path) -> Path:
    """A sample, a file with a long silence between two phrases, a corrupt file, an empty one and a float file
    holding samples that are not numbers (set to 0, and a warning)."""
    folder.mkdir(parents=True)
    shutil.copy(SAMPLES / "en" / "quick_brown_fox.wav", folder / "fox.wav")
    hello, counting = (decode_audio(SAMPLES / "en" / f"{name}.wav").samples for name in ("hello_world", "counting"))
    write_wav16(folder / "gap.wav", np.concatenate([hello, np.zeros(6 * SAMPLE_RATE, np.float32), counting]))
    (folder / "corrupt.wav").write_bytes(b"RIFF\0\0\0\0WAVEjunk" * 8)
    (folder / "empty.wav").write_bytes(b"")
    write_float_wav(folder / "nan.wav", np.where(np.arange(counting.size) % 1000 == 0, np.nan, counting))
    return folder


def files(report) -> list[tuple]:
    return [(f.item, f.status, f.error, f.warnings, f.chunks) for f in report.files]


@pytest.mark.slow  # starts a Ray cluster
def test_a_ray_run_cuts_silences_fails_bad_files_alone_resumes_and_stops_with_an_actors_error(tmp_path, loads_model):
    folder = mixed_folder(tmp_path / "in")
    local = run_pipeline(config(tmp_path / "local", input_dir=folder), progress=False)
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 3})
    nodes.wait_for_nodes()
    try:
        # Two CPUs for the actor: torch then runs as many threads as here, so scores match to the last digit.
        on_ray = ("run.executor=ray", f"ray.address={nodes.address}", "ray.cpus_per_worker=2")
        settings = config(tmp_path / "ray", *on_ray, input_dir=folder)
        remote = run_pipeline(settings, progress=False)
        transcripts = tmp_path / "ray" / "out" / "transcripts"
        made = {p.name: p.stat().st_mtime_ns for p in transcripts.iterdir()}
        again = run_pipeline(settings, progress=False)
        # An actor that refuses to work (other weights than the driver's) stops the run with its own error, which
        # Ray hands back only as text: a ModelError (exit code 2), not "the Ray cluster failed" and a traceback.
        ray.init(address=nodes.address)
        with pytest.raises(ModelError, match=r"^this node resolved the model to .*, the driver to other weights$"):
            list(transcribe_on_ray([str(folder / "fox.wav")], MODEL, FAST, "other weights", RayOptions()))
    finally:
        ray.shutdown()
        nodes.shutdown()
    assert [f.status for f in local.files] == ["failed", "failed", "ok", "ok", "ok"]
    assert local.files[-1].warnings[0] == "damaged: 48 sample(s) were not numbers (NaN or infinite) and were set to 0"
    assert files(remote) == files(local), "the same errors, warnings and chunks as a local run"
    # The 6-s silence is cut out before the model on Ray as here, and the times put back on the file's timeline.
    local_out, ray_out = tmp_path / "local" / "out", tmp_path / "ray" / "out"
    gap = [json.loads((out / "transcripts" / "gap.wav.json").read_text()) for out in (local_out, ray_out)]
    assert gap[1]["segments"] == gap[0]["segments"] and gap[1]["duration"] == gap[0]["duration"]
    assert (ray_out / "chunks.csv").read_text() == (local_out / "chunks.csv").read_text()
    # A second run redoes nothing finished (the bad files fail again, with the same errors).
    assert [(f.item, f.status, f.error) for f in again.files] == [
        (f.item, "skipped" if f.status == "ok" else f.status, f.error) for f in local.files
    ]
    assert {p.name: p.stat().st_mtime_ns for p in transcripts.iterdir()} == made
    assert (ray_out / "chunks.csv").read_text() == (local_out / "chunks.csv").read_text()


def run_on_a_dead_address(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *more: str) -> tuple[int, str, int]:
    """`preannotate run` of one sample with run.executor ray and a cluster address nothing listens on.

    Returns:
        The exit code, what it printed on stderr, and the port.
    """

    def hang(*args, **kwargs):
        pytest.fail("ray.init was called with an address where nothing answers: it retries that for minutes")

    monkeypatch.setattr(ray, "init", hang)
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SAMPLES / "en" / "hello_world.wav", folder)
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    flags = [f"input.dir={folder}", f"output.dir={tmp_path / 'out'}", "model.name=bundled:tiny.en"]
    flags += ["run.executor=ray", f"ray.address=127.0.0.1:{port}", *more]
    done = run_cli("run", "--no-progress", *(f"--set={flag}" for flag in flags))
    return done.returncode, done.stderr, port


def test_a_cluster_address_where_nothing_answers_is_a_config_error_at_once(tmp_path, monkeypatch):
    """Ray retries such an address for minutes, printing only its own log lines: the run says why and stops."""
    code, stderr, port = run_on_a_dead_address(tmp_path, monkeypatch)
    assert code == 2, stderr
    assert f"ray.address 127.0.0.1:{port}: cannot join the Ray cluster (nothing answers there" in stderr
    assert "Traceback" not in stderr


def test_a_driver_without_a_gpu_sends_a_cuda_model_to_the_cluster(tmp_path, monkeypatch):
    """The README's own GPU command runs the driver on a CPU head: only the actors' nodes need CUDA."""
    monkeypatch.setattr("preannotate.asr.weights.device.torch_sees_cuda", lambda: False)  # this machine: no GPU
    code, stderr, port = run_on_a_dead_address(tmp_path, monkeypatch, "model.device=cuda", "ray.gpus_per_worker=1")
    assert "sees no CUDA GPU" not in stderr
    assert code == 2 and f"ray.address 127.0.0.1:{port}: cannot join the Ray cluster" in stderr, stderr


@pytest.mark.slow  # starts a Ray for each run
def test_a_ray_started_for_the_run_fits_the_actors_asked_for_or_says_why_not(tmp_path, loads_model, monkeypatch):
    """Ray Data waits forever for `ray.min_workers` actors that cannot be placed: never on a Ray of our own."""
    monkeypatch.setattr(ray.data.DataContext.get_current(), "wait_for_min_actors_s", 120)  # fail, not hang
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SAMPLES / "en" / "hello_world.wav", folder)
    gpus = config(tmp_path / "gpus", "run.executor=ray", "ray.gpus_per_worker=64", input_dir=folder)
    with pytest.raises(ConfigError, match=r"ray\.gpus_per_worker: .* need 64, and the Ray started for this run"):
        run_pipeline(gpus, progress=False)
    # Actors asking for more CPUs than this machine has (three logical ones at least): they share its cores.
    workers = ["ray.min_workers=2", "ray.max_workers=2", "ray.cpus_per_worker=2"]
    # `ray.address: local`, Ray's name for a Ray started here, is one sized so too.
    actors = config(tmp_path / "actors", "run.executor=ray", "ray.address=local", *workers, input_dir=folder)
    assert [f.status for f in run_pipeline(actors, progress=False).files] == ["ok"]
