"""Text normalization before counting word errors: Whisper's normalizers, with one quirk removed.

The correction report's measures (`correction.metrics`) and the review model's labels (`quality.labels`)
use the same normalizer, so that an edit the report counts is one the review model was taught to find.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

# Languages written without spaces: words are letters (as in Whisper's own evaluation).
UNSPACED_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "my", "km", "yue"})
# The symbols Whisper's English normalizer keeps for numbers ("$28.8", "5%"); alone they are no word.
_NUMBER_SYMBOLS = frozenset(".%$¢€£")


@functools.cache
def text_normalizer(language: str | None) -> Callable[[str], str]:
    """Whisper's EnglishTextNormalizer for `en`, its BasicTextNormalizer for any other language.

    Languages written without spaces get their letters split, so that WER counts letters. The English
    normalizer leaves a lone "." of a text ending in "..." ("exactly..." gives "exactly ."); such tokens
    are dropped, or an annotator's ellipsis would count as a word added.
    """
    normalizers = _whisper_normalizers()
    base = (language or "").split("-")[0].lower()
    if base == "en":
        return _without_lone_symbols(normalizers.EnglishTextNormalizer())
    return normalizers.BasicTextNormalizer(remove_diacritics=False, split_letters=base in UNSPACED_LANGUAGES)


def _without_lone_symbols(normalize: Callable[[str], str]) -> Callable[[str], str]:
    def english(text: str) -> str:
        return " ".join(w for w in normalize(text).split() if not set(w) <= _NUMBER_SYMBOLS)

    return english


def _whisper_normalizers() -> ModuleType:
    """`whisper.normalizers` without running `whisper/__init__.py`, which imports torch and the model code.

    The normalizers are plain Python; importing torch for them cost `report` about half its time.
    """
    name = "whisper.normalizers"
    if name not in sys.modules:
        package = importlib.util.find_spec("whisper")  # finds the package without importing it
        if package is None or not package.submodule_search_locations:
            raise ModuleNotFoundError("openai-whisper is not installed", name="whisper")
        folder = Path(package.submodule_search_locations[0]) / "normalizers"
        spec = importlib.util.spec_from_file_location(
            name, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
