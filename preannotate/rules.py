"""What both engines share: language names, the guard that keeps silence from the model, the seed, the result.

This module must not import torch or openai-whisper's package (seconds of start-up that the
faster-whisper engine does not need), so Whisper's language table is read from its tokenizer module alone.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .audio import MIN_DURATION, SAMPLE_RATE, is_silent
from .errors import ConfigError
from .options import TranscribeOptions
from .results import Segment, Transcript

# Temperature fallback samples from the engine's generator: each engine seeds it per file with this.
SEED = 0


@functools.cache
def whisper_languages() -> tuple[dict[str, str], dict[str, str]]:
    """Returns openai-whisper's `LANGUAGES` (code to name) and `TO_LANGUAGE_CODE` (name or alias to code)."""
    module = sys.modules.get("whisper.tokenizer")
    if module is None:  # whisper/__init__.py imports torch; tokenizer.py itself needs only tiktoken
        package = importlib.util.find_spec("whisper")  # locates the package without running it
        path = Path(package.origin).parent / "tokenizer.py"
        spec = importlib.util.spec_from_file_location("preannotate._whisper_tokenizer", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module.LANGUAGES, module.TO_LANGUAGE_CODE


def language_code(language: str | None) -> str | None:
    """Returns Whisper's code for a language given as a code or an English name.

    Raises:
        ConfigError: Whisper does not know the language.
    """
    if language is None:
        return None
    languages, to_code = whisper_languages()
    key = language.strip().lower()
    if key in languages:
        return key
    if key in to_code:
        return to_code[key]
    raise ConfigError(f"transcribe.language: unknown language {language!r}; use a code such as 'en', 'es', 'fr'")


def check_options_for_model(options: TranscribeOptions, model: Any, name: str) -> None:
    """Rejects options that the model (anything with `is_multilingual`) cannot honour, before any file.

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
