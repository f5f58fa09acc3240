"""The review model: a chunk's features to its predicted word error rate, with numpy only.

One linear score, fitted as a logistic regression on "the chunk has an error", is read
two ways: `predict_wer` maps it through a fitted sigmoid onto the chunk's expected WER
(0 to 1), and `needs_review` is that WER above `threshold`. Both are monotonic in the
score, so the number and the flag never disagree. scikit-learn is only needed to fit
(`preannotate.quality.fit`); loading and predicting import numpy alone, and a model fitted with `lm_rival`
(English drafts) loads pocketsphinx's language model (`rivals.py`).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..chunking import Chunk
from .features import CHECKED_FEATURES, ENGLISH_FEATURES, MODEL_FEATURES, SLOWED_FEATURES, chunk_features
from .rivals import lm_rival

FORMAT = "preannotate-review-model"
VERSION = 1
DEFAULT_PATH = Path(__file__).with_name("review_model.json")
# Fitted with `unconfirmed_words`: for drafts checked by a second model (`annotation.cross_check`).
CHECKED_PATH = Path(__file__).with_name("review_model_checked.json")
# Fitted with `unconfirmed_words` and `unstable_words`: checked drafts whose model also decoded the audio
# slowed down (`annotation.slowed_check`).
SLOWED_PATH = Path(__file__).with_name("review_model_slowed.json")
# Fitted with `lm_rival`: English drafts without a check (tiny.en's under `annotation.cross_check: auto`).
ENGLISH_PATH = Path(__file__).with_name("review_model_english.json")
# review_model.json's score, its mapping to WER and threshold fitted on real speech in Spanish, French, Italian
# and Russian: drafts in languages other than English without a check (tools/review_languages.py).
LANGUAGES_PATH = Path(__file__).with_name("review_model_languages.json")
# How a draft is assessed, by what the run made for it: the kinds of `shipped_recipe`, most informed last.
PLAIN, LANGUAGES, ENGLISH, CHECKED, SLOWED = "plain", "languages", "english", "checked", "slowed"
CHECK_FEATURE, SLOWED_FEATURE = "unconfirmed_words", "unstable_words"


class DoubtfulWord(NamedTuple):
    """A word the model is unsure of: its position among the chunk's words, text and probability."""

    index: int  # type: ignore[assignment]  # shadows tuple.index on purpose: the word's position is its name
    word: str
    probability: float


@dataclass(frozen=True)
class ReviewModel:
    """Standardized logistic score, calibrated to expected chunk WER, with review thresholds.

    Attributes:
        features: Feature names, in the order of the vectors below.
        mean: Standardization means (subtracted from each feature).
        scale: Standardization scales (each feature is divided by it; never 0).
        coef: Logistic coefficients on the standardized features (0 for features left out).
        intercept: Logistic intercept: the score is intercept + coef . standardized features.
        wer_slope: Calibration slope: predicted WER = sigmoid(wer_slope * score + wer_intercept).
        wer_intercept: Calibration intercept.
        threshold: A chunk needs review when its predicted WER is above this.
        word_threshold: A word is doubtful when its probability is below this.
        provenance: How the parameters were made: data, seeds, commands, held-out metrics.
    """

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    wer_slope: float
    wer_intercept: float
    threshold: float
    word_threshold: float
    provenance: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        n = len(self.features)
        if not (len(self.mean) == len(self.scale) == len(self.coef) == n):
            raise ValueError(f"review model: {n} features but mismatched mean/scale/coef lengths")
        if any(s <= 0 for s in self.scale):
            raise ValueError("review model: scales must be positive")
        numbers = (*self.mean, *self.coef, self.intercept, self.wer_slope, self.wer_intercept, self.threshold)
        if not _is_finite(numbers):
            raise ValueError("review model: parameters must be finite")
        if self.wer_slope <= 0:
            raise ValueError("review model: wer_slope must be positive (WER must grow with the score)")

    def score(self, features: Mapping[str, float]) -> float:
        """The linear score (log-odds that the chunk has an error)."""
        x = np.array([float(features[name]) for name in self.features])
        return float(self.intercept + np.dot(self.coef, (x - self.mean) / self.scale))

    def scores(self, matrix: np.ndarray) -> np.ndarray:
        """Scores of many chunks: `matrix` has one row per chunk, columns in `features` order."""
        return self.intercept + ((np.asarray(matrix, dtype=float) - self.mean) / self.scale) @ np.asarray(self.coef)

    def wer_from_score(self, score: float | np.ndarray) -> float | np.ndarray:
        """The calibrated expected WER of a score, in (0, 1)."""
        return _sigmoid(self.wer_slope * np.asarray(score) + self.wer_intercept)

    def predict_wer(self, features: Mapping[str, float]) -> float:
        """The chunk's expected word error rate, in [0, 1].

        Raises:
            KeyError: A feature the model needs is missing.
        """
        return float(self.wer_from_score(self.score(features)))

    def needs_review(self, predicted_wer: float) -> bool:
        """True when a predicted WER is above the model's threshold."""
        return predicted_wer > self.threshold

    def doubtful_words(self, chunk: Chunk, threshold: float | None = None) -> list[DoubtfulWord]:
        """The chunk's words under the word threshold (the model's unless given), in order."""
        return doubtful_words(chunk, self.word_threshold if threshold is None else threshold)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (what `review_model.json` holds)."""
        d = asdict(self)
        for key in ("features", "mean", "scale", "coef"):
            d[key] = list(d[key])
        return {"format": FORMAT, "version": VERSION, **d}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReviewModel:
        """Builds a model from its JSON form.

        Raises:
            ValueError: The data is not a review model of a known version.
        """
        if d.get("format") != FORMAT or d.get("version") != VERSION:
            raise ValueError(f"not a {FORMAT} version {VERSION}: format {d.get('format')}, version {d.get('version')}")
        try:
            return cls(
                features=tuple(str(n) for n in d["features"]),
                mean=_floats(d["mean"]),
                scale=_floats(d["scale"]),
                coef=_floats(d["coef"]),
                intercept=float(d["intercept"]),
                wer_slope=float(d["wer_slope"]),
                wer_intercept=float(d["wer_intercept"]),
                threshold=float(d["threshold"]),
                word_threshold=float(d["word_threshold"]),
                provenance=dict(d.get("provenance") or {}),
            )
        except (KeyError, TypeError) as e:
            raise ValueError(f"review model is missing or has a bad field: {e}") from e

    @classmethod
    def load(cls, path: str | Path) -> ReviewModel:
        """Reads a model from a JSON file."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def save(self, path: str | Path) -> None:
        """Writes the model as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")


class Assessment(NamedTuple):
    """The review model's verdict on one chunk."""

    predicted_wer: float
    needs_review: bool
    doubtful_words: list[DoubtfulWord]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: predicted_wer, needs_review and doubtful_words as index/word/probability dicts."""
        words = [{"index": i, "word": w, "probability": round(p, 4)} for i, w, p in self.doubtful_words]
        return {"predicted_wer": self.predicted_wer, "needs_review": self.needs_review, "doubtful_words": words}

    def doubtful_text(self) -> str:
        """The doubtful words for a table cell: `word (0.05); other (0.31)`."""
        return "; ".join(f"{d.word} ({d.probability:.2f})" for d in self.doubtful_words)


@functools.cache
def default_model() -> ReviewModel:
    """The model shipped with preannotate (`review_model.json`), loaded once."""
    return ReviewModel.load(DEFAULT_PATH)


@functools.cache
def checked_model() -> ReviewModel:
    """The shipped model for drafts with a check model's words (`review_model_checked.json`), loaded once."""
    return ReviewModel.load(CHECKED_PATH)


