"""The Ray executor on a real multi-node Ray cluster simulated on this machine (`ray.cluster_utils.Cluster`).

Each simulated node has three logical CPUs (with one per node Ray Data deadlocks); one declares a GPU so that
placement can be checked. The bundled tiny.en model runs on the CPU everywhere.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray
from ray.cluster_utils import Cluster
from support.cloud_s3 import BUCKET
from support.media import SAMPLES
from test_cloud_run import CLIPS, exported, upload_bucket
from test_pipeline import GREEDY, config

from preannotate import asr
from preannotate.asr.weights.cache import cache_dir
from preannotate.audio import decode_audio
from preannotate.check_store import check_path
from preannotate.cloud import ObjectUrl
from preannotate.errors import ConfigError
from preannotate.options import ModelOptions, RayOptions, TranscribeOptions
from preannotate.run import check, run_pipeline
from preannotate.run.ray_session import check_paths_visible
from preannotate.run.ray_transcribe import transcribe_on_ray
from preannotate.run.speakers import turns_path
from preannotate.run.stages import stage_keys
from preannotate.speakers import diarize as diarize_module

MODEL = ModelOptions(name="bundled:tiny.en", device="cpu")
FAST = TranscribeOptions(beam_size=None, best_of=None)
DATA = Path(__file__).resolve().parent / "data"
EXPORTS = ("transcripts", "subtitles", "superannotate")  # run.json differs by timings and the executor


@pytest.fixture(scope="module")
def cluster(model_cache: Path, loads_model: None):
    """A head node and a node with a fake GPU, three logical CPUs each."""
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 3})
    gpu_node = nodes.add_node(num_cpus=3, num_gpus=1)
    nodes.wait_for_nodes()
    yield nodes, gpu_node
    nodes.shutdown()


def media_folder(folder: Path, copies: int = 1) -> Path:
    """The English samples, `copies` times under different names."""
    folder.mkdir(parents=True)
    for wav in sorted((SAMPLES / "en").glob("*.wav")):
        for n in range(copies):
            shutil.copy(wav, folder / f"{wav.stem}_{n}.wav")
    return folder


def on_ray(address: str, *more: str) -> list[str]:
    # Two CPUs per actor: torch then uses as many threads as in this process, so scores match to the last digit.
    workers = ["ray.min_workers=2", "ray.max_workers=2", "ray.cpus_per_worker=2"]
    return ["run.executor=ray", f"ray.address={address}", *workers, *more]


def spy_on_joins(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """The arguments of each `ray.init` from here on (Ray's own, still called)."""
    calls: list[dict] = []
    real = ray.init

    def init(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(ray, "init", init)
    return calls


def outputs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for d in EXPORTS for p in sorted((out / d).rglob("*.*"))}


@pytest.mark.parametrize("decoding", [GREEDY, []], ids=["greedy", "beam"])
def test_a_ray_run_writes_what_a_local_run_writes(tmp_path, cluster, decoding):
    nodes, _ = cluster
    folder = media_folder(tmp_path / "in")
    local = run_pipeline(config(tmp_path / "local", *decoding, input_dir=folder), progress=False)
    remote = run_pipeline(config(tmp_path / "ray", *decoding, *on_ray(nodes.address), input_dir=folder), progress=False)
    assert [r.status for r in remote.files] == ["ok"] * 3
    fields = [(r.item, r.language, r.segments, r.chunks, r.route) for r in local.files]
    assert [(r.item, r.language, r.segments, r.chunks, r.route) for r in remote.files] == fields
    assert remote.model["engine"] == "openai-whisper" and remote.model["device"] == "cpu"
    expected = outputs(tmp_path / "local" / "out")
    assert len(expected) >= 9 and outputs(tmp_path / "ray" / "out") == expected


def test_a_faster_whisper_ray_run_packs_short_files_as_a_local_run_does_and_writes_what_it_writes(
    tmp_path, cluster, caplog
):
    nodes, _ = cluster
    folder = media_folder(tmp_path / "in")
    shutil.copy(DATA / "conversation.opus", folder)  # 24 s: longer than a packed file, transcribed alone
    faster = ("model.engine=faster-whisper", *GREEDY)
    local = run_pipeline(config(tmp_path / "local", *faster, input_dir=folder), progress=False)
    with caplog.at_level(logging.INFO, logger="preannotate.run.ray_stage"):
        remote = run_pipeline(
            config(tmp_path / "ray", *faster, *on_ray(nodes.address), input_dir=folder), progress=False
        )
    assert "3 short file(s) packed together" in caplog.text
    assert [r.status for r in remote.files] == ["ok"] * 4 and remote.model["engine"] == "faster-whisper"
    assert remote.stages["transcribe"] == local.stages["transcribe"]  # the same transcripts, the same key
    expected = outputs(tmp_path / "local" / "out")
    assert len(expected) >= 12 and outputs(tmp_path / "ray" / "out") == expected


# Before the tests that start clusters of their own: after them, the module cluster's new actors die at start.
def test_the_check_and_the_slowed_decode_are_made_on_the_cluster_as_one_machine_makes_them(
    tmp_path, cluster, monkeypatch
):
    nodes, _ = cluster
    folder = media_folder(tmp_path / "in")
    shutil.copy(DATA / "conversation.opus", folder)  # longer than a packed file: checked alone
    checked = "annotation.cross_check=bundled:tiny.en"
    local = run_pipeline(config(tmp_path / "local", checked, input_dir=folder), progress=False)

    def on_the_driver(*args, **kwargs):
        raise AssertionError("the driver checked files itself")

    monkeypatch.setattr(check, "check_all", on_the_driver)
    joins = spy_on_joins(monkeypatch)
    report = run_pipeline(config(tmp_path / "ray", checked, *on_ray(nodes.address), input_dir=folder), progress=False)
    assert [r.status for r in report.files] == ["ok"] * 4 and not [w for r in report.files for w in r.warnings]
    assert len(joins) == 1  # the drafts, the checks and the slowed decodes share one Ray session
    assert report.stages["check"] == local.stages["check"]
    # What one machine makes of them: tiny.en (faster-whisper) on each file, short ones packed, then slowed down.
    made = {p.name: p.read_bytes() for p in sorted((tmp_path / "local" / "out" / "checks").iterdir())}
    assert len(made) == 4 and {p.name: p.read_bytes() for p in (tmp_path / "ray" / "out" / "checks").iterdir()} == made
    for stored in map(json.loads, made.values()):
        assert stored["meta"]["slowed"] == "done" and stored["words"] and stored["slowed"]


def test_speakers_are_diarized_on_the_cluster_in_the_runs_one_ray_session_as_one_machine_diarizes(
    tmp_path, cluster, monkeypatch
):
    nodes, _ = cluster
    folder = media_folder(tmp_path / "in")
    shutil.copy(DATA / "conversation.opus", folder)  # two voices
    here = diarize_module.diarize
    joins = spy_on_joins(monkeypatch)

    def on_the_driver(*args, **kwargs):
        raise AssertionError("the driver diarized files itself")

    monkeypatch.setattr(diarize_module, "diarize", on_the_driver)
    settings = config(tmp_path, "speakers.mode=diarize", *on_ray(nodes.address), input_dir=folder)
    report = run_pipeline(settings, progress=False)
    assert [r.status for r in report.files] == ["ok"] * 4 and len(joins) == 1  # one Ray session for both stages
    assert report.stages["speakers"] == stage_keys(config(tmp_path, "speakers.mode=diarize"), "m")["speakers"]
    for result in report.files:
        stored = json.loads(turns_path(tmp_path / "out", result.item).read_text())
        expected = [t.to_dict() for t in here(decode_audio(folder / result.source).samples, settings.speakers.count())]
        assert stored["turns"] == expected and expected, result.item
        if result.source == "conversation.opus":
            assert len({t["speaker"] for t in stored["turns"]}) == 2


def test_a_draft_model_the_clusters_faster_whisper_cannot_load_leaves_the_check_without_its_slowed_decode(
    tmp_path, cluster, tiny_model
):
    nodes, _ = cluster
    folder = media_folder(tmp_path / "in")
    checkpoint = tmp_path / "tiny-en.pt"  # openai-whisper's own format: the draft's actors load it, faster-whisper not
    shutil.copyfile(cache_dir() / "ctranslate2" / f"{tiny_model.model_id.removeprefix('sha256:')}.pt", checkpoint)
    overrides = ("annotation.cross_check=bundled:tiny.en", *on_ray(nodes.address))
    report = run_pipeline(config(tmp_path, *overrides, model=str(checkpoint), input_dir=folder), progress=False)
    assert [r.status for r in report.files] == ["ok"] * 3
    for result in report.files:
        stored = json.loads(check_path(tmp_path / "out", result.item).read_text())
        assert stored["meta"]["slowed"] == "unavailable" and stored["slowed"] is None and stored["words"]
        assert any("not decoded slowed down" in w for w in result.warnings), result.warnings


def test_an_actor_asking_for_a_gpu_runs_on_the_gpu_node(tmp_path, cluster):
    nodes, gpu_node = cluster
    paths = [str(p) for p in sorted(media_folder(tmp_path / "in").iterdir())]
    options = RayOptions(gpus_per_worker=1.0)
    ray.init(address=nodes.address)
    try:
        found = list(transcribe_on_ray(paths, MODEL, FAST, asr.prepare(MODEL).identity, options))
    finally:
        ray.shutdown()
    assert sorted(o.index for o in found) == [0, 1, 2] and all(o.transcript for o in found)
    assert {o.node for o in found} == {gpu_node.node_id}


def test_a_killed_driver_resumes_without_redoing_finished_files(tmp_path, cluster):
    nodes, _ = cluster
    folder = media_folder(tmp_path / "in", copies=3)
    settings = config(tmp_path, *on_ray(nodes.address, "ray.min_workers=1"), input_dir=folder)
    flags = [
        f"--set={k}"
        for k in (
            f"input.dir={folder}",
            f"output.dir={tmp_path / 'out'}",
            "model.name=bundled:tiny.en",
            "model.device=cpu",
        )
    ]
    flags += [f"--set={k}" for k in (*GREEDY, *on_ray(nodes.address, "ray.min_workers=1"))]
    driver = subprocess.Popen([sys.executable, "-m", "preannotate", "run", *flags], stderr=subprocess.DEVNULL)
    transcripts = tmp_path / "out" / "transcripts"
    deadline = time.monotonic() + 300
    while driver.poll() is None and not list(transcripts.glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    driver.kill()
    driver.wait()
    done = {p.stem: p.stat().st_mtime_ns for p in transcripts.glob("*.json")}
    assert 0 < len(done) < 9, "the driver was to be killed between its first and its last file"
    report = run_pipeline(settings, progress=False)
    statuses = {r.item: r.status for r in report.files}
    assert {item for item, status in statuses.items() if status == "skipped"} == set(done)
    assert sorted(statuses.values()).count("ok") == 9 - len(done)
    assert {p.stem: p.stat().st_mtime_ns for p in transcripts.glob("*.json") if p.stem in done} == done


def test_a_node_lost_mid_run_costs_no_file_and_duplicates_none(tmp_path, model_cache, loads_model):
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 3})
    worker = nodes.add_node(num_cpus=3)
    nodes.wait_for_nodes()
    paths = [str(p) for p in sorted(media_folder(tmp_path / "in", copies=3).iterdir())]
    options = RayOptions(min_workers=2, max_workers=2, cpus_per_worker=2.0)  # one actor per node
    ray.init(address=nodes.address)
    try:
        found = []
        for outcome in transcribe_on_ray(paths, MODEL, FAST, asr.prepare(MODEL).identity, options):
            found.append(outcome)
            if len(found) == 1:
                nodes.remove_node(worker)
    finally:
        ray.shutdown()
        nodes.shutdown()
    assert sorted(o.index for o in found) == list(range(9)), "every file exactly once"
    assert all(o.transcript is not None for o in found)


