"""What `report` says about the review flags when the team's own corrections show them missing the target.

The shipped review model is fitted on synthetic speech; on real recordings it can find far fewer of the chunks
annotators change (README, "Review flags": recall 0.26 to 0.67 on the benchmark's real speech). The corrections
a report compares are the evidence a refit needs, so the report points to `preannotate calibrate` once they
show a miss and are enough to fit on; with fewer it says nothing, since a handful of chunks proves neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..quality.evaluate import TARGET_PRECISION, TARGET_RECALL
from .calibrate_choice import MIN_PER_CLASS


def review_advice(summary: Mapping[str, Any], run_dir: str) -> str | None:
    """A sentence advising calibrate when needs_review missed the target on these corrections, else None.

    Args:
        summary: The run's comparison totals (`CorrectionResult.summary`: `review_tp`, `review_fp`,
            `review_fn`, `review_tn`).
        run_dir: The run's output folder, for the command shown.

    Returns:
        None when the flags met the target, or when there are fewer than calibrate's minimum of changed or
        unchanged flagged chunks (too few to judge the flags or to refit them).
    """
    tp, fp, fn, tn = (int(summary.get(f"review_{k}") or 0) for k in ("tp", "fp", "fn", "tn"))
    changed, unchanged = tp + fn, fp + tn
    if min(changed, unchanged) < MIN_PER_CLASS:
        return None
    recall, precision = tp / changed, tp / (tp + fp) if tp + fp else 0.0
    if recall >= TARGET_RECALL and precision >= TARGET_PRECISION:
        return None
    return (
        f"needs_review flagged {tp} of the {changed} changed chunks (recall {recall:.2f}) at precision "
        f"{precision:.2f}, under the target of recall {TARGET_RECALL} at precision {TARGET_PRECISION}. "
        f"`preannotate calibrate -o {run_dir}` refits the flags on these corrections (it keeps whichever of a "
        "refit and the shipped model recalibrated ranks held-out items better) and prints the "
        "`--set annotation.review_model=...` that uses it in the next runs."
    )
