"""Running openai-whisper's full transcription pipeline on decoded audio.

This stage adds four things around `whisper.transcribe`: language detection
that also keeps the detected language's probability, a guard that sends no
silence or near-empty clip to the model (it would only invent text), a
spectrogram computed in bounded memory (see `mel`), and a typed `Transcript`
as the result.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np
import torch
import whisper
from whisper.audio import N_FRAMES, N_SAMPLES
from whisper.tokenizer import LANGUAGES, TO_LANGUAGE_CODE

from .audio import MIN_DURATION, SAMPLE_RATE, is_silent
from .errors import ConfigError, TranscriptionError
from .mel import blockwise_in_whisper_transcribe
from .options import TranscribeOptions
from .results import Segment, Transcript

# Temperature fallback samples from torch's generator: seed it per file so that
# the same audio and options give the same transcript in every run and order.
SEED = 0


def language_code(language: str | None) -> str | None:
    """Returns Whisper's code for a language given as a code or an English name.

    Raises:
        ConfigError: Whisper does not know the language.
    """
    if language is None:
        return None
    key = language.strip().lower()
    if key in LANGUAGES:
        return key
    if key in TO_LANGUAGE_CODE:
        return TO_LANGUAGE_CODE[key]
    raise ConfigError(f"transcribe.language: unknown language {language!r}; use a code such as 'en', 'es', 'fr'")


def check_options_for_model(options: TranscribeOptions, model: whisper.model.Whisper, name: str) -> None:
    """Rejects options that the model cannot honour, before any file is processed.

    Raises:
        ConfigError: An English-only model is asked for another language or to translate.
    """
    language_code(options.language)
    if model.is_multilingual:
        return
    if options.task == "translate":
        raise ConfigError(f"transcribe.task: translate needs a multilingual model; {name} is English-only")
    if language_code(options.language) not in (None, "en"):
        raise ConfigError(f"transcribe.language: {name} is English-only and cannot transcribe {options.language!r}")


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


def transcribe_audio(model: whisper.model.Whisper, samples: np.ndarray, options: TranscribeOptions) -> Transcript:
    """Transcribes 16 kHz mono samples with Whisper's full pipeline.

    Args:
        model: A loaded openai-whisper model.
        samples: 1-D float32 audio at 16 kHz.
        options: Validated transcription options.

    Returns:
        The typed result. Digital silence and clips under 0.1 s give an empty
        transcript without running the model.

    Raises:
        TranscriptionError: The model failed on this audio.
    """
    empty = unspeakable(samples, options)
    if empty is not None:
        return empty
    duration = samples.shape[0] / SAMPLE_RATE
    try:
        language, probability = _language(model, samples, options)
        kwargs = _whisper_kwargs(options, language, model.device)
        gpus = [model.device] if model.device.type == "cuda" else []
        with warnings.catch_warnings(), torch.random.fork_rng(devices=gpus), blockwise_in_whisper_transcribe():
            # Whisper warns about word timestamps on translations; the option is the user's choice.
            warnings.simplefilter("ignore", UserWarning)
            torch.manual_seed(SEED)
            result = whisper.transcribe(model, samples, verbose=None, **kwargs)
    except (RuntimeError, ValueError, IndexError) as e:
        raise TranscriptionError(f"Whisper failed: {e}") from e
    return to_transcript(result, duration, probability)


def _language(
    model: whisper.model.Whisper, samples: np.ndarray, options: TranscribeOptions
) -> tuple[str, float | None]:
    code = language_code(options.language)
    if code is not None:
        return code, None
    if not model.is_multilingual:
        return "en", None
    # As whisper.transcribe does: detect once from the first 30 s, but keep the probability.
    mel = whisper.log_mel_spectrogram(samples[:N_SAMPLES], model.dims.n_mels, padding=N_SAMPLES)
    segment = whisper.pad_or_trim(mel, N_FRAMES).to(model.device).to(_dtype(options, model.device))
    _, probs = model.detect_language(segment)
    best = max(probs, key=probs.get)
    return best, float(probs[best])


def _dtype(options: TranscribeOptions, device: torch.device) -> torch.dtype:
    return torch.float16 if options.fp16 and device.type == "cuda" else torch.float32


def _whisper_kwargs(options: TranscribeOptions, language: str, device: torch.device) -> dict[str, Any]:
    kwargs = dataclasses.asdict(options)
    kwargs["language"] = language
    kwargs["temperature"] = tuple(options.temperature)
    # FP16 only exists on GPUs; on CPU Whisper would warn and fall back anyway.
    kwargs["fp16"] = options.fp16 and device.type == "cuda"
    for key in ("beam_size", "best_of", "patience", "length_penalty"):
        if kwargs[key] is None:
            del kwargs[key]  # let DecodingOptions keep its own defaults
    return kwargs


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