@functools.cache
def slowed_model() -> ReviewModel:
    """The shipped model for checked drafts with the slowed decode's words too (`review_model_slowed.json`)."""
    return ReviewModel.load(SLOWED_PATH)


@functools.cache
def english_model() -> ReviewModel:
    """The shipped model for English drafts without a check, with the language model's rival words."""
    return ReviewModel.load(ENGLISH_PATH)


@functools.cache
def languages_model() -> ReviewModel:
    """The shipped model for drafts in other languages than English without a check, loaded once."""
    return ReviewModel.load(LANGUAGES_PATH)


def shipped_recipe(kind: str) -> tuple[ReviewModel, tuple[str, ...]]:
    """The shipped model that assesses drafts of a kind, with the features it was fitted on.

    Args:
        kind: PLAIN (no check; the language unknown, or English without its language model), LANGUAGES (no
            check, not English), ENGLISH (no check, English), CHECKED (a check model's words) or SLOWED (those and
            the slowed decode's).
    """
    recipes = {
        PLAIN: (default_model, MODEL_FEATURES),
        LANGUAGES: (languages_model, MODEL_FEATURES),
        ENGLISH: (english_model, ENGLISH_FEATURES),
        CHECKED: (checked_model, CHECKED_FEATURES),
        SLOWED: (slowed_model, SLOWED_FEATURES),
    }
    load, features = recipes[kind]
    return load(), features


def assess_chunk(
    chunk: Chunk, transcript_duration: float, model: ReviewModel | None = None, unconfirmed: int = 0, unstable: int = 0
) -> Assessment:
    """Predicts a chunk's WER, whether it needs review, and which words are doubtful.

    Args:
        chunk: A chunk with its quality signals.
        transcript_duration: Seconds of the chunk's whole file.
        model: The review model; None uses the shipped one.
        unconfirmed: Words of the chunk a check model heard otherwise (a model fitted with
            `unconfirmed_words` reads it).
        unstable: Words of the chunk the draft model heard otherwise in the slowed audio (a model fitted
            with `unstable_words` reads it).

    Returns:
        The predicted WER (rounded to 4 places), the flag and the doubtful words.
    """
    model = model or default_model()
    rival = lm_rival(chunk) if "lm_rival" in model.features else 0.0  # loads the language model: only when read
    features = chunk_features(chunk, transcript_duration, unconfirmed=unconfirmed, unstable=unstable, rival=rival)
    wer = round(model.predict_wer(features), 4)
    return Assessment(wer, model.needs_review(wer), model.doubtful_words(chunk))


def doubtful_words(chunk: Chunk, threshold: float) -> list[DoubtfulWord]:
    """The chunk's words whose probability is below `threshold`, with their index in `chunk.words`."""
    return [
        DoubtfulWord(i, w.word.strip(), w.probability)
        for i, w in enumerate(chunk.words)
        if w.word.strip() and w.probability < threshold
    ]


def _floats(values: Sequence[Any]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _sigmoid(x: float | np.ndarray) -> float | np.ndarray:
    # Split by sign so that large |x| never overflows exp.
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out if out.ndim else float(out)


def _is_finite(values: Sequence[float]) -> bool:
    return all(math.isfinite(v) for v in values)
