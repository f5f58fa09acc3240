"""The faster-whisper engine: the same Whisper models and options on CTranslate2, several times faster on CPU.

It takes the model names `models.resolve_model` knows wherever a CTranslate2 model exists (bundled
weights are CTranslate2 already; official names load their Systran conversions), the transcription
options faster-whisper also has under the same names (a ConfigError names any it cannot honour), and
returns the same typed `Transcript` as the openai-whisper engine.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import ctranslate2
import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel
from faster_whisper.feature_extractor import FeatureExtractor
from faster_whisper.utils import _MODELS, download_model

from . import models
from .audio import SAMPLE_RATE, centred_samples
from .batched import transcribe_batched
from .engines import EngineInfo
from .errors import ConfigError, ModelError, TranscriptionError
from .options import FasterWhisperOptions, ModelOptions, TranscribeOptions
from .results import Transcript
from .rules import SEED, check_options_for_model, language_code, to_transcript, unspeakable

# Files faster-whisper reads from a model folder besides model.bin (tokenizer.json: else it downloads one).
MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "vocabulary.json", "preprocessor_config.json")
BATCHED_VAD_MIN_SILENCE_MS = 160  # what BatchedInferencePipeline uses when given no VAD parameters
SEQUENTIAL_VAD_MIN_SILENCE_MS = 2000  # faster_whisper.vad.VadOptions' default
MAX_AUTO_WORKERS = 4  # num_workers 0 on CPU: more would hold that many files' audio for little gain
FEATURE_BLOCK_FRAMES = 6000  # 60 s of 10-ms frames: the STFT of one block needs about 20 MB


@dataclass(frozen=True, eq=False)
class FasterWhisperEngine:
    """A loaded faster-whisper model, sequential or batched.

    Attributes:
        model: faster-whisper's `WhisperModel`.
        batched: Its `BatchedInferencePipeline` when `batch_size` > 0, else None.
        options: The engine's options.
        info: What identifies the engine and model in run records.
        workers: Files it transcribes at once (CTranslate2 replicas sharing the weights).
        stop: Set by `interrupt`: transcriptions in progress stop at their next 30-s window.
    """

    model: Any
    batched: Any
    options: FasterWhisperOptions
    info: EngineInfo
    workers: int = 1
    stop: threading.Event = field(default_factory=threading.Event)

    def check(self, options: TranscribeOptions) -> None:
        """Raises ConfigError naming every transcription option faster-whisper cannot honour here."""
        check_options_for_model(options, self.model.model, self.info.name)
        problems = unsupported_options(options, self.options, self.info.device, self.model.model.compute_type)
        if problems:
            raise ConfigError("with model.engine: faster-whisper, " + "; ".join(problems))

    def transcribe(self, samples: np.ndarray, options: TranscribeOptions) -> Transcript:
        """Transcribes 16 kHz mono samples; silence and clips under 0.1 s skip the model, as with openai-whisper.

        Raises:
            TranscriptionError: The model failed on this audio.
        """
        empty = unspeakable(samples, options)
        if empty is not None:
            return empty
        duration = samples.shape[0] / SAMPLE_RATE
        kwargs = transcribe_kwargs(options, self.options)
        try:
            ctranslate2.set_random_seed(SEED)  # fallback sampling gives the same text in every run
            if self.batched is not None:
                self.batched.last_speech_timestamp = 0.0  # left over when a previous file failed midway
                segments, info = transcribe_batched(self.batched, samples, self.options.batch_size, kwargs)
            else:
                segments, info = self.model.transcribe(samples, **kwargs)
            segments = self._collect(segments)
        except (RuntimeError, ValueError, IndexError) as e:
            raise TranscriptionError(f"faster-whisper failed: {e}") from e
        if self.batched is not None:
            segments = _skip_silent_windows(segments, options)
        detected = options.language is None and self.model.model.is_multilingual
        result = {"segments": segments, "text": "".join(s["text"] for s in segments), "language": info.language}
        return to_transcript(result, duration, float(info.language_probability) if detected else None)

    def interrupt(self) -> None:
        """Makes transcriptions in progress raise TranscriptionError after their current window."""
        self.stop.set()

    def _collect(self, segments: Any) -> list[dict[str, Any]]:
        collected = []
        for segment in segments:  # a generator: each window is decoded when its segments are asked for
            if self.stop.is_set():
                raise TranscriptionError("interrupted")
            collected.append(asdict(segment))
        return collected


def unsupported_options(
    options: TranscribeOptions, engine: FasterWhisperOptions, device: str, compute_type: str
) -> list[str]:
    """Lists, as messages, the transcription options faster-whisper cannot honour with these engine options."""
    problems = []
    if engine.batch_size == 0 and options.carry_initial_prompt:
        problems.append("transcribe.carry_initial_prompt: faster-whisper has no such option; set it to false")
    if options.length_penalty is not None:
        problems.append(
            "transcribe.length_penalty: openai-whisper's penalty ((5 + length) / 6) ** alpha is not CTranslate2's "
            "length ** alpha; leave it null (both then divide by the length)"
        )
    if device == "cuda" and not options.fp16 and "float16" in compute_type:
        problems.append("transcribe.fp16 is false: set model.faster_whisper.compute_type: float32 instead")
    if _vad_on(engine) and options.clip_timestamps != "0":
        problems.append("transcribe.clip_timestamps: faster-whisper ignores the VAD when clipping; turn one off")
    if engine.batch_size > 0:
        problems.extend(_unsupported_when_batched(options))
    return problems


def _unsupported_when_batched(options: TranscribeOptions) -> list[str]:
    # BatchedInferencePipeline decodes VAD chunks independently, once each: no fallback, no previous text.
    why = "model.faster_whisper.batch_size > 0 decodes VAD chunks independently"
    checks = (
        (len(options.temperature) > 1, f"temperature: {why}, without fallback; give one value, e.g. 0"),
        (options.condition_on_previous_text, f"condition_on_previous_text: {why}; set it to false"),
        (
            options.initial_prompt is not None and not options.carry_initial_prompt,
            f"initial_prompt: {why}, each with the prompt; set carry_initial_prompt: true",
        ),
        (options.hallucination_silence_threshold is not None, f"hallucination_silence_threshold: {why}; set null"),
        (options.clip_timestamps != "0", f"clip_timestamps: {why} (found by the VAD); set it to '0'"),
    )
    return [f"transcribe.{message}" for bad, message in checks if bad]


def transcribe_kwargs(options: TranscribeOptions, engine: FasterWhisperOptions) -> dict[str, Any]:
    """Maps preannotate's (openai-whisper's) option names and defaults onto `WhisperModel.transcribe`'s."""
    kwargs = {
        name: getattr(options, name)
        for name in ("task", "compression_ratio_threshold", "no_speech_threshold", "condition_on_previous_text",
                     "initial_prompt", "word_timestamps", "prepend_punctuations", "append_punctuations",
                     "hallucination_silence_threshold", "suppress_blank")
    }  # fmt: skip
    kwargs.update(
        language=language_code(options.language),
        temperature=list(options.temperature),
        log_prob_threshold=options.logprob_threshold,
        # preannotate's defaults are 5 for both, as faster-whisper's and Whisper's command line; null means
        # openai-whisper's API meaning: greedy decoding, one sample per fallback temperature.
        beam_size=options.beam_size or 1,
        best_of=options.best_of or 1,
        patience=1.0 if options.patience is None else options.patience,
        length_penalty=1.0,  # openai-whisper's None: divide by the length (see unsupported_options)
        suppress_tokens=[int(t) for t in options.suppress_tokens.split(",") if t.strip()],
        vad_filter=_vad_on(engine),
        vad_parameters=vad_parameters(engine),
    )
    if engine.batch_size == 0:
        kwargs["clip_timestamps"] = options.clip_timestamps  # the batched pipeline takes VAD-style dicts
    return kwargs