def test_bucket_inputs_on_a_ray_started_for_the_run(s3, tmp_path, loads_model):
    upload_bucket(s3, tmp_path)
    local = run_pipeline(config(tmp_path / "local", input_dir=tmp_path / "in"), progress=False)
    bucket = config(tmp_path / "s3", "run.executor=ray", "ray.cpus_per_worker=2", input_dir=f"s3://{BUCKET}/set")
    remote = run_pipeline(bucket, progress=False)
    assert [(f.item, f.status) for f in remote.files] == [(f"en__{c}.wav", "ok") for c in CLIPS]
    assert [(f.item, f.chunks) for f in remote.files] == [(f.item, f.chunks) for f in local.files]
    source = json.loads((tmp_path / "s3" / "out" / "transcripts" / "en__counting.wav.json").read_text())["meta"]
    assert source["source"]["url"] == f"s3://{BUCKET}/set/en/counting.wav" and source["source"]["etag"]
    assert exported(tmp_path / "s3" / "out") == exported(tmp_path / "local" / "out")


@pytest.mark.slow  # starts a two-node Ray cluster
def test_local_inputs_are_refused_on_a_cluster_spanning_machines_unless_shared(tmp_path):
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 3})
    nodes.add_node(num_cpus=3, node_ip_address="127.0.0.2")  # another address: another machine, as Ray sees it
    nodes.wait_for_nodes()
    ray.init(address=nodes.address)
    try:
        with pytest.raises(ConfigError, match=r"other machines \(127\.0\.0\.2\).*ray\.shared_paths=true"):
            check_paths_visible(ray, RayOptions(), [str(tmp_path / "a.wav")])
        check_paths_visible(ray, RayOptions(shared_paths=True), [str(tmp_path / "a.wav")])
        check_paths_visible(ray, RayOptions(), [ObjectUrl("s3://recordings/a.wav", "etag", 1)])
    finally:
        ray.shutdown()
        nodes.shutdown()
