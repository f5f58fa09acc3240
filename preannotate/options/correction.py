"""Options for pulling corrections, comparing them and exporting the dataset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .base import ALWAYS, check, option, section
from .upload import SUPERANNOTATE_STATUSES


@dataclass(frozen=True)
class EffortOptions:
    """Assumptions of the annotator-time estimate in the correction report (`correction/effort.py`).

    Defaults come from published measurements: Gaur et al. (W4A 2016) found that transcribing from
    scratch can take more than 5 times the audio's duration and that post-editing ASR output beats
    typing only below about 30% WER; Bazillon et al. (LREC 2008) found assisted transcription up to
    4 times faster than manual on prepared speech (about 2 times on spontaneous speech).
    """

    manual_rtf: float = option(
        5.0,
        "Seconds of work per second of audio to transcribe from scratch (Gaur et al.: over 5).",
    )
    manual_rtf_low: float = option(4.0, "Low end of the range of manual_rtf, for the low estimate.")
    manual_rtf_high: float = option(8.0, "High end of the range of manual_rtf, for the high estimate.")
    review_rtf: float = option(
        1.25,
        "Seconds per second of audio to listen to and check a draft, edits aside: manual_rtf / 4, Bazillon et al.'s "
        "largest speed-up, taken as the speed-up of a draft without errors.",
    )
    break_even_wer: float = option(
        0.3,
        "WER at which post-editing takes as long as typing from scratch (Gaur et al.: 0.3).",
    )
    seconds_per_edit: float | None = option(
        None,
        "Seconds per word edit (substitution, deletion or insertion); null derives it so that post-editing breaks even"
        " at break_even_wer at the run's own speaking rate.",
    )
    seconds_per_segment_edit: float | None = option(
        None,
        "Seconds per boundary edit (a chunk retimed, added, removed, split or merged, a stretch re-segmented); "
        "null uses seconds_per_edit. No published figure: an assumption.",
    )
    words_per_second: float | None = option(
        None,
        "Speaking rate for deriving seconds_per_edit; null measures it from the run (corrected words over audio "
        "seconds of the items with drafts).",
    )

    def validate(self) -> None:
        """Raises ConfigError when an assumption is out of range."""
        prefix = "correction.effort"
        check(self.manual_rtf_low > 0, f"{prefix}.manual_rtf_low must be > 0")
        check(
            self.manual_rtf_low <= self.manual_rtf <= self.manual_rtf_high,
            f"{prefix}.manual_rtf must lie in [manual_rtf_low, manual_rtf_high]",
        )
        check(0 <= self.review_rtf < self.manual_rtf_low, f"{prefix}.review_rtf must be in [0, manual_rtf_low)")
        check(0 < self.break_even_wer <= 1, f"{prefix}.break_even_wer must be in (0, 1]")
        for name in ("seconds_per_edit", "seconds_per_segment_edit"):
            value = getattr(self, name)
            check(value is None or value >= 0, f"{prefix}.{name} must be >= 0 (or null)")
        check(self.words_per_second is None or self.words_per_second > 0, f"{prefix}.words_per_second must be > 0")


@dataclass(frozen=True)
class CorrectionOptions:
    """Pulling annotators' corrections and comparing them with the uploaded drafts."""

    statuses: tuple[str, ...] = option(
        (),
        "Pull only items in these SuperAnnotate statuses (for example `[Completed]`); empty pulls all.",
    )
    compare_statuses: tuple[str, ...] = option(
        ("Completed",),
        "`report` and `calibrate` compare only pulled items in these SuperAnnotate statuses: an item still "
        "NotStarted or InProgress may be untouched, and would count as a perfect draft; empty compares every "
        "pulled item.",
    )
    min_overlap: float = option(
        0.5,
        "A corrected event and a draft chunk belong together when their overlap covers at least this share of the "
        "shorter of the two.",
    )
    boundary_tolerance_ms: float = option(10.0, "Boundary moves up to this many milliseconds still count as untouched.")
    changed: Literal["text", "any"] = option(
        "text",
        "What counts as a changed chunk when scoring `needs_review`: `text` (its words changed after normalization, or"
        " it was deleted) or `any` (anything an annotator did: text, boundaries, splits).",
    )
    language: str | None = option(
        None,
        "Language of the text normalizer; null: each item's detected language. `en` uses Whisper's English "
        "normalizer, others its basic one.",
    )
    calibration: Literal["auto", "refit", "recalibrate"] = option(
        "auto",
        "What `preannotate calibrate` writes: `refit` fits every coefficient of the review model on the corrections, "
        "`recalibrate` keeps the shipped model's score and fits only its mapping to WER and its threshold (steadier "
        "on a few hundred chunks), `auto` the one that ranks held-out items' chunks better.",
    )
    effort: EffortOptions = section(
        EffortOptions,
        "Assumptions of the report's estimate of annotator time saved.",
    )

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range."""
        unknown = [s for s in self.statuses if s not in SUPERANNOTATE_STATUSES]
        check(not unknown, f"correction.statuses must be among {', '.join(SUPERANNOTATE_STATUSES)}, got {unknown}")
        unknown = [s for s in self.compare_statuses if s not in SUPERANNOTATE_STATUSES]
        check(
            not unknown,
            f"correction.compare_statuses must be among {', '.join(SUPERANNOTATE_STATUSES)}, got {unknown}",
        )
        check(0.0 < self.min_overlap <= 1.0, "correction.min_overlap must be in (0, 1]")
        check(self.boundary_tolerance_ms >= 0, "correction.boundary_tolerance_ms must be >= 0")
        self.effort.validate()


DATASET_FORMATS = ("audiofolder", "nemo", "csv")


@dataclass(frozen=True)
class DatasetExportOptions:
    """Exporting the corrected dataset (`preannotate export`)."""

    dir: str | None = option(
        None,
        "Destination folder; `<output.dir>/dataset` when null. Replaced as a whole when the export is done.",
        path=ALWAYS,
    )
    formats: tuple[str, ...] = option(
        DATASET_FORMATS,
        "Any of `audiofolder` (clips plus metadata.jsonl for Hugging Face datasets), `nemo` (a JSON lines manifest) "
        "and `csv` (every segment with item, times, text and status).",
    )
    only_completed: bool = option(True, "Export only items whose SuperAnnotate status is Completed.")
    min_duration: float = option(0.1, "Segments shorter than this (seconds) are left out of the clips and manifest.")
    max_duration: float | None = option(
        30.0,
        "Segments longer than this are left out (30 s is Whisper's window); null keeps all.",
    )
    sample_rate: int = option(16_000, "Sample rate of the clips in Hz (audio is decoded at 16 kHz, then resampled).")
    audio_format: Literal["wav", "flac"] = option("wav", "`wav` (16-bit PCM) or `flac`.")

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range."""
        unknown = [f for f in self.formats if f not in DATASET_FORMATS]
        check(not unknown, f"dataset.formats must be among {', '.join(DATASET_FORMATS)}, got {unknown}")
        check(bool(self.formats), "dataset.formats must name at least one format")
        check(self.min_duration >= 0, "dataset.min_duration must be >= 0")
        check(
            self.max_duration is None or self.max_duration > self.min_duration,
            "dataset.max_duration must be above min_duration (or null)",
        )
        check(8_000 <= self.sample_rate <= 192_000, "dataset.sample_rate must be in [8000, 192000]")
