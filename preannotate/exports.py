"""Every form the chunks are written in: a table, JSON lines, subtitles and SuperAnnotate JSON.

The builders are pure functions returning text or data; `write_exports` writes
them under a run's output folder, each file atomically (a temporary file in the
same folder, then a rename) and only when its content changed, and overwrites only what it writes:

    chunks.csv                  one row per chunk of the whole run
    chunks.jsonl                the same, one JSON object per line, with words
    subtitles/<item>.srt, .vtt  per item
    superannotate/<item>.json   per item, SuperAnnotate's Video/Audio format
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .chunking import Chunk
from .errors import DiskFullError, ExportError, OutputWriteError
from .naming import folded, plain_item_problem
from .options import AnnotationOptions
from .review import item_predicted_wer, review_share
from .routing import DRAFT
from .sa_format import annotation_classes, sa_annotation
from .spreadsheet import frame_csv, safe_frame
from .storage import json_text, jsonl_line, write_text_if_changed
from .subtitles import srt_text, vtt_text

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CSV_COLUMNS",
    "ItemChunks",
    "annotation_classes",
    "chunks_dataframe",
    "csv_text",
    "item_export_paths",
    "jsonl_text",
    "remove_item_exports",
    "sa_annotation",
    "srt_text",
    "vtt_text",
    "write_exports",
]

QUALITY_COLUMNS = (
    "mean_word_probability",
    "min_word_probability",
    "avg_logprob",
    "no_speech_prob",
    "compression_ratio",
    "temperature",
)
CSV_COLUMNS = (
    "item",
    "source",
    "chunk",
    "start",
    "end",
    "duration",
    "text",
    "language",
    *QUALITY_COLUMNS,
    "needs_review",
    "review_reason",
    "predicted_wer",
    "doubtful_words",
)
TIME_DECIMALS = 3  # milliseconds in the CSV
SIGNAL_DECIMALS = 4


@dataclass(frozen=True)
class ItemChunks:
    """One item's chunks and what the exports say about the item.

    Attributes:
        item: The item name (a file name: no path separators), as on SuperAnnotate.
        source: The file's path relative to the dataset folder.
        language: The transcript's language code, or None.
        duration: The audio's length in seconds.
        chunks: The item's chunks in time order.
        route: How it goes to annotators (`preannotate.routing`): `draft`, or `from_scratch` and
            `control`, whose SuperAnnotate events carry boundaries but no text.
    """

    item: str
    source: str
    language: str | None
    duration: float
    chunks: Sequence[Chunk]
    route: str = DRAFT

    @property
    def predicted_wer(self) -> float | None:
        """The item's predicted WER (its chunks' predictions weighted by words); None without chunks."""
        return item_predicted_wer(self.chunks)

    @property
    def doubtful_share(self) -> float | None:
        """Share of the item's chunks that need review; None without chunks."""
        return review_share(self.chunks)


def chunks_dataframe(entries: Sequence[ItemChunks]) -> pd.DataFrame:
    """One row per chunk of every item, columns CSV_COLUMNS (and `speaker` after `text` when speakers are on).

    Args:
        entries: The items of a run, in the order rows should appear.

    Returns:
        The table; empty (with the columns) when there are no chunks. Missing word
        probabilities are NaN.
    """
    import pandas as pd  # here, not at the top: importing pandas costs a second at start-up

    rows = [_row(entry, chunk) for entry in entries for chunk in entry.chunks]
    # `speaker` only when speakers are on, after `text`: without it the table is as it always was.
    spoken = any(chunk.speaker is not None for entry in entries for chunk in entry.chunks)
    columns = list(CSV_COLUMNS[:7]) + ["speaker"] + list(CSV_COLUMNS[7:]) if spoken else list(CSV_COLUMNS)
    frame = pd.DataFrame(rows, columns=columns)
    types = {"chunk": "int64", "needs_review": "bool", **{c: "float64" for c in (*QUALITY_COLUMNS, "predicted_wer")}}
    return frame.astype({**types, "start": "float64", "end": "float64", "duration": "float64"})


def _row(entry: ItemChunks, chunk: Chunk) -> dict[str, Any]:
    row = {"item": entry.item, "source": entry.source, "chunk": chunk.index, "start": chunk.start, "end": chunk.end}
    row.update(duration=chunk.duration, text=chunk.text, speaker=chunk.speaker, language=entry.language)
    row.update({c: getattr(chunk, c) for c in QUALITY_COLUMNS})
    row.update(needs_review=chunk.needs_review, review_reason=chunk.review_reason, predicted_wer=chunk.predicted_wer)
    row["doubtful_words"] = doubtful_cell(chunk)
    return row


def doubtful_cell(chunk: Chunk) -> str:
    """The doubtful words for a table cell: `word:0.05 other:0.31` (word, then its probability)."""
    return " ".join(f"{word}:{probability:.2f}" for _, word, probability in chunk.doubtful_words)


