"""A third engine is one registration: a tiny deterministic engine runs the whole pipeline and keys its results."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from support.media import SAMPLES

from preannotate.asr import BaseEngine, EngineInfo, EngineSpec, PreparedModel, prepare, register, unregister
from preannotate.asr.weights import resolve_model, weights_identity
from preannotate.audio import SAMPLE_RATE
from preannotate.config import load_config
from preannotate.errors import ConfigError, ModelError
from preannotate.options import TranscribeOptions
from preannotate.run import run_pipeline, stage_keys

ENGINE = "seconds"  # says "tick" once per second of audio, half a second long


@dataclass(frozen=True)
class SecondsEngine(BaseEngine):
    """A fixed transcript from the audio's length: one word per second, in one segment."""

    info: EngineInfo
    workers: int = 1
    failure = "the seconds engine"

    def decode(self, samples: np.ndarray, options: TranscribeOptions) -> tuple[dict[str, Any], float | None]:
        """One `tick` at the start of every whole second, in English."""
        duration = samples.shape[0] / SAMPLE_RATE
        words = [{"word": " tick", "start": float(i), "end": i + 0.5, "probability": 1.0} for i in range(int(duration))]
        text = "".join(w["word"] for w in words)
        segment = {"id": 0, "start": 0.0, "end": words[-1]["end"], "text": text, "words": words}
        return {"text": text, "language": "en", "segments": [segment]}, None


def load_seconds(prepared: PreparedModel, files: int) -> SecondsEngine:
    """The engine's loader: nothing to load."""
    return SecondsEngine(EngineInfo(ENGINE, prepared.options.name, "seconds:1", prepared.device, "one tick a second"))


@pytest.fixture
def seconds_engine() -> Iterator[EngineSpec]:
    spec = register(EngineSpec(ENGINE, load_seconds, runtime="numpy", cuda=None))  # no options section, CPU only
    yield spec
    unregister(ENGINE)


def overrides(tmp_path, *more: str) -> list[str]:
    return [f"input.dir={tmp_path / 'in'}", f"output.dir={tmp_path / 'out'}", "model.name=bundled:tiny.en", *more]


def test_an_unregistered_engine_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"model\.engine: 'seconds' is not one of 'openai-whisper', 'faster-whisper'"):
        load_config(None, overrides(tmp_path, f"model.engine={ENGINE}"))


def test_a_registered_engine_runs_the_pipeline_and_keys_its_transcripts(tmp_path, seconds_engine):
    shutil.copytree(SAMPLES / "en", tmp_path / "in", ignore=shutil.ignore_patterns("*.txt"))
    config = load_config(None, overrides(tmp_path, f"model.engine={ENGINE}", "model.device=auto"))
    report = run_pipeline(config, progress=False)
    assert [f.status for f in report.files] == ["ok"] * 3 and all(f.chunks for f in report.files)
    for result in report.files:
        stored = json.loads((tmp_path / "out" / "transcripts" / f"{result.item}.json").read_text())
        assert stored["text"] == " ".join(["tick"] * int(stored["duration"]))
        assert [w["start"] for w in stored["segments"][0]["words"]] == list(range(int(stored["duration"])))
    assert (tmp_path / "out" / "subtitles" / "hello_world.wav.srt").read_text().count("tick")

    # The resume key: the weights' identity and the engine's own, no other engine's options.
    identity = f"{weights_identity(resolve_model(config.model))}|{ENGINE}"
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["model"]["identity"] == identity and prepare(config.model).identity == identity
    assert run["model"]["engine"] == ENGINE and run["model"]["device"] == "cpu"  # no GPU for this engine
    assert "compute_type" not in identity
    assert stored["meta"]["options_key"] == stage_keys(config, identity)["transcribe"]
    again = run_pipeline(config, progress=False)
    assert [f.status for f in again.files] == ["skipped"] * 3
    openai = load_config(None, overrides(tmp_path)).model
    assert prepare(openai).identity != identity  # switching engines redoes every file


def test_an_engine_without_a_gpu_refuses_cuda(seconds_engine):
    config = load_config(None, ["model.name=bundled:tiny.en", f"model.engine={ENGINE}", "model.device=cuda"])
    with pytest.raises(ModelError, match="sees no CUDA GPU"):
        prepare(config.model)
