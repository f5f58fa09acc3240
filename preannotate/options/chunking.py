"""Options for turning transcripts into chunks, and naming them in SuperAnnotate JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .base import ALWAYS, check, option


@dataclass(frozen=True)
class ChunkingOptions:
    """How transcripts become annotation units (chunks), and which chunks are flagged for review.

    The defaults are what annotators should get: boundaries from word timestamps
    with Whisper's stretched edge words trimmed, every pause longer than
    `gap_threshold` split, chunks of at most `max_duration` cut at sentence ends
    where possible.
    """

    policy: Literal["regroup", "segments"] = option(
        "regroup",
        "`regroup` or `segments`. `regroup`: words (or segments when there are no word timestamps) regrouped under "
        "the limits below; `segments`: the model's segments, only made consistent.",
    )
    max_duration: float = option(
        10.0,
        "Longest chunk in seconds; longer speech is cut at the best word boundary. A single word longer than this "
        "stays one chunk.",
    )
    min_duration: float = option(
        1.0,
        "Chunks shorter than this are avoided when a pause or the maximum does not force them.",
    )
    max_chars: int = option(200, "Longest chunk text in characters (a single longer word stays one chunk).")
    gap_threshold: float = option(1.0, "A silence between words longer than this (seconds) always ends a chunk.")
    padding_before: float = option(
        0.1,
        "Seconds added before each chunk, taken only from silence. Never past half the gap to the previous chunk, nor "
        "before 0: Whisper's word starts tend to come late (measured: +0.1 s on average), so a little padding keeps "
        "the first syllable audible.",
    )
    padding_after: float = option(
        0.0,
        "The same after each chunk, never past half the gap to the next one nor the end.",
    )
    word_stretch: float | None = option(
        1.2,
        "A word at a pause or a sentence or segment edge may last at most this many times its expected length (its "
        "letters times the file's median seconds per letter); longer ones are cut on the side of the pause, because "
        "Whisper stretches such words over the silence. null keeps Whisper's word times.",
    )
    review_mean_word_probability: float | None = option(0.5, "Flag chunks whose mean word probability is below this.")
    review_min_word_probability: float | None = option(
        0.1,
        "Flag chunks with any word probability below this. A word under 0.1 is nearly always wrong, yet in a long "
        "chunk the review model's predicted WER can stay under its threshold: this rule flags such a chunk anyway.",
    )
    review_avg_logprob: float | None = option(
        -1.0,
        "Flag chunks whose (duration-weighted) average log probability is below this.",
    )
    review_no_speech_prob: float | None = option(
        0.8,
        "Flag chunks whose no-speech probability is above this. Whisper reports it per 30-s window, shared by every "
        "segment decoded in it, and 0.6 to 0.7 is common on clear speech: the default only flags stronger evidence "
        "(hallucinated text in silence measured 0.94).",
    )
    review_compression_ratio: float | None = option(
        2.4,
        "Flag chunks whose gzip compression ratio is above this (repetitions).",
    )
    review_fallback_temperature: bool = option(
        True,
        "Flag chunks decoded at a temperature above 0 (Whisper fell back).",
    )

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range."""
        check(self.max_duration > 0, "chunking.max_duration must be > 0")
        check(0 <= self.min_duration <= self.max_duration, "chunking.min_duration must be in [0, max_duration]")
        check(self.max_chars >= 1, "chunking.max_chars must be >= 1")
        check(self.gap_threshold > 0, "chunking.gap_threshold must be > 0")
        check(self.padding_before >= 0, "chunking.padding_before must be >= 0")
        check(self.padding_after >= 0, "chunking.padding_after must be >= 0")
        check(self.word_stretch is None or self.word_stretch >= 1, "chunking.word_stretch must be >= 1 or null")
        for name in ("review_mean_word_probability", "review_min_word_probability", "review_no_speech_prob"):
            value = getattr(self, name)
            check(value is None or 0.0 <= value <= 1.0, f"chunking.{name} must be in [0, 1] or null")
        check(
            self.review_avg_logprob is None or self.review_avg_logprob <= 0, "chunking.review_avg_logprob must be <= 0"
        )
        check(
            self.review_compression_ratio is None or self.review_compression_ratio > 0,
            "chunking.review_compression_ratio must be > 0",
        )


