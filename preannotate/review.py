"""The review model's verdict applied to chunks: predicted WER, doubtful words, review flags.

Chunking stays a pure function of the transcript (`preannotate.quality` imports
`chunking`, never the reverse); this module runs after it. A chunk needs review when its
predicted WER is above the threshold OR a rule of `chunking.review_reasons` fires (those
catch catastrophic failures the model may not have seen: hallucinated silence, loops).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from .chunking import DOUBTFUL_WORDS, PREDICTED_WER, RULE_REASONS, Chunk
from .errors import ConfigError
from .options import AnnotationOptions
from .quality import ReviewModel, assess_chunk, default_model
from .quality.crosscheck import CheckWord, Unconfirmed, unconfirmed, unconfirmed_words
from .quality.model import (
    CHECK_FEATURE,
    SLOWED_FEATURE,
    DoubtfulWord,
    checked_model,
    english_model,
    languages_model,
    slowed_model,
)
from .quality.rivals import shipped_rivals

Scored = tuple[ReviewModel, float]  # a model and the predicted WER above which a chunk needs review


@dataclass(frozen=True)
class Reviewer:
    """A review model and the predicted WER above which a chunk needs review.

    Attributes:
        model: The review model.
        threshold: Predicted WER above which a chunk needs review.
        checked: The model for files a second model checked (fitted with `unconfirmed_words`), with its
            threshold; None assesses them with `model` (a team's own model, fitted without checks).
        slowed: The model for checked files whose draft model also decoded them slowed down (fitted with
            `unstable_words` too), with its threshold; None assesses them with `checked`.
        english: The model for English files without a check (fitted with `lm_rival`), with its threshold;
            None assesses them with `model`.
        languages: The model for files in another language than English without a check (calibrated on real
            speech in other languages), with its threshold; None assesses them with `model`.
    """

    model: ReviewModel
    threshold: float
    checked: Scored | None = None
    slowed: Scored | None = None
    english: Scored | None = None
    languages: Scored | None = None

    @classmethod
    def default(cls) -> Reviewer:
        """The shipped models with their own thresholds (the default annotation options)."""
        return cls.from_options(AnnotationOptions())

    @classmethod
    def from_options(cls, options: AnnotationOptions) -> Reviewer:
        """The model and threshold `annotation.review_model` and `review_threshold` ask for.

        Raises:
            ConfigError: The model file is missing or not a review model, or it reads `lm_rival` (calibrated on
                English corrections) and the language model cannot be loaded.
        """
        try:
            model = default_model() if options.review_model is None else ReviewModel.load(options.review_model)
        except (OSError, ValueError) as e:  # JSONDecodeError is a ValueError
            raise ConfigError(f"annotation.review_model {options.review_model!r} cannot be loaded: {e}") from e

        def scored(m: ReviewModel) -> Scored:
            return m, m.threshold if options.review_threshold is None else options.review_threshold

        if options.review_model is not None:
            return cls._team(model, options, scored)
        english, languages = scored(english_model()), scored(languages_model())
        if options.cross_check is None:
            return cls(*scored(model), english=english, languages=languages)
        slowed = scored(slowed_model()) if options.slowed_check else None
        return cls(*scored(model), scored(checked_model()), slowed, english, languages)

    @classmethod
    def _team(cls, model: ReviewModel, options: AnnotationOptions, scored: Callable[[ReviewModel], Scored]) -> Reviewer:
        """A team's own model: it assesses every file, or only those like the drafts it was calibrated on.

        Calibrated on checked drafts, it assesses the checked files: those without a check (its failure, a
        language the check model does not know) keep the shipped models. Calibrated on English corrections (it
        reads `lm_rival`), it assesses the English files: other languages keep the shipped ones.
        """
        name = options.review_model
        languages = scored(languages_model())
        if "lm_rival" in model.features and shipped_rivals() is None:  # calibrated on English corrections
            raise ConfigError(
                f"annotation.review_model {name!r} reads lm_rival, but the language model it needs cannot be loaded"
                " (see the warning): reinstall pocketsphinx"
            )
        if CHECK_FEATURE not in model.features:
            if "lm_rival" in model.features:  # English words' rivals: meaningless in another language
                return cls(*scored(default_model()), english=scored(model), languages=languages)
            return cls(*scored(model))
        if options.cross_check is None:
            raise ConfigError(
                f"annotation.review_model {name!r} was calibrated on checked drafts (it reads the words a check model"
                " heard otherwise), but annotation.cross_check is null: set it (auto) or use another model"
            )
        english = scored(english_model())
        if SLOWED_FEATURE not in model.features:
            return cls(*scored(default_model()), scored(model), english=english, languages=languages)
        if not options.slowed_check:
            raise ConfigError(
                f"annotation.review_model {name!r} was calibrated on drafts with a slowed decode (it reads its words),"
                " but annotation.slowed_check is false: set it to true or use another model"
            )
        return cls(*scored(default_model()), scored(checked_model()), scored(model), english, languages)

    def assess(
        self,
        chunks: Sequence[Chunk],
        transcript_duration: float,
        check: Sequence[CheckWord] | None = None,
        slowed: Sequence[CheckWord] | None = None,
        language: str | None = None,
    ) -> list[Chunk]:
        """The chunks with predicted WER, doubtful words and review flags filled in.

        Args:
            chunks: One file's chunks, from `chunk_transcript`.
            transcript_duration: Seconds of the file (the model's edge features need it).
            check: A second model's words for the file; None (or no `checked` model) assesses without.
            slowed: The draft model's words for the file slowed down (at the file's times); None (or no
                `slowed` model) assesses with the check alone.
            language: The transcript's language code; "en" assesses an unchecked file with the `english` model
                (when its language model loads: `rivals.shipped_rivals`), another code with `languages`.

        Returns:
            New chunks; `review_reason` keeps the rules' reasons and adds `predicted_wer` when
            the predicted WER is above the threshold, and `doubtful_words` when a flagged chunk
            has doubtful words to look at.
        """
        if check is None or self.checked is None:
            model, threshold = self._unchecked(language)
            return [self._assess(chunk, transcript_duration, model, threshold) for chunk in chunks]
        if slowed is None or self.slowed is None:
            model, threshold = self.checked
            return [self._assess(c, transcript_duration, model, threshold, unconfirmed(c, check)) for c in chunks]
        model, threshold = self.slowed
        return [
            self._assess(c, transcript_duration, model, threshold, unconfirmed(c, check), unconfirmed_words(c, slowed))
            for c in chunks
        ]

    def _unchecked(self, language: str | None) -> Scored:
        """The model for a file without a check: by its language, review_model.json's when none fits."""
        if language == "en":
            return self.english if self.english and shipped_rivals() is not None else (self.model, self.threshold)
        return self.languages if self.languages and language else (self.model, self.threshold)

    def _assess(
        self,
        chunk: Chunk,
        transcript_duration: float,
        model: ReviewModel,
        threshold: float,
        check: Unconfirmed | None = None,
        unstable: int = 0,
    ) -> Chunk:
        verdict = assess_chunk(chunk, transcript_duration, model, check.number if check else 0, unstable)
        rules = [r for r in chunk.review_reason.split(";") if r in RULE_REASONS]
        reasons = [*rules, PREDICTED_WER] if verdict.predicted_wer > threshold else rules
        doubtful = _doubtful(chunk, verdict.doubtful_words, check.words if check else frozenset())
        if reasons and doubtful:
            reasons.append(DOUBTFUL_WORDS)
        return replace(
            chunk,
            predicted_wer=verdict.predicted_wer,
            doubtful_words=doubtful,
            needs_review=bool(reasons),
            review_reason=";".join(reasons),
        )


def reads_check(options: AnnotationOptions) -> bool:
    """Whether drafts are assessed with a check model's words when one is made (`annotation.cross_check`).

    The shipped models do; a team's own model only when calibrated on checked drafts. A model file that cannot be
    loaded reads nothing here: `Reviewer.from_options` names it and the problem before any work.
    """
    return options.review_model is None or CHECK_FEATURE in _team_features(options.review_model)


def assesses_every_file(options: AnnotationOptions) -> bool:
    """Whether a team's own model assesses every file (`Reviewer._team`); False for the shipped models."""
    features = () if options.review_model is None else _team_features(options.review_model)
    return options.review_model is not None and not {CHECK_FEATURE, "lm_rival"} & set(features)


def reads_slowed(options: AnnotationOptions) -> bool:
    """Whether checked drafts are assessed with the slowed decode's words too (`annotation.slowed_check`)."""
    if not options.slowed_check:
        return False
    return options.review_model is None or SLOWED_FEATURE in _team_features(options.review_model)


def _team_features(path: str) -> tuple[str, ...]:
    """The features a team's model file reads; none when it cannot be loaded.

    Read each time: calibrate may have rewritten it since (a notebook runs both in one process).
    """
    try:
        return ReviewModel.load(path).features
    except (OSError, ValueError, KeyError, TypeError):
        return ()


def _doubtful(
    chunk: Chunk, unsure: Sequence[DoubtfulWord], heard_otherwise: frozenset[int]
) -> tuple[tuple[int, str, float], ...]:
    """The words under the word threshold and those the check heard otherwise, in order, with probabilities.

    On held-out espeak-ng speech, base's words heard otherwise by tiny.en held 81% of its wrong words at 56%
    precision, its words under the threshold 74% at 55%: together 91% at 49% (quality/README.md).
    """
    listed = {d.index: (d.index, d.word, round(d.probability, 4)) for d in unsure}
    for i in heard_otherwise - listed.keys():
        word = chunk.words[i]
        listed[i] = (i, word.word.strip(), round(word.probability, 4))
    return tuple(listed[i] for i in sorted(listed))


def item_predicted_wer(chunks: Sequence[Chunk]) -> float | None:
    """An item's expected WER: its chunks' predicted WERs weighted by their word counts.

    WER is errors over reference words, so the expected errors of the chunks (WER times words)
    summed over the item's words is the item's WER; a duration weighting would let slow speech
    count for more than it weighs in the metric. None when no chunk has a prediction.
    """
    scored = [(c.predicted_wer, _word_count(c)) for c in chunks if c.predicted_wer is not None]
    words = sum(n for _, n in scored)
    if not words:
        return None
    return round(sum(wer * n for wer, n in scored) / words, 4)


def review_share(chunks: Sequence[Chunk]) -> float | None:
    """Share of an item's chunks that need review; None without chunks."""
    return round(sum(c.needs_review for c in chunks) / len(chunks), 4) if chunks else None


def _word_count(chunk: Chunk) -> int:
    words = sum(1 for w in chunk.words if w.word.strip())
    return words or max(len(chunk.text.split()), 1)
