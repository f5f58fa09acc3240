"""The openai-whisper engine: Whisper's full transcription pipeline (see `transcribe`) on a loaded model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import whisper

from ...options import TranscribeOptions
from ...results import Transcript
from ..base import BaseEngine, EngineInfo
from ..languages import check_options_for_model
from .load import load_model
from .transcribe import whisper_result

if TYPE_CHECKING:
    from ..model import PreparedModel


@dataclass(frozen=True)
class WhisperEngine(BaseEngine):
    """openai-whisper's full transcription pipeline.

    Attributes:
        model: openai-whisper's `Whisper`, in eval mode.
        info: What identifies the engine and model in run records.
        workers: Files it transcribes at once: one, on the main thread.
    """

    model: whisper.Whisper
    info: EngineInfo
    workers: int = 1
    failure = "Whisper"

    def check(self, options: TranscribeOptions) -> None:
        """Rejects options an English-only model cannot honour."""
        check_options_for_model(options, self.model, self.info.name)

    def decode(self, samples: np.ndarray, options: TranscribeOptions) -> tuple[dict[str, Any], float | None]:
        """Runs `whisper.transcribe` on the samples."""
        return whisper_result(self.model, samples, options)


def load(prepared: PreparedModel, files: int = 1) -> WhisperEngine:
    """Loads the prepared model into openai-whisper (one worker, whatever `files`).

    Raises:
        ModelError: The model cannot be downloaded, converted or loaded.
    """
    loaded = load_model(prepared)
    source = loaded.source.description if loaded.source else ""
    info = EngineInfo("openai-whisper", loaded.name, loaded.model_id, loaded.device, source, dict(loaded.versions))
    return WhisperEngine(loaded.model, info)


def transcribe_audio(model: whisper.Whisper, samples: np.ndarray, options: TranscribeOptions) -> Transcript:
    """Transcribes 16 kHz mono samples with a loaded model, as a run's engine does (for tools and tests).

    Raises:
        TranscriptionError: The model failed on this audio.
    """
    info = EngineInfo("openai-whisper", "", "", str(model.device))
    return WhisperEngine(model, info).transcribe(samples, options)
