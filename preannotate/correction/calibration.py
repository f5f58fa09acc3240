"""Predicted against measured WER: whether the review model's number holds on this team's data.

Each draft chunk's `predicted_wer` (its quality record in chunks.jsonl/chunks.csv, written since
the review model exists) is binned, and the mean WER annotators' corrections measured for the
chunks of each bin is set beside the mean prediction. A chunk's measured WER is its group's (the
chunks and corrected events that belong together); a chunk annotators deleted counts as 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

# Bin edges of predicted WER: finer where most chunks and the review threshold lie.
BIN_EDGES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
COLUMNS = ["predicted_wer_bin", "chunks", "mean_predicted_wer", "mean_measured_wer", "share_with_error"]


def chunk_wer(ref_words: int, errors: int) -> float | None:
    """A group's measured WER for its chunks, capped at 1; a deleted group (no words left) with errors is 1."""
    if ref_words:
        return min(errors / ref_words, 1.0)
    return 1.0 if errors else None


def calibration_table(chunks: pd.DataFrame, edges: Sequence[float] = BIN_EDGES) -> pd.DataFrame:
    """Chunks with both a predicted and a measured WER, per bin of predicted WER.

    Args:
        chunks: Draft chunk rows with `predicted_wer` and `measured_wer` (either may be missing).
        edges: Increasing bin edges; the first bin includes its lower edge.

    Returns:
        One row per bin (also empty ones): its label, chunk count, mean predicted and measured WER
        and the share of its chunks with any error. Empty when no chunk has both numbers.
    """
    if not len(chunks) or not {"predicted_wer", "measured_wer"} <= set(chunks.columns):
        return pd.DataFrame(columns=COLUMNS)
    rows = chunks[["predicted_wer", "measured_wer"]].apply(pd.to_numeric, errors="coerce").dropna()
    if not len(rows):
        return pd.DataFrame(columns=COLUMNS)
    labels = [f"{lo:.2f}-{hi:.2f}" for lo, hi in zip(edges, edges[1:])]
    bins = pd.cut(rows["predicted_wer"].clip(edges[0], edges[-1]), list(edges), labels=labels, include_lowest=True)
    table = []
    for label in labels:
        inside = rows[bins == label]
        measured = inside["measured_wer"]
        table.append([label, len(inside), _mean(inside["predicted_wer"]), _mean(measured), _mean(measured > 0)])
    return pd.DataFrame(table, columns=COLUMNS)


def calibration_summary(table: pd.DataFrame) -> dict:
    """The table for summary.json: its rows, and the chunk-weighted mean gap (predicted - measured)."""
    rows = table.to_dict("records")
    filled = table[table["chunks"] > 0] if len(table) else table
    gap = None
    if len(filled):
        weights = filled["chunks"].to_numpy(dtype=float)
        diff = (filled["mean_predicted_wer"] - filled["mean_measured_wer"]).to_numpy(dtype=float)
        gap = float(np.average(diff, weights=weights))
    return {"chunks": int(table["chunks"].sum()) if len(table) else 0, "mean_gap": gap, "bins": rows}


def _mean(values: pd.Series) -> float | None:
    return float(values.mean()) if len(values) else None
