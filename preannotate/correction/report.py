"""`preannotate report`: the comparison as tables, plots and one self-contained HTML page.

Writes under `<output>/correction/` (each file atomically): `items.csv`, `groups.csv`,
`chunks.csv`, `calibration.csv`, `summary.json` and `report.html` (tables plus the plots as embedded PNGs, so the
page can be mailed or opened anywhere), and `report-files.json`, their hashes: the next report replaces only
those files, unchanged, and moves any other to `correction-kept/` (`report_kept`). The figures are built on
`matplotlib.figure.Figure` without pyplot, so they are safe in scripts and show inline in notebooks.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import CorrectionError
from ..spreadsheet import frame_csv, safe_frame  # the CSVs are for people: opened in spreadsheets
from ..storage import ENCODING, ERRORS
from .advice import review_advice
from .compare import CorrectionResult
from .report_kept import keep_foreign, write_owned
from .savings import Evidence, evidence, evidence_json, evidence_sections

REPORT_DIR = "correction"
MAX_ROWS = 500  # changed groups listed in the HTML; all of them are in groups.csv
MAX_BARS = 50  # items in the WER plot, the highest WERs; all of them are in items.csv
SUMMARY_LABELS = {
    "items": "items pulled",
    "compared": "items compared (drafts)",
    "compared_without_text": "items uploaded without text (from scratch, control arm), not in these figures",
    "problems": "items with problems",
    "keyframe_disagreements": "keyframe disagreements (values differ between an event's keyframes)",
    "items_with_disagreements": "items with keyframe disagreements",
    "draft_chunks": "draft chunks",
    "corrected_events": "corrected events",
    "untouched_share": "share of chunks untouched",
    "wer": "WER (draft vs corrected)",
    "cer": "CER",
    "ref_words": "words in the corrected text",
    "substitutions": "substitutions",
    "deletions": "deletions (words annotators added)",
    "insertions": "insertions (draft words annotators removed)",
    "edited": "chunks with edited words",
    "retimed": "chunks with moved boundaries",
    "removed": "chunks removed",
    "added": "events added",
    "split": "chunks split",
    "merged": "merges",
    "regrouped": "stretches re-segmented",
    "moved": "chunks moved",
    "mean_abs_shift_ms": "mean |boundary shift| (ms)",
    "median_abs_shift_ms": "median |boundary shift| (ms)",
    "p90_abs_shift_ms": "90th percentile |boundary shift| (ms)",
    "max_abs_shift_ms": "largest |boundary shift| (ms)",
    "review_precision": "needs_review precision",
    "review_recall": "needs_review recall",
}
# Shown only for a run with speakers (the summary then has these keys; see `correction.speakers`).
SPEAKER_LABELS = {
    "speaker_chunks": "draft chunks with a speaker, not deleted",
    "speaker_changed": "chunks that changed speaker",
    "speaker_changed_share": "share of chunks that changed speaker",
    "cpwer": "cpWER (speaker-attributed WER, draft vs corrected)",
}
ITEM_COLUMNS = ["item", "status", "language", "draft_chunks", "corrected_events", "wer", "cer", "untouched_share"]
ITEM_COLUMNS += ["edited", "retimed", "removed", "added", "split", "merged", "mean_abs_shift_ms"]
ITEM_COLUMNS += ["review_precision", "review_recall", "keyframe_disagreements", "problem", "notes"]
GROUP_COLUMNS = ["item", "kind", "draft_start", "draft_end", "corrected_start", "corrected_end", "draft_text"]
GROUP_COLUMNS += ["corrected_text", "wer", "start_shift_ms", "end_shift_ms"]


def summary_table(result: CorrectionResult) -> pd.DataFrame:
    """The run's key figures as a two-column table (measure, value), for people."""
    labels = {**SUMMARY_LABELS, **(SPEAKER_LABELS if _has_speakers(result) else {})}
    rows = [(label, _fmt(key, result.summary.get(key))) for key, label in labels.items()]
    return pd.DataFrame(rows, columns=["measure", "value"])


def _has_speakers(result: CorrectionResult) -> bool:
    return "cpwer" in result.summary


def headline(result: CorrectionResult) -> str:
    """One sentence for the top of the report: WER, items compared, problems and keyframe disagreements."""
    s = result.summary
    line = f"WER {_fmt('wer', s.get('wer'))} over {s.get('compared', 0)} of {s.get('items', 0)} item(s) compared"
    if s.get("compared_without_text"):  # typed into empty boundaries: no draft to measure
        line += f" ({s['compared_without_text']} more uploaded without text, from scratch or control arm, left out)"
    line += f"; {s.get('problems', 0)} item(s) with problems"
    count, items = s.get("keyframe_disagreements", 0), s.get("items_with_disagreements", 0)
    line += f"; {count} keyframe disagreement(s) in {items} item(s)"
    if _has_speakers(result):
        line += f"; {s['speaker_changed']} of {s['speaker_chunks']} chunk(s) changed speaker"
        line += f" ({_fmt('speaker_changed_share', s['speaker_changed_share'])}), cpWER {_fmt('cpwer', s['cpwer'])}"
    return line + (" (read as the annotator left them; see each item's notes)." if count else ".")


