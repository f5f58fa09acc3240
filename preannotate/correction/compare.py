"""Comparing pulled corrections with the drafts: per group, per draft chunk, per item and per run.

`compare_item` is pure (annotations in, rows out); `compare_run` reads a run folder after
`preannotate pull` and never stops at one bad item: whatever is wrong with an item becomes
its `problem` (not compared) or its `notes` (compared, with events left out), and the rest
goes on. Events whose keyframes hold different values (`keyframes.py`) are read as the
annotator left them and counted: `keyframe_disagreements` per item and in the summary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import CorrectionError
from ..lock import locked
from ..options import AnnotationOptions, CorrectionOptions, RunConfig
from ..options.correction import EffortOptions
from ..storage import read_json
from ..superannotate import Ledger
from ..text_normalize import UNSPACED_LANGUAGES, text_normalizer
from .align import align
from .arms import file_route
from .calibration import chunk_wer
from .effort import DRAFT, FROM_SCRATCH
from .events import Event, parse_annotation
from .metrics import TextScore, chunk_changed, group_row, score_texts, summarize
from .pull import PulledItem, load_pull
from .pull_gone import missing_notes, warn_used
from .rundata import (
    corrected_problem,
    draft_for,
    find_quality,
    load_ledger,
    quality_lookups,
    quality_table,
    read_run,
    run_items,
)
from .speakers import NO_SPEAKER, SpeakerScore, corrected_speaker, item_cpwer, speaker_summary

CHUNK_QUALITY = ("mean_word_probability", "min_word_probability", "avg_logprob", "review_reason", "predicted_wer")
ITEM_HEAD: tuple[str, ...] = ("item", "status", "language", "route", "predicted_wer", "audio_seconds", "compared")
ITEM_HEAD += ("problem", "notes")
ITEM_HEAD += ("keyframe_disagreements",)


@dataclass
class ItemComparison:
    """One item's comparison: group rows, draft chunk rows, notes about left-out events, keyframe disagreements.

    `speakers` is the draft's cpWER against the correction when the draft has speakers, else None; `route` how
    the item was uploaded (`uploaded_route`).
    """

    route: str = DRAFT
    text: TextScore = field(default_factory=TextScore)  # the whole draft text against the whole corrected text
    groups: list[dict] = field(default_factory=list)
    chunks: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)
    speakers: SpeakerScore | None = None


@dataclass
class CorrectionResult:
    """The comparison of a whole run.

    Attributes:
        groups: One row per group (chunks and events that belong together), with item and group id.
        chunks: One row per draft chunk: its flags, confidence and what happened to it.
        items: One row per item of the pull: status, problem or notes, and its totals.
        summary: Run-wide totals over the compared items (see `metrics.summarize`), with
            `keyframe_disagreements` and `items_with_disagreements`.
        options: The comparison options, for the report.
        disagreements: Item -> its corrected events' keyframe disagreements, one message each.
        effort: The assumptions of the estimate of annotator time saved (`effort.estimate`).
    """

    groups: pd.DataFrame
    chunks: pd.DataFrame
    items: pd.DataFrame
    summary: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    disagreements: dict[str, list[str]] = field(default_factory=dict)
    effort: EffortOptions = field(default_factory=EffortOptions)

    @property
    def problems(self) -> dict[str, str]:
        """Item -> why it was not compared."""
        rows = self.items[self.items["problem"].notna()]
        return dict(zip(rows["item"], rows["problem"]))


def compare_item(
    draft: Any,
    corrected: Any,
    annotation: AnnotationOptions,
    options: CorrectionOptions,
    language: str | None,
    quality: dict[str, list[dict]] | None = None,
    textless: bool = False,
) -> ItemComparison:
    """Compares one item's corrected annotation with its draft.

    Args:
        draft: The annotation as uploaded.
        corrected: The annotation as pulled.
        annotation: Class and group names.
        options: Overlap share, boundary tolerance and what counts as changed.
        language: The item's language code, choosing the normalizer (options.language wins).
        quality: The item's chunk quality records (`rundata.quality_lookups`), for confidences.
        textless: The item was uploaded without text (from scratch, control arm): its boundaries are the draft.

    Returns:
        The rows, notes and the corrected events' keyframe disagreements (also among the notes).

    Raises:
        CorrectionError: Either annotation is malformed as a whole.
    """
    try:
        before = parse_annotation(draft, annotation, textless=textless)
    except CorrectionError as e:
        raise CorrectionError(f"the draft is malformed: {e}") from e
    try:
        after = parse_annotation(corrected, annotation, before.duration_us, draft=draft)
    except CorrectionError as e:
        raise CorrectionError(f"the corrected annotation is malformed: {e}") from e
    language = options.language or language
    normalize = text_normalizer(language)
    unspaced = (language or "").split("-")[0].lower() in UNSPACED_LANGUAGES
    disagreements = [d.message for d in after.disagreements]
    notes = [*(f"draft {n}" for n in (*before.notes, *(d.message for d in before.disagreements))), *after.notes]
    result = ItemComparison(notes=[*notes, *disagreements], disagreements=disagreements)
    result.speakers = item_cpwer(before.events, after.events, normalize)
    corrected_text, draft_text = (normalize(" ".join(e.text for e in ev)) for ev in (after.events, before.events))
    result.text = score_texts(corrected_text, draft_text, unspaced)
    groups = align(before.events, after.events, options.min_overlap, key=lambda t: " ".join(normalize(t).split()))
    for g, group in enumerate(groups):
        row = {"group": g, **group_row(group, normalize, unspaced, options.boundary_tolerance_ms)}
        result.groups.append(row)
        for event in group.draft:
            chunk = _chunk_row(event, g, row, options, quality or {})
            if result.speakers is not None:  # a run with speakers: who speaks in it, before and after
                chunk.update(_speaker_fields(event, group.corrected))
            result.chunks.append(chunk)
    result.chunks.sort(key=lambda c: c["chunk"])
    return result


def _chunk_row(event: Event, group: int, row: dict, options: CorrectionOptions, quality: dict) -> dict:
    record = find_quality(quality, event.start_us, event.text) or {}
    flag = event.needs_review if event.needs_review is not None else record.get("needs_review")
    chunk = {"chunk": event.index, "start": event.start, "end": event.end, "text": event.text, "group": group}
    chunk.update(kind=row["kind"], needs_review=None if flag is None else bool(flag))
    chunk.update({k: record.get(k) for k in CHUNK_QUALITY})
    if not record and event.review_reasons is not None:  # no chunks.csv record: the draft's own reasons
        chunk["review_reason"] = ";".join(event.review_reasons)
    chunk.update({k: row[k] for k in ("text_changed", "retimed", "untouched")})
    errors = row["substitutions"] + row["deletions"] + row["insertions"]
    chunk["measured_wer"] = chunk_wer(row["ref_words"], errors)  # its group's: for the calibration table
    chunk["changed"] = chunk_changed(row, options.changed)
    return chunk


def _speaker_fields(chunk: Event, corrected: tuple[Event, ...]) -> dict:
    after = corrected_speaker(chunk, corrected)
    changed = None if after is None else after != (chunk.speaker or NO_SPEAKER)  # None: the chunk was deleted
    return {"speaker": chunk.speaker, "corrected_speaker": after, "speaker_changed": changed}


@locked("report", existing=True)
def compare_from_config(config: RunConfig) -> CorrectionResult:
    """Compares the run in output.dir with its last pull, under the config's annotation and correction options."""
    return compare_run(config.output.dir, config.annotation, config.correction)


