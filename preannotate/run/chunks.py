"""The chunk and export stages: every finished transcript chunked, assessed and routed, then written in every form.

Chunks always come from the stored transcripts, so changing only the chunking,
annotation or control-arm options re-chunks without transcribing again.
"""

from __future__ import annotations

import dataclasses
import logging

from ..check_store import read_checks
from ..chunking import chunk_transcript
from ..errors import ChunkingError, ConfigError, TranscriptionError
from ..exports import ItemChunks, remove_item_exports, write_exports
from ..naming import folded
from ..options import AnnotationOptions, ChunkingOptions, RunConfig
from ..quality.crosscheck import CheckWord
from ..report import FileResult, RunReport
from ..results import Transcript
from ..review import Reviewer
from ..routing import route_item
from ..speakers import Turn
from ..speakers.merge import with_channel_names
from ..storage import read_json
from .check import checking, refuse_unchecked_team_model
from .speakers import read_turns

log = logging.getLogger(__name__)


def chunk_item(
    item: str,
    source: str,
    transcript: Transcript,
    options: ChunkingOptions,
    reviewer: Reviewer | None = None,
    turns: list[Turn] | None = None,
    check: list[CheckWord] | None = None,
    slowed: list[CheckWord] | None = None,
) -> ItemChunks:
    """Chunks a transcript and assesses the chunks: what the exports receive for one item.

    Args:
        item: The item name.
        source: The file's path relative to the dataset folder.
        transcript: The stored transcript.
        options: The chunking options.
        reviewer: Review model and threshold; None uses the shipped model.
        turns: The item's speaker turns; None when speakers are off.
        check: A second model's words for the file (`annotation.cross_check`); None without a check.
        slowed: The draft model's words for the file slowed down (`annotation.slowed_check`); None without.

    Raises:
        ChunkingError: The transcript has text but no room in time for it.
    """
    chunks = chunk_transcript(transcript, options, turns)
    chunks = (reviewer or Reviewer.default()).assess(chunks, transcript.duration, check, slowed, transcript.language)
    return ItemChunks(item, source, transcript.language, transcript.duration, chunks)


def chunk_files(config: RunConfig, report: RunReport, reviewer: Reviewer) -> tuple[list[ItemChunks], list[FileResult]]:
    """Chunks every finished transcript of the run and routes its item; a file that cannot be chunked fails.

    Returns:
        The items, and for each its result in `report` (which gets its chunks, predicted WER and route).
    """
    entries, owners = [], []
    key = report.stages.get("check") if checking(config) else None  # None: keyed without the check stage
    for result in report.files:
        if result.status == "failed":
            continue
        stored = read_json(report.output_dir / "transcripts" / f"{result.item}.json")
        try:
            if stored is None:
                raise ChunkingError("its transcript is missing or unreadable")
            transcript, turns = _with_speakers(config, report, result.item, Transcript.from_dict(stored))
            check, slowed = read_checks(report.output_dir, result.item, key) if key else (None, None)
            entry = chunk_item(result.item, result.source, transcript, config.chunking, reviewer, turns, check, slowed)
        except (ChunkingError, TranscriptionError, ConfigError) as e:
            result.status, result.error = "failed", f"{result.source}: cannot chunk: {e}"
            continue
        entry = _routed(entry, config)
        result.chunks, result.route = len(entry.chunks), entry.route
        result.predicted_wer, result.doubtful_share = entry.predicted_wer, entry.doubtful_share
        entries.append(entry)
        owners.append(result)
    return entries, owners


def export_files(
    report: RunReport, entries: list[ItemChunks], owners: list[FileResult], annotation: AnnotationOptions
) -> list[ItemChunks]:
    """Writes every export of the chunked items; an item whose files cannot be written fails alone.

    Returns:
        The items written.

    Raises:
        ExportError: chunks.csv or chunks.jsonl cannot be written.
    """
    # With a journal, its `exported` line syncs them all at once (preannotate.journal.Journal).
    refused = write_exports(report.output_dir, entries, annotation, sync=report.journal is None)
    for index, problem in refused.items():  # one item's bad name or unwritable file fails that item only
        owners[index].status, owners[index].error = "failed", f"{owners[index].source}: cannot export: {problem}"
    written = [entry for index, entry in enumerate(entries) if index not in refused]
    _remove_stale_exports(report, {folded(entry.item) for entry in written})
    return written


def _remove_stale_exports(report: RunReport, written: set[str]) -> None:
    """Removes the earlier exports of each file that failed now: subtitles/ and superannotate/ agree with chunks.csv.

    They were made from audio that has changed since (a file that fails now made none this run).

    A name an item written now shares (two sources of one item name, compared as a case-insensitive
    file system would) keeps its files: they are that item's.
    """
    for result in report.files:
        if result.status != "failed" or folded(result.item) in written:
            continue
        try:
            removed = remove_item_exports(report.output_dir, result.item)
        except OSError as e:
            result.warnings.append(f"its earlier exports could not be removed: {e.strerror or e}")
            continue
        if removed:
            names = ", ".join(str(p.relative_to(report.output_dir)) for p in removed)
            result.warnings.append(f"removed its earlier exports (it fails now): {names}")
            log.warning("%s: removed its earlier exports (%s): the file fails now", result.source, names)


def export_chunks(config: RunConfig, report: RunReport, reviewer: Reviewer | None = None) -> list[ItemChunks]:
    """Chunks every finished transcript of the run, assesses and routes the items, writes all exports.

    Args:
        config: The run's configuration.
        report: The run's report; each exported file gets its chunks, predicted WER and route.
        reviewer: The review model; from `config.annotation` when None.

    Returns:
        The items written.

    Raises:
        ConfigError: A team's review model calibrated on checked drafts, where `auto` checks nothing (a tiny draft
            model): the shipped models would assess every file instead (`check.refuse_unchecked_team_model`).
    """
    if reviewer is None:
        reviewer = Reviewer.from_options(config.annotation)
        refuse_unchecked_team_model(config)  # as a run does, after the options' own refusals
    entries, owners = chunk_files(config, report, reviewer)
    return export_files(report, entries, owners, config.annotation)


def _with_speakers(
    config: RunConfig, report: RunReport, item: str, transcript: Transcript
) -> tuple[Transcript, list[Turn] | None]:
    """The transcript with its channels' speakers named as the options say now, and the item's diarized turns.

    Raises:
        ChunkingError: Diarization is on and the item's turns are missing.
        TranscriptionError: Channels mode is on and the transcript was not made per channel.
        ConfigError: `speakers.channel_names` gives two channels one name.
    """
    mode = config.speakers.mode
    if mode == "channels":
        return with_channel_names(transcript, config.speakers.channel_names), None
    if mode == "none":
        return transcript, None
    turns = read_turns(report.output_dir, item)
    if turns is None:
        raise ChunkingError("its speaker turns are missing or unreadable")
    return transcript, turns


def _routed(entry: ItemChunks, config: RunConfig) -> ItemChunks:
    """The entry with its route: draft, from scratch (predicted WER too high) or control arm."""
    sa = config.superannotate
    route = route_item(
        entry.item, entry.predicted_wer, config.annotation.draft_max_wer, sa.control_share, sa.control_seed
    )
    return dataclasses.replace(entry, route=route)
