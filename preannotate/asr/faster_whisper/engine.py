"""The faster-whisper engine: the same Whisper models and options on CTranslate2, several times faster on CPU.

It takes the model names `weights.resolve_model` knows wherever a CTranslate2 model exists (bundled
weights are CTranslate2 already; official names load their Systran conversions), the transcription
options faster-whisper also has under the same names (a ConfigError names any it cannot honour), and
returns the same typed `Transcript` as the openai-whisper engine.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any

import ctranslate2
import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel

from ...audio import SAMPLE_RATE
from ...errors import ConfigError, ModelError, PreannotateError, TranscriptionError, one_line
from ...options import FasterWhisperOptions, TranscribeOptions
from ...results import Transcript
from ...silence import Timeline
from ..base import SEED, BaseEngine, EngineInfo
from ..languages import check_options_for_model
from ..parts import PART_S, cut_points, shift_segments
from .batched import transcribe_batched
from .decoding import GAP_S, packs_short_files, short_files, skip_silent_windows, transcribe_kwargs, unsupported_options
from .features import BlockwiseFeatureExtractor
from .folder import model_folder
from .packing import transcribe_packed
from .pieces import transcribe_pieces

if TYPE_CHECKING:
    from ..model import PreparedModel

MAX_AUTO_WORKERS = 4  # num_workers 0 on CPU: more would hold that many files' audio for little gain


@dataclass(frozen=True, eq=False)
class FasterWhisperEngine(BaseEngine):
    """A loaded faster-whisper model, sequential or batched.

    Attributes:
        model: faster-whisper's `WhisperModel`.
        batched: Its `BatchedInferencePipeline` when `batch_size` > 0, else None.
        options: The engine's options.
        info: What identifies the engine and model in run records.
        workers: Files it transcribes at once (CTranslate2 replicas sharing the weights).
        stop: Set by `interrupt`: transcriptions in progress stop at their next 30-s window.
        part_s: Length of the parts `split_long_files` cuts long audio into (`parts`).
    """

    model: Any
    batched: Any
    options: FasterWhisperOptions
    info: EngineInfo
    workers: int = 1
    stop: threading.Event = field(default_factory=threading.Event)
    part_s: float = PART_S
    failure = "faster-whisper"
    short_file_gap_s = GAP_S  # silence after each packed file: a run counts it when it sizes batches

    def check(self, options: TranscribeOptions) -> None:
        """Raises ConfigError naming every transcription option faster-whisper cannot honour here."""
        check_options_for_model(options, self.model.model, self.info.name)
        problems = unsupported_options(options, self.options, self.info.device, self.model.model.compute_type)
        if problems:
            raise ConfigError("with model.engine: faster-whisper, " + "; ".join(problems))

    def decode(self, samples: np.ndarray, options: TranscribeOptions) -> tuple[dict[str, Any], float | None]:
        """Transcribes speech, sequentially or batched, as openai-whisper's `transcribe` shapes its result."""
        kwargs = transcribe_kwargs(options, self.options)
        # Seeds only the sampler of a CTranslate2 thread that has not drawn yet (4.8.5 keeps one per thread,
        # seeded at its first draw): fallback sampling repeats across runs only per worker history (README).
        ctranslate2.set_random_seed(SEED)
        if self.batched is not None:
            self.batched.last_speech_timestamp = 0.0  # left over when a previous file failed midway
            segments, info = transcribe_batched(self.batched, samples, self.options.batch_size, kwargs)
            collected = skip_silent_windows(self.collect(segments), options)
        elif cuts := self._cuts(samples, options):
            collected, info = self._in_parts(samples, cuts, kwargs)
        else:
            segments, info = self.model.transcribe(samples, **kwargs)
            collected = self.collect(segments)
        detected = options.language is None and self.model.model.is_multilingual
        result = {"segments": collected, "text": "".join(s["text"] for s in collected), "language": info.language}
        return result, float(info.language_probability) if detected else None

    def _cuts(self, samples: np.ndarray, options: TranscribeOptions) -> list[int]:
        """Where `split_long_files` cuts these samples (none when they stay whole)."""
        on = self.options.split_long_files and options.clip_timestamps == "0"
        return cut_points(samples, SAMPLE_RATE, self.part_s) if on else []

    def _in_parts(
        self, samples: np.ndarray, cuts: list[int], kwargs: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], Any]:
        """Transcribes the parts between `cuts` at once, one per worker; their segments on the file's timeline.

        The first part is started first: its info carries the language, detected once, that the others use.
        """
        bounds = list(zip([0, *cuts], [*cuts, samples.shape[0]]))
        first, info = self.model.transcribe(samples[: cuts[0]], **kwargs)  # detects the language now
        kwargs = {**kwargs, "language": info.language}

        def part(i: int) -> list[dict[str, Any]]:
            start, end = bounds[i]
            segments = first if i == 0 else self.model.transcribe(samples[start:end], **kwargs)[0]
            return shift_segments(self.collect(segments), start / SAMPLE_RATE)

        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="part")
        try:
            collected = [segment for found in pool.map(part, range(len(bounds))) for segment in found]
        finally:
            pool.shutdown(cancel_futures=True)  # a failed part: the parts not yet started never start
        return collected, info

    def decodes_pieces(self, options: TranscribeOptions) -> bool:
        """Whether a file cut by silence skipping is decoded in batched windows laid on its passages (`pieces`)."""
        on = self.options.batch_after_silence_s > 0 and self.batched is None and self.options.vad_filter is not True
        return on and packs_short_files(options)

    def decode_pieces(
        self, samples: np.ndarray, timeline: Timeline, options: TranscribeOptions
    ) -> tuple[dict[str, Any], float | None]:
        """Decodes the kept audio's passages in batched windows (`pieces.transcribe_pieces`)."""
        return transcribe_pieces(self, samples, timeline, options)

    def short_file_s(self, options: TranscribeOptions) -> float:
        """Files up to this long go to `transcribe_short` (packed); 0 when packing is off for these options."""
        return short_files(self.options, options)[0]

    def transcribe_short(
        self, audio: list[np.ndarray], options: TranscribeOptions
    ) -> list[Transcript | PreannotateError]:
        """Transcribes short files packed together (`packing`); each file's transcript or the error that failed it."""
        return transcribe_packed(self, audio, options)

    def interrupt(self) -> None:
        """Makes transcriptions in progress raise TranscriptionError after their current window."""
        self.stop.set()

    def collect(self, segments: Any) -> list[dict[str, Any]]:
        """faster-whisper's segments as dicts, each window decoded when asked for; stops once interrupted.

        Raises:
            TranscriptionError: `interrupt` was called.
        """
        collected = []
        for segment in segments:  # a generator: each window is decoded when its segments are asked for
            if self.stop.is_set():
                raise TranscriptionError("interrupted")
            collected.append(asdict(segment))
        return collected