def review_table(result: CorrectionResult) -> pd.DataFrame:
    """needs_review against changed, over every draft chunk with a flag: a 2x2 count table."""
    s = result.summary
    return pd.DataFrame(
        {"changed": [s["review_tp"], s["review_fn"]], "not changed": [s["review_fp"], s["review_tn"]]},
        index=["flagged needs_review", "flagged ok"],
    )


def item_table(result: CorrectionResult) -> pd.DataFrame:
    """Per item: status, counts, WER, CER, shifts, review scores, speaker scores (with speakers) and problems."""
    columns = [*ITEM_COLUMNS[:-2], "speaker_changed", "cpwer", *ITEM_COLUMNS[-2:]] if _has_speakers(result) else None
    return result.items.reindex(columns=columns or ITEM_COLUMNS)


def changed_table(result: CorrectionResult, limit: int | None = None) -> pd.DataFrame:
    """The groups annotators changed (draft and corrected text and times), in item and time order."""
    if not len(result.groups):
        return pd.DataFrame(columns=GROUP_COLUMNS)
    changed = result.groups[~result.groups["untouched"].astype(bool)].reindex(columns=GROUP_COLUMNS)
    return changed if limit is None else changed.head(limit)


def figures(result: CorrectionResult) -> dict[str, Any]:
    """The report's plots: `wer_per_item`, `boundary_shifts` and `confidence` (matplotlib Figures)."""
    return {
        "wer_per_item": _wer_figure(result.items),
        "boundary_shifts": _shift_figure(result.groups),
        "confidence": _confidence_figure(result.chunks),
    }


def _figure(width: float = 7.0, height: float = 3.5):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.add_subplot()


def _wer_figure(items: pd.DataFrame):
    # astype: an empty object column would select columns, not rows (a pull of no items)
    rows = items[items["compared"].astype(bool)] if "wer" in items else items.iloc[0:0]
    rows = rows[rows["wer"].notna()].sort_values("wer", kind="stable") if len(rows) else rows
    # The highest WERs only: one bar per item made a 16,000-item plot 480,000 px tall (1.3 GB to draw, minutes of
    # tick labels); items.csv and the Items table list every item's WER.
    shown = rows.tail(MAX_BARS)
    figure, ax = _figure(7.0, max(2.0, 0.3 * len(shown) + 1.2))
    ax.barh(list(shown["item"]), list(shown["wer"] * 100), color="#1F77B4")
    ax.set_xlabel("WER of the draft against the corrected text (%)")
    ax.set_title(
        "WER per item" if len(shown) == len(rows) else f"WER per item: the {len(shown)} highest of {len(rows)}"
    )
    if not len(rows):
        ax.text(0.5, 0.5, "no item compared", ha="center", transform=ax.transAxes)
    return figure


