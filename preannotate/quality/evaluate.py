"""Scoring a review model on chunks whose errors are known.

A row is a chunk's features and its measured WER: the same pairs the model is fitted on,
whether they come from espeak-ng speech with known text (tools/fit_review_model.py), a
benchmark's reference transcripts, or a team's pulled corrections.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..chunking import Chunk
from .features import chunk_features
from .labels import ChunkLabel, Normalizer, Sentence, english_normalizer, label_chunks
from .model import ReviewModel

Row = tuple[Mapping[str, float], float]

#: How the speech with known text is transcribed, for fitting (tools/fit_review_model.py) and for scoring
#: (benchmarks/review_model.py) alike: a model is only measured on drafts decoded the way it was fitted on.
MEASURED_RUN_OVERRIDES = (
    "model.engine=faster-whisper",
    "model.device=cpu",
    "transcribe.beam_size=5",
    "transcribe.language=en",
    "superannotate.dry_run=true",
)


#: What needs_review should reach on speech with known errors (issue 12): this recall of the chunks with an
#: error at this precision or better. The benchmark checks the shipped model against it; `report` compares a
#: team's own corrections with it.
TARGET_RECALL, TARGET_PRECISION = 0.8, 0.6


@dataclass(frozen=True)
class FlagMetrics:
    """How well a flag finds the chunks that contain an error."""

    chunks: int
    with_error: int
    flagged: int
    true_positives: int

    @property
    def recall(self) -> float | None:
        """Share of the chunks with an error that are flagged; None without such chunks."""
        return self.true_positives / self.with_error if self.with_error else None

    @property
    def precision(self) -> float | None:
        """Share of the flagged chunks that contain an error; None when nothing is flagged."""
        return self.true_positives / self.flagged if self.flagged else None

    @property
    def recall_interval(self) -> tuple[float, float] | None:
        """95% Wilson interval of the recall: on a few dozen chunks one chunk moves it by several points."""
        return proportion_interval(self.true_positives, self.with_error)

    @property
    def precision_interval(self) -> tuple[float, float] | None:
        """95% Wilson interval of the precision; None when nothing is flagged."""
        return proportion_interval(self.true_positives, self.flagged)

    def to_dict(self) -> dict[str, Any]:
        """Counts with recall and precision (and their 95% intervals) rounded to 3 places."""
        return {
            "chunks": self.chunks,
            "with_error": self.with_error,
            "flagged": self.flagged,
            "true_positives": self.true_positives,
            "recall": _round(self.recall),
            "precision": _round(self.precision),
            "recall_95": _round_pair(self.recall_interval),
            "precision_95": _round_pair(self.precision_interval),
        }


def proportion_interval(hits: int, total: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval of a share (scipy's binomial test), which stays inside [0, 1] on small counts.

    Args:
        hits: How many of the total count.
        total: The number of trials; 0 gives None.
        confidence: The interval's confidence level.

    Returns:
        (low, high), or None when there is nothing to count.
    """
    if total <= 0:
        return None
    from scipy.stats import binomtest

    found = binomtest(hits, total).proportion_ci(confidence_level=confidence, method="wilson")
    return float(found.low), float(found.high)


def flag_metrics(has_error: Iterable[bool], flagged: Iterable[bool]) -> FlagMetrics:
    """Counts a flag's hits against the chunks that really contain an error."""
    pairs = list(zip(has_error, flagged, strict=True))
    return FlagMetrics(
        chunks=len(pairs),
        with_error=sum(bool(e) for e, _ in pairs),
        flagged=sum(bool(f) for _, f in pairs),
        true_positives=sum(bool(e) and bool(f) for e, f in pairs),
    )


def chunk_rows(
    chunks: Sequence[Chunk],
    transcript_duration: float,
    reference: str | Sequence[Sentence],
    normalize: Normalizer | None = None,
) -> tuple[list[Row], list[ChunkLabel]]:
    """Features and measured WER of one file's chunks, from its reference text.

    Args:
        chunks: The file's chunks in time order.
        transcript_duration: Seconds of the file.
        reference: Its reference text, or sentences with their spans.
        normalize: Text normalizer; None uses Whisper's English one.

    Returns:
        A (features, measured WER) row per chunk, and the labels behind them.
    """
    labels, _ = label_chunks(chunks, reference, normalize or english_normalizer())
    rows: list[Row] = [(chunk_features(c, transcript_duration), label.wer) for c, label in zip(chunks, labels)]
    return rows, labels


def measured_rows(
    chunks: Sequence[Chunk], transcript_duration: float, measured_wer: Mapping[int, float | None]
) -> list[Row]:
    """Rows for refitting from WER measured elsewhere (a team's pulled corrections).

    Args:
        chunks: One file's draft chunks, as chunked for upload.
        transcript_duration: Seconds of the file.
        measured_wer: Chunk index -> its measured WER; None (no reference words) is left out.

    Returns:
        A (features, WER) row per chunk with a measured WER.
    """
    return [
        (chunk_features(chunks[i], transcript_duration), float(wer))
        for i, wer in sorted(measured_wer.items())
        if wer is not None and 0 <= i < len(chunks)
    ]


def evaluate_review_model(model: ReviewModel, rows: Iterable[Row]) -> dict[str, Any]:
    """Scores the model's needs_review flag and predicted WER on rows with measured WER.

    Args:
        model: The review model.
        rows: (features, measured WER) pairs.

    Returns:
        The flag's counts, recall and precision (a chunk with any error is a positive), the ranking's
        AUC, and the mean predicted and measured WER with the mean absolute error between them.
    """
    rows = list(rows)
    predicted = np.array([model.predict_wer(f) for f, _ in rows])
    measured = np.clip(np.array([w for _, w in rows], dtype=float), 0.0, 1.0)
    metrics = flag_metrics(measured > 0, predicted > model.threshold).to_dict()
    return {
        **metrics,
        "auc": _round(ranking_auc(predicted, measured > 0)),
        "mean_measured_wer": _round(float(measured.mean())) if rows else None,
        "mean_predicted_wer": _round(float(predicted.mean())) if rows else None,
        "wer_mae": _round(float(np.abs(predicted - measured).mean())) if rows else None,
    }


def ranking_auc(scores: npt.ArrayLike, positive: npt.ArrayLike) -> float | None:
    """Probability that a random positive scores above a random negative (ties count half)."""
    values, is_positive = np.asarray(scores, dtype=float), np.asarray(positive, dtype=bool)
    pos, neg = values[is_positive], values[~is_positive]
    if not pos.size or not neg.size:
        return None
    above = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(above / (pos.size * neg.size))


def _round_pair(pair: tuple[float, float] | None) -> list[float] | None:
    return None if pair is None else [round(pair[0], 3), round(pair[1], 3)]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