def compare_run(output_dir: str | Path, annotation: AnnotationOptions, options: CorrectionOptions) -> CorrectionResult:
    """Compares every pulled item of a run with the draft uploaded for it.

    Args:
        output_dir: The run's output folder, after `preannotate pull`.
        annotation: Class and group names.
        options: The correction options.

    Returns:
        Tables per group, draft chunk and item, and the run's totals.

    Raises:
        CorrectionError: The folder holds no run or no pull.
    """
    out = Path(output_dir)
    pull = load_pull(out)
    warn_used(pull.items, "comparison")
    quality = quality_lookups(quality_table(out))  # grouped once: one scan of the table per item was quadratic
    run = _Run(out, run_items(read_run(out)), load_ledger(out), pull.target, annotation, options, quality)
    groups: list[dict[str, Any]] = []
    chunks: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    disagreements: dict[str, list[str]] = {}
    scores: list[SpeakerScore] = []
    texts: dict[str, TextScore] = {}
    for pulled in pull.items:
        record = run.files.get(pulled.item) or {}
        language = options.language or record.get("language")
        row: dict[str, Any] = {
            "item": pulled.item,
            "status": pulled.status,
            "language": language,
            "route": file_route(record),
            "predicted_wer": _share(record.get("predicted_wer")),
        }
        row["audio_seconds"] = _seconds(record.get("duration"))
        result, row["problem"], notes = run.compare(pulled, language)
        notes = [*missing_notes(pulled), *notes]  # gone from SuperAnnotate: compared in its earlier correction
        row.update(compared=result is not None, notes="; ".join(notes) or None)
        if result is not None:
            row["route"] = result.route  # as uploaded: run.json's may be a later run's
            groups.extend({"item": pulled.item, **g} for g in result.groups)
            if row["route"] == DRAFT:  # an item given boundaries without text has no draft chunk to assess
                chunks.extend({"item": pulled.item, **c} for c in result.chunks)
            row.update(summarize(result.groups, result.chunks, [result.text]))
            row.update(keyframe_disagreements=len(result.disagreements))
            texts[pulled.item] = result.text
            if result.speakers is not None:
                row.update(speaker_summary(result.chunks, [result.speakers]))
                scores.append(result.speakers)
            if result.disagreements:
                disagreements[pulled.item] = result.disagreements
        items.append(row)
    # Items uploaded without text (from scratch, control arm) were typed, not corrected: every word of theirs
    # would count as a deletion. The run's figures are the drafts'; the effort model reads those items apart.
    textless = {r["item"] for r in items if r["compared"] and r["route"] != DRAFT}
    drafted = [r for r in groups if r["item"] not in textless]
    summary = {"items": len(items), "compared": sum(r["compared"] for r in items) - len(textless)}
    drafted_texts = [t for item, t in texts.items() if item not in textless]
    summary.update(summarize(drafted, chunks, drafted_texts), compared_without_text=len(textless))
    summary["problems"] = sum(r["problem"] is not None for r in items)
    summary["keyframe_disagreements"] = sum(len(d) for d in disagreements.values())
    summary["items_with_disagreements"] = len(disagreements)
    if scores:  # only a run with speakers reports them
        summary.update(speaker_summary(chunks, scores))
    speaker_columns = list(speaker_summary([], [])) if scores else []
    frame = pd.DataFrame(items, columns=[*ITEM_HEAD, *summarize([], []), *speaker_columns])  # even when empty
    tables = pd.DataFrame(groups), pd.DataFrame(chunks), frame
    chosen = {**_options(options, pull), "draft_max_wer": annotation.draft_max_wer}
    return CorrectionResult(*tables, summary, chosen, disagreements, options.effort)