def load(prepared: PreparedModel, files: int = 1) -> FasterWhisperEngine:
    """Loads the prepared model into faster-whisper, once per run, with as many workers as suit `files`.

    Raises:
        ModelError: The model is missing, not CTranslate2, or cannot load.
    """
    folder, model_id, description = model_folder(prepared)
    options, device = prepared.options, prepared.device
    engine = options.faster_whisper
    compute_type = engine.compute_type
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    workers, threads = workers_and_threads(engine, device, files)
    try:
        model = WhisperModel(folder, device, compute_type=compute_type, cpu_threads=threads, num_workers=workers)
    except Exception as e:  # CTranslate2 raises RuntimeError or ValueError, a damaged tokenizer.json a bare Exception
        hint = ""
        if "compute type" in str(e):
            supported = ", ".join(sorted(ctranslate2.get_supported_compute_types(device)))
            hint = f"; model.faster_whisper.compute_type on {device}: auto or one of {supported}"
        problem = one_line(e).rstrip(".") if hint else one_line(e)
        raise ModelError(f"faster-whisper cannot load {options.name!r} ({folder}): {problem}{hint}") from e
    model.feature_extractor = BlockwiseFeatureExtractor(**model.feat_kwargs)
    quiet = logging.getLogger("faster_whisper")
    if quiet.level == logging.NOTSET:  # its INFO lines per file would bury preannotate's own; -v shows them
        quiet.setLevel(logging.WARNING if logging.getLogger().level > logging.DEBUG else logging.DEBUG)
    mode = f"batched ({engine.batch_size})" if engine.batch_size else "sequential windows"
    on = f"{device}, {workers} worker(s) x {threads} thread(s)" if device == "cpu" else f"{device}, {workers} worker(s)"
    versions = {p: metadata.version(p) for p in ("faster-whisper", "ctranslate2")}
    info = EngineInfo(
        "faster-whisper", options.name, model_id, device, f"{description}; {compute_type} on {on}, {mode}", versions
    )
    batched = BatchedInferencePipeline(model) if engine.batch_size else None
    return FasterWhisperEngine(model, batched, engine, info, workers)


def workers_and_threads(engine: FasterWhisperOptions, device: str, files: int) -> tuple[int, int]:
    """Returns how many files to transcribe at once and the CPU threads of each, for `files` files.

    Sequential beam search on a small model gains little from a second thread (on a 2-core AMD EPYC
    a decoding step took 23 ms on 2 threads and 17 ms on 1), so on CPU auto runs a file per core.
    """
    cores = int(os.environ.get("OMP_NUM_THREADS") or len(os.sched_getaffinity(0)))
    workers = engine.num_workers
    if workers == 0:
        sequential_cpu = device == "cpu" and engine.batch_size == 0
        workers = min(cores, MAX_AUTO_WORKERS, max(files, 1)) if sequential_cpu else 1
    return workers, engine.cpu_threads or max(1, cores // workers)