@dataclass(frozen=True)
class AnnotationOptions:
    """Names used in the SuperAnnotate annotation JSON, and how chunks are judged and routed for annotators.

    These options only shape chunks and exports: changing them never transcribes a file again (`cross_check`
    transcribes each file once more with its own model, stored apart from the draft).
    """

    class_name: str = option("transcription", "The event class of every chunk.")
    class_color: str = option("#1F77B4", "The class colour, `#RRGGBB`.")
    text_group: str = option(
        "Content",
        "The free-text attribute group holding a chunk's text.",
    )
    review_group: str | None = option(
        "Review",
        "A single-choice group marking each chunk `needs_review` or `ok`; null leaves it out.",
    )
    reason_group: str | None = option(
        "Review reason",
        "A multiple-choice group holding the review reasons of a flagged chunk; null leaves it out.",
    )
    doubtful_group: str | None = option(
        "Doubtful words",
        "A free-text group listing a chunk's doubtful words with their probabilities, `word (p=0.05), other (p=0.31)`;"
        " null leaves it out.",
    )
    speaker_group: str | None = option(
        "Speaker",
        "A single-choice group holding each chunk's speaker, when the run has speakers (`speakers.mode`); its values "
        "are created with the class (the run's speakers, at least SPEAKER_01 to SPEAKER_08); null leaves it out.",
    )
    review_model: str | None = option(
        None,
        "Path to a review model JSON (`preannotate.quality`, as `preannotate calibrate` writes) predicting each "
        "chunk's WER, for every file; one calibrated on checked drafts assesses the checked files, one calibrated on "
        "English corrections the English ones, and the shipped models the others. null uses the ones shipped with "
        "preannotate (English files without a check: the one that also reads a language model's rival words, "
        "`review_model_english.json`).",
        path=ALWAYS,
    )
    cross_check: str | None = option(
        "auto",
        "A second Whisper model that transcribes each file again (faster-whisper, the draft's decoding options): the "
        "draft's words it hears otherwise raise the chunk's predicted WER, which finds the errors the draft model is "
        "sure of (the shipped review model has parameters fitted with it). `auto`: `bundled:tiny.en` on English files "
        "when the draft model is not tiny; a model name checks every file (an `.en` model English ones only); null: "
        "no check. Ignored with a `review_model` fitted without it. Its words heard otherwise are listed "
        "among the doubtful words. Costs 0.2 to 0.5 times the draft's time with base on faster-whisper (README).",
    )
    slowed_check: bool = option(
        True,
        "With a check (`cross_check`), the draft's own model (faster-whisper) also transcribes each checked file "
        "slowed to 0.9 speed: the draft's words it hears otherwise there are one more signal of the review model "
        "(`review_model_slowed.json`), which finds more of the errors both models make. Costs about the draft's "
        "time once more. false: the check model alone.",
    )
    review_threshold: float | None = option(
        None,
        "A chunk needs review when its predicted WER is above this; null uses the model's.",
    )
    draft_max_wer: float | None = option(
        0.3,
        "Items whose predicted WER is above this are uploaded with chunk boundaries but no text, to be transcribed "
        "from scratch: editing a draft only beats typing below about 30% WER (Gaur et al., W4A 2016). null uploads "
        "every item as a draft.",
    )
    mark_doubtful: bool = option(False, "Mark doubtful words in the SRT and VTT subtitles as `[word?]`.")

    def validate(self) -> None:
        """Raises ConfigError when a name is empty, repeated or the colour is malformed."""
        check(bool(self.class_name.strip()), "annotation.class_name must not be empty")
        check(bool(self.text_group.strip()), "annotation.text_group must not be empty")
        hex_digits = set("0123456789abcdefABCDEF")
        color = self.class_color
        check(
            len(color) == 7 and color[0] == "#" and set(color[1:]) <= hex_digits,
            f"annotation.class_color must look like '#1F77B4', got {color!r}",
        )
        names = (self.text_group, self.review_group, self.reason_group, self.doubtful_group, self.speaker_group)
        groups = [g for g in names if g is not None]
        check(all(g.strip() for g in groups), "annotation group names must not be empty (use null to leave one out)")
        check(len(set(groups)) == len(groups), "annotation.*_group names must differ")
        check(self.review_model is None or bool(self.review_model.strip()), "annotation.review_model must not be empty")
        check(self.cross_check is None or bool(self.cross_check.strip()), "annotation.cross_check must not be empty")
        for name in ("review_threshold", "draft_max_wer"):
            value = getattr(self, name)
            check(value is None or 0.0 <= value <= 1.0, f"annotation.{name} must be in [0, 1] or null")
