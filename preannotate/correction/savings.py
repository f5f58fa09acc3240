"""The report's evidence that drafts pay: hours saved (modelled), calibration, and the control arm (measured).

`evidence` gathers the three from a comparison; `evidence_json` is their summary.json part and
`evidence_sections` their report.html sections. The calibration table also goes to
`correction/calibration.csv` (written by `report.write_report`).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .arms import arms_table, compare_arms, item_edits
from .calibration import calibration_summary, calibration_table
from .compare import CorrectionResult
from .effort import estimate

EFFORT_LABELS = {
    "audio_hours": "audio hours compared",
    "items_draft": "items with drafts",
    "items_from_scratch": "items uploaded without text (predicted WER too high)",
    "items_control": "control arm items (no text)",
    "manual_hours": "hours to type everything from scratch (modelled)",
    "post_edit_hours": "hours as worked: post-editing drafts, typing the rest (modelled)",
    "hours_saved": "hours saved",
    "saved_per_audio_hour": "hours saved per audio hour",
    "saved_per_audio_hour_low": "low estimate (manual_rtf_low)",
    "saved_per_audio_hour_high": "high estimate (manual_rtf_high)",
}


@dataclass(frozen=True)
class Evidence:
    """The estimate of hours saved, the calibration table and the arms' comparison."""

    effort: dict[str, Any]
    calibration: pd.DataFrame
    arms: dict[str, Any]


def evidence(result: CorrectionResult, work_times: Mapping[str, float] | None = None) -> Evidence:
    """Computes the report's hours-saved, calibration and control-arm parts from a comparison."""
    edits = item_edits(result.items)
    arms = compare_arms(edits, work_times, result.options.get("draft_max_wer"))
    return Evidence(estimate(edits, result.effort), calibration_table(result.chunks), arms)


def evidence_json(found: Evidence) -> dict[str, Any]:
    """The summary.json keys `hours_saved`, `calibration` and `control_arm`."""
    calibration = calibration_summary(found.calibration)
    return {"hours_saved": found.effort, "calibration": calibration, "control_arm": found.arms}


def effort_table(effort: Mapping[str, Any]) -> pd.DataFrame:
    """The estimate as (measure, value) rows, for people."""
    rows = [(label, _fmt(effort.get(k))) for k, label in EFFORT_LABELS.items()]
    return pd.DataFrame(rows, columns=["measure", "value"])


def effort_line(effort: Mapping[str, Any]) -> str:
    """One line for the console: hours saved per audio hour with its range, or why there is none."""
    if effort.get("hours_saved") is None:
        return f"hours saved: not estimated ({effort.get('note')})"
    low, mid, high = _saved_range(effort)
    total = _fmt(effort["hours_saved"])
    return f"hours saved (estimate): {total} h, {mid} per audio hour (range {low} to {high}); see the report"


def _saved_range(effort: Mapping[str, Any]) -> tuple[str, str, str]:
    """Hours saved per audio hour: low, central and high, formatted, the lower first."""
    low, mid, high = (effort.get(f"saved_per_audio_hour{s}") for s in ("_low", "", "_high"))
    if low is not None and high is not None and low > high:  # drafts that cost time cost more at a higher rate
        low, high = high, low
    return _fmt(low), _fmt(mid), _fmt(high)


def evidence_sections(found: Evidence) -> list[tuple[str, str]]:
    """(title, HTML) of the hours-saved, calibration and control-arm sections."""
    return [
        ("Hours saved (estimate)", _effort_html(found.effort)),
        ("Calibration: predicted against measured WER", _calibration_html(found.calibration)),
        ("Control arm: drafts against typing from scratch", _arms_html(found.arms)),
    ]


def _effort_html(effort: Mapping[str, Any]) -> str:
    line = "<p>Not estimated: " + html.escape(effort["note"]) + ".</p>" if effort.get("hours_saved") is None else ""
    low, mid, high = _saved_range(effort)
    if not line:
        line = f"<p class='headline'>{mid} hours saved per audio hour (range {low} to {high}).</p>"
    assumptions = pd.DataFrame([(k, _fmt(v)) for k, v in effort["assumptions"].items()], columns=["name", "value"])
    sources = "".join(f"<li>{html.escape(s)}</li>" for s in effort["sources"])
    return (
        line
        + _table(effort_table(effort))
        + "<p>Model: from scratch = manual_rtf &times; audio seconds; post-editing = review_rtf &times; audio seconds"
        " + seconds_per_edit &times; word edits (S+D+I) + seconds_per_segment_edit &times; boundary edits (retimed,"
        " added, removed, split, merged, re-segmented). Items without text count as typed from scratch. Every"
        " assumption is an option under <code>correction.effort</code>.</p>"
        + _table(assumptions)
        + f"<p><b>Uncertainty.</b> {html.escape(effort['uncertainty'])}</p><p>Sources:</p><ul>{sources}</ul>"
    )


def _calibration_html(table: pd.DataFrame) -> str:
    if not len(table):
        return "<p>No draft chunk has a predicted WER (runs made before the review model) and a measured one.</p>"
    text = "<p>Draft chunks binned by the review model's predicted WER; measured WER is the chunk's group's"
    text += " (a deleted chunk counts 1). All rows are in calibration.csv.</p>"
    return text + _table(table.round(3))


def _arms_html(arms: Mapping[str, Any]) -> str:
    table = arms_table(arms).T.reset_index(names="arm").round(3)
    parts = [f"<p>{html.escape(arms['note'])}.</p>"] if arms.get("note") else []
    if arms.get("control_left_out"):
        parts.append(
            f"<p>{arms['control_left_out']} control item(s) predicted above <code>draft_max_wer</code> are left out of "
            "the control arm: they would have been typed from scratch, not drafted (like is compared with like).</p>"
        )
    parts += [f"<p><b>Check the work times:</b> {html.escape(w)}.</p>" for w in arms.get("warnings") or ()]
    parts.append(_table(table))
    if arms.get("ratio") is not None:
        ratio = f"{arms['ratio']:.2f}"
        parts.append(f"<p class='headline'>Drafts took {ratio} times the control arm's hours per audio hour.</p>")
    elif "untimed" not in arms:
        parts.append("<p>No work times supplied (<code>preannotate report --work-times times.csv</code>).</p>")
    for key, what in (("untimed", "compared items without a work time"), ("unknown", "work times of no compared item")):
        if arms.get(key):
            parts.append(f"<p>{what}: {html.escape(', '.join(arms[key]))}</p>")
    return "".join(parts)


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, na_rep="", escape=True, border=0)


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)
