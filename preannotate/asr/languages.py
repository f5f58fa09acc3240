"""Whisper's languages, shared by every engine that runs Whisper models, and the check an English-only model needs.

This module must not import torch or openai-whisper's package (seconds of start-up that the
faster-whisper engine does not need), so Whisper's language table is read from its tokenizer module alone.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelError
from ..options import TranscribeOptions


@functools.cache
def whisper_languages() -> tuple[dict[str, str], dict[str, str]]:
    """Returns openai-whisper's `LANGUAGES` (code to name) and `TO_LANGUAGE_CODE` (name or alias to code)."""
    module = sys.modules.get("whisper.tokenizer")
    if module is None:  # whisper/__init__.py imports torch; tokenizer.py itself needs only tiktoken
        package = importlib.util.find_spec("whisper")  # locates the package without running it
        if package is None or package.origin is None:
            raise ModelError("openai-whisper is not installed: pip install openai-whisper")
        path = Path(package.origin).parent / "tokenizer.py"
        spec = importlib.util.spec_from_file_location("preannotate._whisper_tokenizer", path)
        assert spec is not None and spec.loader is not None  # always so for a .py path
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