def vad_parameters(engine: FasterWhisperOptions) -> dict[str, Any]:
    """Returns `VadOptions` keyword arguments, with faster-whisper's mode-dependent defaults filled in."""
    params = asdict(engine.vad_parameters)
    batched = engine.batch_size > 0
    if params["min_silence_duration_ms"] is None:
        params["min_silence_duration_ms"] = BATCHED_VAD_MIN_SILENCE_MS if batched else SEQUENTIAL_VAD_MIN_SILENCE_MS
    if batched or params["max_speech_duration_s"] is None:
        del params["max_speech_duration_s"]  # batched: always its 30-s window; None: no limit
    return params


def _vad_on(engine: FasterWhisperOptions) -> bool:
    return engine.batch_size > 0 if engine.vad_filter is None else engine.vad_filter


def _skip_silent_windows(segments: list[dict[str, Any]], options: TranscribeOptions) -> list[dict[str, Any]]:
    # openai-whisper's rule for a window that holds no speech, applied to each batched chunk (its segments
    # share the chunk's no_speech_prob and avg_logprob); the sequential engine applies it itself.
    no_speech, logprob = options.no_speech_threshold, options.logprob_threshold
    if no_speech is None:
        return segments
    silent = [s["no_speech_prob"] > no_speech and (logprob is None or s["avg_logprob"] < logprob) for s in segments]
    return [s for s, skip in zip(segments, silent) if not skip]