def _shift_figure(groups: pd.DataFrame):
    figure, ax = _figure()
    shifts = [v for c in ("start_shift_ms", "end_shift_ms") if c in groups for v in groups[c].dropna()]
    if shifts:
        ax.hist(shifts, bins=min(60, max(10, len(shifts) // 5)), color="#FF7F0E")
    else:
        ax.text(0.5, 0.5, "no boundaries to compare", ha="center", transform=ax.transAxes)
    ax.set_xlabel("boundary shift (ms; positive: the annotator moved it later)")
    ax.set_ylabel("boundaries")
    ax.set_title("How far annotators moved chunk boundaries")
    return figure


def _confidence_figure(chunks: pd.DataFrame):
    figure, ax = _figure()
    rows = chunks[chunks["mean_word_probability"].notna()] if "mean_word_probability" in chunks else chunks
    labels = [("not changed", False), ("changed", True)]
    data = [list(rows[rows["changed"] == flag]["mean_word_probability"]) if len(rows) else [] for _, flag in labels]
    for x, values in enumerate(data, start=1):
        if values:
            ax.boxplot([values], positions=[x], widths=0.5, showfliers=False)
            jitter = [x + 0.15 * math.sin(7.0 * i) for i in range(len(values))]  # deterministic spread
            ax.scatter(jitter, values, s=12, alpha=0.6, color="#2CA02C")
    ax.set_xticks([1, 2], [f"{name} ({len(v)})" for (name, _), v in zip(labels, data)])
    ax.set_xlim(0.4, 2.6)
    ax.set_ylabel("mean word probability of the draft chunk")
    ax.set_title("Model confidence against whether annotators changed the chunk")
    return figure


def png_bytes(figure) -> bytes:
    """A figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def png_images(result: CorrectionResult) -> list:
    """The plots as IPython Images, for notebooks: `display(*png_images(result))`."""
    from IPython.display import Image

    return [Image(png_bytes(f)) for f in figures(result).values()]


def write_report(result: CorrectionResult, folder: str | Path, work_times: Mapping[str, float] | None = None) -> Path:
    """Writes the CSVs, summary.json and report.html into `folder`.

    Args:
        result: The comparison (`compare_run`).
        folder: Usually `<output>/correction`.
        work_times: Item -> seconds the team worked on it (`arms.read_work_times`), for the control arm.

    Returns:
        The path of report.html.

    A file there that the last report did not write as it is now (edited since, or someone's own) is first
    moved to `<folder>-kept/<report time>/` with a warning (`report_kept`).

    Raises:
        CorrectionError: A file cannot be written.
        OutputWriteError: A file that is not the report's cannot be moved aside.
    """
    folder = Path(folder)
    found = evidence(result, work_times)
    advice = review_advice(result.summary, str(folder.parent))  # the report's folder is in the run
    tables = (("items", result.items), ("groups", result.groups), ("chunks", result.chunks))
    texts = {f"{name}.csv": frame_csv(safe_frame(frame)) for name, frame in tables}
    texts["calibration.csv"] = frame_csv(safe_frame(found.calibration))
    summary: dict[str, Any] = {"summary": result.summary, "options": result.options, "problems": result.problems}
    summary["keyframe_disagreements"] = result.disagreements
    summary["review_advice"] = advice
    summary.update(evidence_json(found))
    texts["summary.json"] = json.dumps(_finite(summary), indent=2, default=_json_default, allow_nan=False) + "\n"
    texts["report.html"] = report_html(result, found, advice)  # before any write: a failure keeps the old report
    data = {name: text.encode(ENCODING, ERRORS) for name, text in texts.items()}
    at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    keep_foreign(folder, data, at)  # a file edited since the last report, or not a report's, is moved aside first
    try:
        write_owned(folder, data, at)
    except OSError as e:
        raise CorrectionError(f"cannot write the report under {folder}: {e.strerror or e}") from e
    return folder / "report.html"


def report_html(result: CorrectionResult, found: Evidence | None = None, advice: str | None = None) -> str:
    """The whole report as one HTML page with the plots embedded.

    `found`: computed without work times if None; `advice`: `advice.review_advice`'s sentence, shown under the
    needs_review table.
    """
    plots = "".join(
        f'<img alt="{name}" src="data:image/png;base64,{base64.b64encode(png_bytes(f)).decode()}">'
        for name, f in figures(result).items()
    )
    changed = changed_table(result)
    more = f"<p>First {MAX_ROWS} of {len(changed)}; all are in groups.csv.</p>" if len(changed) > MAX_ROWS else ""
    problems = "".join(f"<li><b>{html.escape(i)}</b>: {html.escape(p)}</li>" for i, p in result.problems.items())
    disagreements = "".join(
        f"<li><b>{html.escape(i)}</b>: {html.escape(m)}</li>" for i, ms in result.disagreements.items() for m in ms
    )
    options = pd.DataFrame(list(result.options.items()), columns=["option", "value"])
    sections = [
        ("Summary", _table(summary_table(result), index=False)),
        ("Options", _table(options, index=False)),
        ("Items", _table(item_table(result).round(4), index=False)),
        ("Problems", f"<ul>{problems}</ul>" if problems else "<p>None.</p>"),
        ("Keyframe disagreements", f"<ul>{disagreements}</ul>" if disagreements else "<p>None.</p>"),
        ("Plots", plots),
        ("needs_review against changed chunks", _table(review_table(result)) + _paragraph(advice)),
        *evidence_sections(found or evidence(result)),
        ("Changed chunks", _table(changed.head(MAX_ROWS).round(3), index=False) + more),
    ]
    body = "".join(f"<h2>{title}</h2>{content}" for title, content in sections)
    top = f"<p class='headline'>{html.escape(headline(result))}</p>"
    return f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Correction report</title>{_STYLE}</head>" + (
        f"<body><h1>Correction report</h1>{top}{body}</body></html>\n"
    )


_STYLE = (
    "<style>body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;font-size:90%}"
    "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}img{max-width:100%;display:block;margin:1em 0}"
    ".headline{font-size:120%;font-weight:bold}"
    "</style>"
)


def _paragraph(text: str | None) -> str:
    return f"<p class='advice'>{html.escape(text)}</p>" if text else ""


def _table(frame: pd.DataFrame, index: bool = True) -> str:
    return frame.to_html(index=index, na_rep="", escape=True, border=0)


def _fmt(key: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if key in ("wer", "cer", "untouched_share", "review_precision", "review_recall", "speaker_changed_share", "cpwer"):
        return f"{100 * value:.1f}%"
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def _json_default(value: Any) -> Any:
    return _finite(value.item()) if hasattr(value, "item") else str(value)


def _finite(value: Any) -> Any:
    """`value` with NaN and infinite floats as None: JSON has no such numbers (strict readers reject `NaN`)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