def csv_text(entries: Sequence[ItemChunks]) -> str:
    """chunks.csv: the table with times in milliseconds and signals to 4 decimals, UTF-8, Unix line ends.

    Texts a spreadsheet would run as a formula (`=`, `+`, `-`, `@`...) get a leading quote
    (`spreadsheet.safe_cell`); chunks.jsonl keeps them exact.
    """
    frame = chunks_dataframe(entries)
    decimals = {"start": TIME_DECIMALS, "end": TIME_DECIMALS, "duration": TIME_DECIMALS}
    frame = frame.round({**decimals, **{c: SIGNAL_DECIMALS for c in (*QUALITY_COLUMNS, "predicted_wer")}})
    return frame_csv(safe_frame(frame))


def jsonl_text(entries: Sequence[ItemChunks]) -> str:
    """chunks.jsonl: one object per chunk: item, source, chunk (its index), every Chunk field, words, language."""
    lines = []
    for entry in entries:
        for chunk in entry.chunks:
            fields = chunk.to_dict()
            record = {"item": entry.item, "source": entry.source, "chunk": fields.pop("index"), **fields}
            record["language"] = entry.language
            lines.append(jsonl_line(record))
    return "".join(lines)


def write_exports(
    output_dir: Path, entries: Sequence[ItemChunks], annotation: AnnotationOptions, sync: bool = True
) -> dict[int, str]:
    """Writes chunks.csv, chunks.jsonl, subtitles and SuperAnnotate JSON for a run.

    Files of items not in `entries` are left alone (`remove_item_exports` removes those of a file that now
    fails; the run calls it). An entry whose
    item name cannot be a file name, repeats an earlier entry's (compared as a case-insensitive
    file system would), or whose files cannot be written is left out and reported; the others
    are written all the same.

    Args:
        output_dir: The run's output folder.
        entries: Every item of the run with its chunks (items without chunks get empty files).
        annotation: Class and attribute group names for the SuperAnnotate JSON.
        sync: fsync each file written; a run leaves it to its journal (`preannotate.journal.Journal`).

    Returns:
        Position in `entries` -> why that entry was left out; empty when all were written.

    Raises:
        ExportError: chunks.csv or chunks.jsonl cannot be written.
    """
    output_dir = Path(output_dir)
    refused = _check_items(entries)
    for index, entry in enumerate(entries):
        if index not in refused and (problem := _write_item(output_dir, entry, annotation, sync)):
            refused[index] = problem
    kept = [entry for index, entry in enumerate(entries) if index not in refused]
    try:
        write_text_if_changed(output_dir / "chunks.csv", csv_text(kept), sync)
        write_text_if_changed(output_dir / "chunks.jsonl", jsonl_text(kept), sync)
    except DiskFullError:
        raise  # every next write would fail the same way: the run stops
    except OutputWriteError as e:
        raise ExportError(f"cannot write exports under {output_dir}: {e}") from e
    except OSError as e:
        raise ExportError(f"cannot write exports under {output_dir}: {e.strerror or e} ({e.filename})") from e
    return refused


def item_export_paths(output_dir: Path, item: str) -> tuple[Path, Path, Path]:
    """An item's own export files: its SRT and VTT subtitles and its SuperAnnotate JSON."""
    return (
        output_dir / "subtitles" / f"{item}.srt",
        output_dir / "subtitles" / f"{item}.vtt",
        output_dir / "superannotate" / f"{item}.json",
    )


def remove_item_exports(output_dir: Path, item: str) -> list[Path]:
    """Removes an item's own export files (`item_export_paths`) and returns those that were there.

    For an item whose source now fails: its exports describe audio that is no longer there, and
    chunks.csv no longer lists it. Raises OSError when one cannot be removed.
    """
    if plain_item_problem(item):  # a name that is not one file's: nothing of it is touched
        return []
    removed = []
    for path in item_export_paths(Path(output_dir), item):
        if path.is_file() and not path.is_symlink():
            path.unlink()
            removed.append(path)
    return removed


def _write_item(output_dir: Path, entry: ItemChunks, annotation: AnnotationOptions, sync: bool) -> str | None:
    """Writes one item's subtitles and SuperAnnotate JSON; returns why it could not, or None."""
    srt, vtt, sa_json = item_export_paths(output_dir, entry.item)
    try:
        mark = annotation.mark_doubtful
        write_text_if_changed(srt, srt_text(entry.chunks, mark), sync)
        write_text_if_changed(vtt, vtt_text(entry.chunks, mark), sync)
        annotation_json = sa_annotation(entry.item, entry.duration, list(entry.chunks), annotation, entry.route)
        write_text_if_changed(sa_json, json_text(annotation_json), sync)
    except DiskFullError:
        raise
    except OutputWriteError as e:
        return f"cannot write its exports: {e}"
    except OSError as e:
        return f"cannot write its exports: {e.strerror or e} ({e.filename})"
    return None


def _check_items(entries: Sequence[ItemChunks]) -> dict[int, str]:
    """Position -> problem for entries whose item name is unsafe or already taken by an earlier entry."""
    refused: dict[int, str] = {}
    seen: dict[str, str] = {}
    for index, entry in enumerate(entries):
        name = entry.item
        if plain_item_problem(name):
            refused[index] = f"item name {name!r} (from {entry.source}) is not a plain file name"
            continue
        key = folded(name)  # how macOS's file system compares names
        if key in seen:
            refused[index] = f"item name {name!r} appears twice (also {seen[key]}): its exports would clash"
            continue
        seen[key] = entry.source
    return refused
