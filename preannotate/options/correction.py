"""Options for pulling corrections, comparing them and exporting the dataset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .base import check
from .upload import SUPERANNOTATE_STATUSES


@dataclass(frozen=True)
class CorrectionOptions:
    """Pulling annotators' corrections and comparing them with the uploaded drafts.

    Attributes:
        statuses: Pull only items in these SuperAnnotate statuses (for example `[Completed]`); empty pulls all.
        min_overlap: A corrected event and a draft chunk belong together when their overlap covers at least
            this share of the shorter of the two.
        boundary_tolerance_ms: Boundary moves up to this many milliseconds still count as untouched.
        changed: What counts as a changed chunk when scoring `needs_review`: `text` (its words changed after
            normalization, or it was deleted) or `any` (anything an annotator did: text, boundaries, splits).
        language: Language code choosing the text normalizer (`en`: Whisper's English normalizer, others:
            its basic one); None uses each item's detected language.
    """

    statuses: tuple[str, ...] = ()
    min_overlap: float = 0.5
    boundary_tolerance_ms: float = 10.0
    changed: Literal["text", "any"] = "text"
    language: str | None = None

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range."""
        unknown = [s for s in self.statuses if s not in SUPERANNOTATE_STATUSES]
        check(not unknown, f"correction.statuses must be among {', '.join(SUPERANNOTATE_STATUSES)}, got {unknown}")
        check(0.0 < self.min_overlap <= 1.0, "correction.min_overlap must be in (0, 1]")
        check(self.boundary_tolerance_ms >= 0, "correction.boundary_tolerance_ms must be >= 0")


DATASET_FORMATS = ("audiofolder", "nemo", "csv")


@dataclass(frozen=True)
class DatasetExportOptions:
    """Exporting the corrected dataset (`preannotate export`).

    Attributes:
        dir: Destination folder; `<output.dir>/dataset` when None. Replaced as a whole when the export is done.
        formats: Any of `audiofolder` (clips plus metadata.csv for Hugging Face datasets), `nemo` (a JSON lines
            manifest) and `csv` (every segment with item, times, text and status).
        only_completed: Export only items whose SuperAnnotate status is Completed.
        min_duration: Segments shorter than this (seconds) are left out of the clips and manifest.
        max_duration: Segments longer than this are left out (30 s is Whisper's window); None keeps all.
        sample_rate: Sample rate of the clips in Hz (audio is decoded at 16 kHz, then resampled).
        audio_format: `wav` (16-bit PCM) or `flac`.
    """

    dir: str | None = None
    formats: tuple[str, ...] = DATASET_FORMATS
    only_completed: bool = True
    min_duration: float = 0.1
    max_duration: float | None = 30.0
    sample_rate: int = 16_000
    audio_format: Literal["wav", "flac"] = "wav"

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
