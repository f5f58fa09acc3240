"""What `preannotate calibrate` prints: the chunks it fitted on, and each flag's figures on them."""

from __future__ import annotations

from typing import Any

from .calibrate_choice import SELECTION, WITH_CHECK


def calibration_summary(calibration: Any, runs: int) -> str:
    """What `preannotate calibrate` prints: the chunks used, and each model's flags on them.

    Args:
        calibration: A `calibrate_model.Calibration`.
        runs: How many runs it was fitted on.
    """
    rows = calibration.rows
    lines = [f"fitted on {rows['chunks']} chunk(s) from {runs} run(s), {rows['with_error']} with errors"]
    if rows["left_out"]:
        lines[0] += f" ({rows['left_out']} left out: no chunks.jsonl record or measured WER)"
    if rows.get("checked"):
        unread = "" if rows["checked"] == rows["chunks"] else " (not all: no candidate reads the check)"
        lines.append(f"{rows['checked']} of them checked by a second model{unread}")
    lines += ["", f"needs_review on chunks with errors (candidates: 5-fold cross-validation {calibration.folds}):"]
    lines.append(f"  {'flags':<34}{'flagged':>8}{'precision':>11}{'recall':>8}{'AUC':>7}  recall, 95% interval")
    names = {
        "uploaded": "as uploaded",
        "shipped": "shipped model",
        "refitted": "refitted (held out)",
        "recalibrated": "shipped, recalibrated (held out)",
        "refitted" + WITH_CHECK: "refitted with the check (held out)",
        "recalibrated" + WITH_CHECK: "shipped checked, recalibrated (held out)",
    }
    for key, name in names.items():
        if key.endswith(WITH_CHECK) and key not in calibration.metrics:
            continue  # drafts without a check have no such candidates
        written = "  <- written" if key == calibration.method else ""
        lines.append(_row(name, calibration.metrics.get(key), written))
    selection = calibration.metrics.get(SELECTION)
    if selection is not None:  # a choice among candidates: its winner's own figures flatter it
        lines += ["", "what to expect of the model written (the choice among the candidates held out too):"]
        lines.append(_row("chosen in each fold (nested)", selection if "flagged" in selection else None, ""))
        chosen = selection.get("chosen") or {}
        picked = ", ".join(f"{name} {times}" for name, times in chosen.items())
        lines.append(
            f"  {'':<34}chosen in {sum(chosen.values())} folds: {picked}" if chosen else f"  {selection['reason']}"
        )
        lines += _ranks_worse(calibration.metrics.get("shipped"), selection)
    return "\n".join(lines)


def _ranks_worse(shipped: dict | None, selection: dict) -> list[str]:
    """A note when the shipped models, which never saw these chunks, rank them better than the choice held out."""
    if not shipped or shipped.get("auc") is None or selection.get("auc") is None or selection["auc"] >= shipped["auc"]:
        return []
    return [
        f"  The shipped models rank these chunks better (AUC {shipped['auc']:.2f}) than the choice held out "
        f"({selection['auc']:.2f}): what the model written gains is its threshold, not its ranking; more "
        "corrections make a refit worth more."
    ]


def _row(name: str, m: dict | None, written: str) -> str:
    auc = "" if m is None or m.get("auc") is None else f"{m['auc']:.2f}"
    cells = ("n/a",) * 4 if m is None else (m["flagged"], _share(m["precision"]), _share(m["recall"]), _span(m))
    return f"  {name:<34}{cells[0]:>8}{cells[1]:>11}{cells[2]:>8}{auc:>7}  {cells[3]}{written}"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _span(metrics: dict) -> str:
    """The recall's 95% interval: with a few dozen chunks with errors, one chunk moves recall by points."""
    pair = metrics.get("recall_95")
    return "n/a" if not pair else f"{_share(pair[0])} to {_share(pair[1])}"
