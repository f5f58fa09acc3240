"""What every engine is: the `Engine` protocol the pipeline sees, and the base that engines build on.

The base keeps silence and near-empty clips from the model (it would only invent text for them) and
turns the engine's `whisper.transcribe`-shaped result into the typed `Transcript`, so that each
engine only decodes, and chunking, exports and uploads are the same whichever engine ran.
"""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

from ..audio import MIN_DURATION, SAMPLE_RATE, is_silent
from ..errors import TranscriptionError
from ..options import TranscribeOptions
from ..results import Segment, Transcript
from ..silence import Timeline
from .languages import language_code

# Temperature fallback samples from the engine's generator: each engine seeds it per file with this.
SEED = 0


class Engine(Protocol):
    """A loaded model that turns 16 kHz mono samples into a Transcript."""

    info: EngineInfo
    workers: int  # files it transcribes at once: `transcribe` may be called from this many threads

    def check(self, options: TranscribeOptions) -> None:
        """Raises ConfigError when the model cannot honour `options`."""

    def transcribe(
        self, samples: np.ndarray, options: TranscribeOptions, timeline: Timeline | None = None
    ) -> Transcript:
        """Transcribes one file's samples; raises TranscriptionError on failure.

        `timeline` says where the samples lie in the file when silence skipping cut quiet stretches out
        of them: an engine may decode the passages between long silences apart.
        """

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


class BaseEngine(abc.ABC):
    """An engine's common part: the silence guard, the failure message and the typed result.

    Subclasses set `failure` (how a failure names the engine) and implement `decode`.
    """

    failure: ClassVar[str] = "the engine"

    def check(self, options: TranscribeOptions) -> None:  # noqa: B027  # a default, not abstract
        """Accepts every option; engines that cannot honour some override this."""

    def transcribe(
        self, samples: np.ndarray, options: TranscribeOptions, timeline: Timeline | None = None
    ) -> Transcript:
        """Transcribes 16 kHz mono samples; digital silence and clips under 0.1 s skip the model.

        Args:
            samples: The audio.
            options: The decoding options.
            timeline: Where the samples lie in the file when silence skipping cut quiet stretches out of
                them; an engine whose `decodes_pieces` says so may decode them apart (`decode_pieces`).

        Raises:
            TranscriptionError: The model failed on this audio.
        """
        empty = unspeakable(samples, options)
        if empty is not None:
            return empty
        duration = samples.shape[0] / SAMPLE_RATE
        try:
            if timeline is not None and len(timeline.starts) > 1 and self.decodes_pieces(options):
                result, probability = self.decode_pieces(samples, timeline, options)
            else:
                result, probability = self.decode(samples, options)
        except (RuntimeError, ValueError, IndexError) as e:
            raise TranscriptionError(f"{self.failure} failed: {e}") from e
        return to_transcript(result, duration, probability)

    @abc.abstractmethod
    def decode(self, samples: np.ndarray, options: TranscribeOptions) -> tuple[dict[str, Any], float | None]:
        """Runs the model on speech.

        Returns:
            A `whisper.transcribe`-shaped dict (`text`, `language`, `segments`) and the detected
            language's probability (None when the language was given or not detected).
        """

    def decodes_pieces(self, options: TranscribeOptions) -> bool:
        """Whether `decode_pieces` decodes the pieces silence skipping kept apart; by default it does not."""
        return False

    def decode_pieces(
        self, samples: np.ndarray, timeline: Timeline, options: TranscribeOptions
    ) -> tuple[dict[str, Any], float | None]:
        """Runs the model on speech silence skipping cut into pieces (`timeline`), as `decode` returns it."""
        return self.decode(samples, options)

    def interrupt(self) -> None:  # noqa: B027  # a default, not abstract
        """Nothing to do by default: with one worker, transcription runs on the main thread, which Ctrl-C stops."""


def unspeakable(samples: np.ndarray, options: TranscribeOptions) -> Transcript | None:
    """Returns the empty transcript of audio no engine should see, or None for audio to transcribe.

    Digital silence and clips under 0.1 s are kept from the model, which would
    only invent text for them; `meta.skipped_model` says why.
    """
    duration = samples.shape[0] / SAMPLE_RATE
    if duration >= MIN_DURATION and not is_silent(samples):
        return None
    reason = "too short" if duration < MIN_DURATION else "silence"
    return Transcript("", language_code(options.language), (), duration, None, {"skipped_model": reason})


def to_transcript(result: dict[str, Any], duration: float, probability: float | None) -> Transcript:
    """Builds a Transcript from a `whisper.transcribe`-shaped result dict, dropping emptied segments."""
    # Whisper keeps segments it emptied (instantaneous or blank) with text "": drop them.
    segments = [Segment.from_dict(s) for s in result["segments"] if s["text"].strip()]
    segments = [dataclasses.replace(s, id=i) for i, s in enumerate(segments)]
    return Transcript(
        text=result["text"].strip(),
        language=result["language"],
        segments=tuple(segments),
        duration=duration,
        language_probability=probability,
    )
