"""Transcription engines: one interface over openai-whisper (and others), chosen by `model.engine`.

The pipeline only sees `Engine`: it loads one per run, checks the options
against it before any file is processed, and asks it for typed transcripts,
so chunking, exports and uploads are the same whichever engine ran.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy as np

from .errors import ModelError
from .options import ModelOptions, TranscribeOptions
from .results import Transcript
from .rules import check_options_for_model

# Engine options that change how fast transcripts come, not what they say.
SPEED_ONLY = frozenset({"cpu_threads", "num_workers"})


class Engine(Protocol):
    """A loaded model that turns 16 kHz mono samples into a Transcript."""

    info: EngineInfo
    workers: int  # files it transcribes at once: `transcribe` may be called from this many threads

    def check(self, options: TranscribeOptions) -> None:
        """Raises ConfigError when the model cannot honour `options`."""

    def transcribe(self, samples: np.ndarray, options: TranscribeOptions) -> Transcript:
        """Transcribes one file's samples; raises TranscriptionError on failure."""

    def interrupt(self) -> None:
        """Makes transcriptions in progress on other threads stop soon with TranscriptionError (Ctrl-C)."""


@dataclass(frozen=True)
class EngineInfo:
    """What identifies an engine and its model in run records.

    Attributes:
        engine: The engine's name, as in `model.engine`.
        name: The model name as configured.
        model_id: Identifies the exact weights.
        device: Where it runs.
        description: One line on what the model name resolved to.
        versions: Versions of the packages that shape its results.
    """

    engine: str
    name: str
    model_id: str
    device: str
    description: str = ""
    versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WhisperEngine:
    """openai-whisper's full transcription pipeline (see `transcribe`)."""

    model: object
    info: EngineInfo
    workers: int = 1
    workers: int  # files it transcribes at once: `transcribe` may be called from this many threads

    def check(self, options: TranscribeOptions) -> None:
        """Rejects options an English-only model cannot honour."""
        check_options_for_model(options, self.model, self.info.name)

    def transcribe(self, samples: np.ndarray, options: TranscribeOptions) -> Transcript:
        """Runs `whisper.transcribe` on the samples."""
        from .transcribe import transcribe_audio

        return transcribe_audio(self.model, samples, options)

    def interrupt(self) -> None:
        """Nothing to do: with one worker, transcription runs on the main thread, which Ctrl-C stops."""


def load_engine(options: ModelOptions, files: int = 1) -> Engine:
    """Loads the configured model into the engine `options.engine` names, once per run.

    Args:
        options: The model options.
        files: How many files the run will transcribe (the most workers worth starting).

    Raises:
        ModelError: The model is missing, broken or cannot be loaded.
    """
    if options.engine == "faster-whisper":
        try:
            from .faster import load_faster_engine
        except ImportError as e:  # an optional dependency: pip install 'preannotate[faster]'
            raise ModelError(f"model.engine faster-whisper needs: pip install 'preannotate[faster]' ({e})") from e
        return load_faster_engine(options, files)
    from . import models

    loaded = models.load_model(options)
    source = loaded.source.description if loaded.source else ""
    info = EngineInfo("openai-whisper", loaded.name, loaded.model_id, loaded.device, source, dict(loaded.versions))
    return WhisperEngine(loaded.model, info)


def engine_identity(options: ModelOptions) -> str:
    """Identifies the engine and its options that shape transcripts, for resume keys.

    Empty for openai-whisper, so that keys made before engines existed stay valid. `cpu_threads` and
    `num_workers` are left out: they change speed only.
    """
    if options.engine == "openai-whisper":
        return ""
    engine = {k: v for k, v in asdict(options.faster_whisper).items() if k not in SPEED_ONLY}
    return f"{options.engine}:{json.dumps(engine, sort_keys=True)}"