def load_faster_engine(options: ModelOptions, files: int = 1) -> FasterWhisperEngine:
    """Loads the configured model into faster-whisper, once per run, with as many workers as suit `files`.

    Raises:
        ModelError: The model is missing, not CTranslate2, or cannot load.
    """
    folder, model_id, description = model_folder(options)
    device = _device(options.device, ctranslate2.get_cuda_device_count())
    engine = options.faster_whisper
    compute_type = engine.compute_type
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    workers, threads = workers_and_threads(engine, device, files)
    try:
        model = WhisperModel(folder, device, compute_type=compute_type, cpu_threads=threads, num_workers=workers)
    except (RuntimeError, ValueError, OSError) as e:
        raise ModelError(f"faster-whisper cannot load {options.name!r} ({folder}): {e}") from e
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


class BlockwiseFeatureExtractor(FeatureExtractor):
    """faster-whisper's log-mel features, with the STFT of long audio computed a block of frames at a time.

    faster-whisper computes the STFT of a whole file at once: for one hour of audio it peaks at about
    3 GB. Here only the power spectrum of the whole file is held (80 kB per second of audio, 290 MB an
    hour), in the same memory layout as faster-whisper's, so that the mel projection runs as the same
    single matrix product and the features come out bit for bit the same.
    """

    def __call__(self, waveform: np.ndarray, padding: int = 160, chunk_length: int | None = None) -> np.ndarray:
        """Returns the (n_mels, frames) log-mel features of 16 kHz samples, as the base class does."""
        if waveform.shape[0] <= FEATURE_BLOCK_FRAMES * self.hop_length:
            return super().__call__(waveform, padding, chunk_length)
        if chunk_length is not None:  # as the base class does
            self.n_samples = chunk_length * self.sampling_rate
            self.nb_max_frames = self.n_samples // self.hop_length
        length = waveform.shape[0] + padding  # zeros appended, as the base class does
        n_frames = 1 + length // self.hop_length  # of the centred STFT
        window = np.hanning(self.n_fft + 1)[:-1].astype("float32")
        power = np.empty((n_frames, self.n_fft // 2 + 1), dtype=np.float32)  # frames x bins, as numpy's rfft
        for first in range(0, n_frames, FEATURE_BLOCK_FRAMES):
            last = min(first + FEATURE_BLOCK_FRAMES, n_frames)
            start, end = first * self.hop_length, (last - 1) * self.hop_length + self.n_fft
            samples = centred_samples(waveform, length, self.n_fft // 2, start, end)
            stft = self.stft(samples, self.n_fft, self.hop_length, window=window, center=False, return_complex=True)
            power[first:last] = (np.abs(stft.astype("complex64")) ** 2).T
        log_spec = self.mel_filters @ power.T[:, :-1]  # the base class drops the last frame
        del power
        # The base class's steps, in place: float32 in, float32 out, the same values.
        np.log10(np.clip(log_spec, 1e-10, None, out=log_spec), out=log_spec)
        np.maximum(log_spec, log_spec.max() - 8.0, out=log_spec)
        log_spec += 4.0
        log_spec /= 4.0
        return log_spec


def _device(device: str, cuda_devices: int) -> str:
    if device == "cuda" and not cuda_devices:
        raise ModelError("model.device is 'cuda' but CTranslate2 sees no CUDA GPU; use 'auto' or 'cpu'")
    return "cuda" if device == "cuda" or (device == "auto" and cuda_devices) else "cpu"


def model_folder(options: ModelOptions) -> tuple[str, str, str]:
    """Finds or builds the CTranslate2 folder faster-whisper loads for a model name.

    Returns:
        The folder, the weights' id (the same sha256 the openai-whisper engine reports for CTranslate2
        weights) and a one-line description.

    Raises:
        ModelError: The name is an openai-whisper checkpoint, unknown, or cannot be downloaded or read.
    """
    source = models.resolve_model(options)
    if source.kind == "checkpoint":
        raise ModelError(
            f"{options.name}: faster-whisper runs CTranslate2 models, not openai-whisper .pt checkpoints; use "
            "model.engine: openai-whisper, a CTranslate2 folder, an official name or bundled:base / bundled:tiny.en"
        )
    if source.kind == "official":
        return _download(source.location, options.download_root)
    key = models._source_key(source)
    folder = Path(source.config).parent
    if len(source.parts) > 1 or Path(source.parts[0]).parent != folder:
        folder = _joined_folder(source, key)
    if not (folder / "tokenizer.json").is_file():
        raise ModelError(f"{folder}: faster-whisper needs tokenizer.json beside model.bin (else it downloads one)")
    return str(folder), f"sha256:{key}", source.description


def _download(name: str, download_root: str | None) -> tuple[str, str, str]:
    repo = _MODELS.get(name)
    if repo is None:
        raise ModelError(f"faster-whisper knows no CTranslate2 conversion of {name!r}; known: {', '.join(_MODELS)}")
    try:
        folder = download_model(name, cache_dir=download_root or None)
    except Exception as e:  # huggingface_hub raises many types (offline, HTTP, disk)
        raise ModelError(
            f"downloading {repo} (the CTranslate2 conversion of {name!r}) failed ({type(e).__name__}: {e}); "
            "with no internet use the offline weights: model.name 'bundled:base' or 'bundled:tiny.en'"
        ) from e
    return folder, f"hf:{repo}@{Path(folder).name}", f"{repo} (CTranslate2, downloaded once to the Hugging Face cache)"


def _joined_folder(source: models.ModelSource, key: str) -> Path:
    """Returns a cached folder with `model.bin` joined from its parts, built once and renamed into place."""
    target = models.cache_dir() / "faster-whisper" / key
    if (target / "model.bin").is_file():
        return target
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        for stale in target.parent.glob("*.tmp"):  # left by a killed build
            with contextlib.suppress(OSError):  # another process may be renaming or removing it
                if time.time() - stale.stat().st_mtime > models.STALE_TMP_S:
                    shutil.rmtree(stale)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f"{key}.", suffix=".tmp"))
        with open(tmp / "model.bin", "wb") as out:
            for part in source.parts:
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, models.HASH_CHUNK_BYTES)
            out.flush()
            os.fsync(out.fileno())
        for name in MODEL_FILES:
            if (src := Path(source.config).parent / name).is_file():
                _link_or_copy(src, tmp / name)
        os.rename(tmp, target)  # atomic: the folder appears complete or not at all
    except OSError as e:
        if not (target / "model.bin").is_file():  # else another process built it meanwhile: use theirs
            raise ModelError(f"cannot build the faster-whisper model folder {target}: {e}") from e
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)  # no copy when the cache shares the packages' file system
    except OSError:
        shutil.copyfile(src, dst)
