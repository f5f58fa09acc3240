"""Running openai-whisper's full transcription pipeline on decoded audio.

This adds two things around `whisper.transcribe`: language detection that also keeps the detected
language's probability, and a spectrogram computed in bounded memory (see `mel`). The silence guard
and the typed result are the engines' base's.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np
import torch
import whisper
from whisper.audio import N_FRAMES, N_SAMPLES

from ...options import TranscribeOptions
from ..base import SEED
from ..languages import language_code
from .mel import blockwise_in_whisper_transcribe


def whisper_result(
    model: whisper.model.Whisper, samples: np.ndarray, options: TranscribeOptions
) -> tuple[dict[str, Any], float | None]:
    """Transcribes 16 kHz mono samples with Whisper's full pipeline.

    Args:
        model: A loaded openai-whisper model.
        samples: 1-D float32 audio at 16 kHz, with speech.
        options: Validated transcription options.

    Returns:
        `whisper.transcribe`'s result and the detected language's probability (None when not detected).
    """
    language, probability = _language(model, samples, options)
    kwargs = _whisper_kwargs(options, language, model.device)
    gpus = [model.device] if model.device.type == "cuda" else []
    with warnings.catch_warnings(), torch.random.fork_rng(devices=gpus), blockwise_in_whisper_transcribe():
        # Whisper warns about word timestamps on translations; the option is the user's choice.
        warnings.simplefilter("ignore", UserWarning)
        torch.manual_seed(SEED)
        result = whisper.transcribe(model, samples, verbose=None, **kwargs)
    return result, probability


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