@dataclass(frozen=True)
class _Run:
    """What comparing one item of a run needs from the run folder."""

    out: Path
    files: dict[str, dict]
    ledger: Ledger | None
    target: str
    annotation: AnnotationOptions
    options: CorrectionOptions
    quality: dict[str, dict[str, list[dict]]]  # item -> its chunks' quality records by text (`quality_lookups`)

    def compare(self, pulled: PulledItem, language: str | None) -> tuple[ItemComparison | None, str | None, list]:
        """(comparison or None, problem or None, notes) for one item of the pull."""
        if pulled.problem:
            return None, pulled.problem, []
        if not pulled.selected or not pulled.file:
            return None, None, [f"not pulled: status {pulled.status} not selected"]
        wanted = self.options.compare_statuses
        if wanted and pulled.status not in wanted:  # perhaps untouched: not a perfect draft
            why = (
                f"not compared: status {pulled.status or 'unknown'} (correction.compare_statuses: {', '.join(wanted)})"
            )
            return None, None, [why]
        corrected = read_json(self.out / pulled.file)
        problem = corrected_problem(corrected, pulled.item, pulled.file)
        if corrected is None:
            return None, problem, []
        draft = draft_for(self.out, self.ledger, self.target, pulled.item, corrected)  # the one they started from
        if draft.annotation is None or problem:  # another item's annotation: its events are not this audio's
            return None, draft.note if draft.annotation is None else problem, []
        quality = self.quality.get(pulled.item, {})
        try:
            route = uploaded_route(file_route(self.files.get(pulled.item)), draft.annotation, self.annotation)
            textless = route != DRAFT  # typed into the boundaries given
            result = compare_item(
                draft.annotation, corrected, self.annotation, self.options, language, quality, textless
            )
            result.route = route
        except CorrectionError as e:
            return None, str(e), []
        return result, None, [n for n in (draft.note, *result.notes) if n]


def uploaded_route(route: str, draft: Any, annotation: AnnotationOptions) -> str:
    """How the item was uploaded: `draft` when the annotation uploaded holds text, else run.json's textless route.

    run.json holds the last run's routes: a run again with another `draft_max_wer` or review model after the
    upload may have routed the item otherwise than the draft its annotators worked on.
    """
    try:
        events = parse_annotation(draft, annotation, textless=True).events
    except CorrectionError:
        return route
    if not events:  # nothing to tell by (no speech)
        return route
    if any(e.text for e in events):
        return DRAFT
    return route if route != DRAFT else FROM_SCRATCH


def _share(value: Any) -> float | None:
    """A run.json predicted WER if it is a number (run.json may have been edited)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _seconds(value: Any) -> float | None:
    """A run.json duration if it is a positive number (run.json may have been edited)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < float("inf")
    return float(value) if ok else None


def _options(options: CorrectionOptions, pull) -> dict[str, Any]:
    return {
        "project": pull.project,
        "pulled_at": pull.pulled_at,
        "status filter": ", ".join(pull.statuses) or "all",
        "min_overlap": options.min_overlap,
        "boundary_tolerance_ms": options.boundary_tolerance_ms,
        "changed means": options.changed,
    }
