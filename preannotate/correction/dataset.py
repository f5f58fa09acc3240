"""`preannotate export`: the corrected dataset in forms training tools read directly.

Layout of the destination (`dataset.dir`, default `<output>/dataset`)::

    clips/<item>-<n>.wav     one clip per corrected segment, cut from the original media
    metadata.jsonl           file_name, transcription   (Hugging Face `audiofolder`)
    manifest.jsonl           audio_filepath, duration, text, offset   (NeMo; paths relative to it)
    segments.csv             every segment of every pulled item: item, start, end, text, status...

    export.json              options, counts and per-item problems

When the corrected events carry a Speaker (a run with speakers), metadata.jsonl, the manifest and
segments.csv also carry it, as `speaker` (an event without one: empty, or absent from its manifest line).
In a run with `speakers.mode: channels` each clip is cut from its speaker's channel, the one its words
were transcribed from (an event whose speaker is no channel of the run: from all channels mixed, with a note).

Clips are cut from the audio decoded at 16 kHz (then resampled to `dataset.sample_rate`) at
sample round(time * rate), half up, so a clip has exactly end_sample - start_sample samples. Clip names
keep one stem per item (`export_items`).
The export is built in a temporary folder next to the destination and swapped in at the end:
a failed or interrupted export never leaves a half-written dataset. Only a new or empty folder, or one
holding exactly the files an export wrote, unchanged (`.preannotate-export.json` lists them), is
replaced (see `destination`), and not when it holds clips of recordings that are not this run's items, or
of items whose media cannot be read now (`export_items`). When the run read a bucket, each item's object is
read from it, checked to be the object the run transcribed: one changed since fails its item (see `media`).
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..audio import SAMPLE_RATE
from ..errors import CorrectionError
from ..lock import locked
from ..lock_beside import lock_beside
from ..options import AnnotationOptions, DatasetExportOptions, RunConfig
from ..spreadsheet import frame_csv, safe_frame
from ..storage import jsonl_line, raise_if_disk_full, read_json
from ..superannotate import Ledger
from ..superannotate.report import utc_now
from .clips import ItemAudio, item_audio, sample_span, write_clip
from .destination import check_destination, new_staging, swap
from .events import Event, parse_annotation
from .export_items import Stems, check_nothing_dropped, check_same_run
from .media import BucketMedia, LocalMedia, source_media
from .pull import PulledItem, load_pull
from .pull_gone import missing_notes, warn_used
from .rundata import corrected_problem, draft_for, load_ledger, read_run, run_items

log = logging.getLogger(__name__)
COMPLETED = "Completed"
SEGMENT_COLUMNS = ["item", "source", "status", "segment", "start", "end", "duration", "text"]
SEGMENT_COLUMNS += ["exported", "file_name", "note"]


@dataclass
class ExportReport:
    """What an export wrote.

    Attributes:
        folder: The dataset folder.
        clips: Clips written.
        seconds: Audio seconds in the clips.
        segments: Segments listed in segments.csv.
        left_out: Segments not clipped, by reason.
        problems: Item -> why none of its segments could be exported.
        notes: Item -> events of its annotation left out or cut.
    """

    folder: Path
    clips: int = 0
    seconds: float = 0.0
    segments: int = 0
    left_out: dict[str, int] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)

    def summary_line(self) -> str:
        """One line for people."""
        return (
            f"exported {self.clips} clip(s), {self.seconds:.1f} s, to {self.folder}; "
            f"{sum(self.left_out.values())} segment(s) left out, {len(self.problems)} item(s) with problems"
        )


@locked("export", existing=True)
def export_from_config(config: RunConfig, input_dir: str | Path | None = None) -> ExportReport:
    """`preannotate export`: exports the run in output.dir under the config's dataset options."""
    return export_dataset(config.output.dir, config.dataset, config.annotation, input_dir)


def export_dataset(
    output_dir: str | Path,
    options: DatasetExportOptions,
    annotation: AnnotationOptions,
    input_dir: str | Path | None = None,
) -> ExportReport:
    """Writes the pulled, corrected segments of a run as a training dataset.

    Args:
        output_dir: The run's output folder, after `preannotate pull`.
        options: Destination, formats, status and duration filters, sample rate, audio format.
        annotation: Class and group names.
        input_dir: Where the original media are, a folder or a bucket URL; the run's `config.input.dir`
            when None. Bucket objects are read as the run read them, each checked to be the object it
            transcribed (`preannotate.correction.media`).

    Returns:
        Counts, segments left out and per-item problems (also in export.json).

    Raises:
        CorrectionError: No run or pull in the folder; the destination is the output or input folder,
            or a folder above them, or holds files an export did not make or that changed since
            (nothing is deleted); or it cannot be written.
        DiskFullError: The disk holding the destination is full (the previous dataset is kept).
        LockError: Another export into the same destination is running (`lock_beside`); nothing was written.
        InputError: The media are in a bucket and its cloud's package or credentials are missing.
        StorageLostError: The bucket's endpoint stopped answering for several objects in a row.
    """
    out = Path(output_dir)
    pull, run = load_pull(out), read_run(out)
    media = source_media(out, input_dir or run.get("config", {}).get("input", {}).get("dir") or ".")
    dest = Path(options.dir) if options.dir else out / "dataset"
    protected = {"the run's output folder": out, **media.protected()}
    check_destination(dest, protected)  # before any work: a refused export costs nothing
    check_same_run(dest, {i.item for i in pull.items} | set(run_items(run)), out)
    warn_used(pull.items, "export")
    report = ExportReport(dest)
    speakers = run.get("config", {}).get("speakers") or {}
    channels = tuple(speakers.get("channel_names") or ()) if speakers.get("mode") == "channels" else None
    # Another run's export into dest stops at once rather than swap its own in after this one reported.
    with lock_beside(dest, "export", "is being exported into by"):
        try:
            staging = new_staging(dest)
            try:
                (staging / "clips").mkdir()
                job = _Export(out, media, staging, options, annotation, run_items(run), report, channels)
                rows = [row for pulled in pull.items for row in job.item_rows(pulled)]
                job.raise_if_no_media_read(dest)
                check_nothing_dropped(dest, job.media_failed)
                _write_tables(staging, rows, options, report)
                swap(staging, dest, protected)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        except OSError as e:
            raise_if_disk_full(e, dest.parent)
            raise CorrectionError(f"cannot write the dataset under {dest}: {e.strerror or e}") from e
    log.info("%s", report.summary_line())
    return report


@dataclass
class _Export:
    out: Path
    media: LocalMedia | BucketMedia
    staging: Path
    options: DatasetExportOptions
    annotation: AnnotationOptions
    files: dict[str, dict]
    report: ExportReport
    channels: tuple[str, ...] | None = None  # `speakers.channel_names` of a run in channels mode; None otherwise
    stems: Stems = field(default_factory=Stems)
    media_read: int = 0  # items whose source media were read
    media_failed: dict[str, str] = field(default_factory=dict)  # item -> why the others' could not be
    _ledger_target: tuple[Ledger | None, str] | None = None  # (upload ledger, pull target), read on first use

    def item_rows(self, pulled: PulledItem) -> list[dict]:
        """The segment rows of one pulled item, clipping those that are exported."""
        if pulled.problem or not pulled.file:
            if pulled.problem:
                self.report.problems[pulled.item] = pulled.problem
            return []
        corrected = read_json(self.out / pulled.file)
        problem = corrected_problem(corrected, pulled.item, pulled.file)
        if problem:  # else a file that is not JSON would be "not an annotation object"
            self.report.problems[pulled.item] = problem
            return []
        source = str((self.files.get(pulled.item) or {}).get("source") or "")
        wanted = pulled.status == COMPLETED or not self.options.only_completed
        try:
            audio = self._audio(pulled.item, source) if wanted else None
            duration_us = audio.duration_us if audio else None
            draft = self._draft(pulled.item, corrected)
            parsed = parse_annotation(corrected, self.annotation, duration_us, draft=draft)
        except CorrectionError as e:
            self.report.problems[pulled.item] = str(e)
            return []
        notes = [*missing_notes(pulled), *parsed.notes, *(d.message for d in parsed.disagreements)]
        notes += audio.mixed_notes([e.speaker for e in parsed.events]) if audio else []
        if notes:  # an item gone from SuperAnnotate is exported from its earlier correction: said in export.json
            self.report.notes[pulled.item] = notes
        base = {"item": pulled.item, "source": source, "status": pulled.status}
        reason = None if wanted else f"status {pulled.status}, not {COMPLETED}"
        return [self._segment(base, e, audio, reason) for e in parsed.events]

    def _draft(self, item: str, corrected: Any) -> Any:
        """The annotation uploaded for the item (None if lost), so its text is read by the same rule as in reports.

        The one `corrected` started from, when unconfirmed uploads leave a choice (`draft_for`): a keyframe's
        value is the annotator's only if it differs from what they were shown.
        """
        if self._ledger_target is None:
            self._ledger_target = (load_ledger(self.out), load_pull(self.out).target)
        return draft_for(self.out, *self._ledger_target, item, corrected).annotation

    def _audio(self, item: str, source: str) -> ItemAudio:
        if not source:
            raise CorrectionError(f"{item} is not in run.json: its source media is unknown")
        try:
            if self.channels is not None:
                decoded = self.media.decode_channels(item, source)
            else:
                decoded = [self.media.decode(item, source)]
        except CorrectionError as e:
            self.media_failed[item] = str(e)
            raise
        self.media_read += 1
        return item_audio(decoded, SAMPLE_RATE, self.options.sample_rate, self.channels)

    def raise_if_no_media_read(self, dest: Path) -> None:
        """Stops the export before anything is replaced when no item's source media could be read.

        A mistyped `--input`, a wrong bucket or prefix, or credentials refused fail every item alike: an
        empty dataset written over the earlier one would lose it for a typo.
        """
        if self.media_failed and not self.media_read:
            first = next(iter(self.media_failed.items()))
            raise CorrectionError(
                f"no item's source media could be read ({len(self.media_failed)} tried; the first: "
                f"{first[0]}: {first[1]}): nothing was written and {dest} is as it was; check the input folder or "
                "bucket (--input, or the run's input.dir)"
            )

    def _segment(self, base: dict, event: Event, audio: ItemAudio | None, reason: str | None) -> dict:
        row = {**base, "segment": event.index, "start": event.start, "end": event.end, "duration": event.duration}
        row.update(text=event.text, speaker=event.speaker, exported=False, file_name=None)
        row["note"] = reason or self._duration_reason(event)
        if row["note"] is None and audio is not None:
            first, last = sample_span(event.start_us, event.end_us, self.options.sample_rate)
            name = f"clips/{self.stems.of(base['item'])}-{event.index:04d}.{self.options.audio_format}"
            samples = audio.of(event.speaker)[first:last]
            write_clip(self.staging / name, samples, self.options.sample_rate, self.options.audio_format)
            row.update(exported=True, file_name=name, samples=last - first)
            self.report.clips += 1
            self.report.seconds += (last - first) / self.options.sample_rate
        else:
            key = (row["note"] or "no audio").split(",")[0]
            self.report.left_out[key] = self.report.left_out.get(key, 0) + 1
        return row

    def _duration_reason(self, event: Event) -> str | None:
        if event.duration < self.options.min_duration:
            return f"shorter than min_duration {self.options.min_duration} s"
        if self.options.max_duration is not None and event.duration > self.options.max_duration:
            return f"longer than max_duration {self.options.max_duration} s"
        return None


def _write_tables(folder: Path, rows: list[dict], options: DatasetExportOptions, report: ExportReport) -> None:
    clips = [r for r in rows if r["exported"]]
    report.segments = len(rows)
    speakers = any(r["speaker"] for r in rows)  # a run with speakers: every table gets the column
    if "audiofolder" in options.formats:
        # Training data keeps the exact text: no spreadsheet escaping here, unlike segments.csv. JSON lines, not
        # CSV: `datasets` reads a metadata.csv with pandas' defaults, which turn "NA" or "None" into a missing
        # value and a column of numbers ("007") into floats.
        entries = [{"file_name": r["file_name"], "transcription": r["text"]} for r in clips]
        entries = (
            [{**e, "speaker": r["speaker"] or ""} for e, r in zip(entries, clips, strict=True)] if speakers else entries
        )
        (folder / "metadata.jsonl").write_text("".join(jsonl_line(e) for e in entries), encoding="utf-8")
    if "nemo" in options.formats:
        lines = [jsonl_line(_manifest_entry(r, options.sample_rate)) for r in clips]
        (folder / "manifest.jsonl").write_text("".join(lines), encoding="utf-8")
    if "csv" in options.formats:
        columns = [*SEGMENT_COLUMNS[:8], "speaker", *SEGMENT_COLUMNS[8:]] if speakers else SEGMENT_COLUMNS
        frame = safe_frame(pd.DataFrame(rows, columns=columns))  # for people: opened in spreadsheets
        (folder / "segments.csv").write_text(frame_csv(frame), encoding="utf-8", newline="")
    if not clips:
        (folder / "clips").rmdir()
    record = {"created_at": utc_now(), "options": asdict(options), **asdict(report), "folder": str(report.folder)}
    (folder / "export.json").write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _manifest_entry(row: dict[str, Any], rate: int) -> dict[str, Any]:
    entry = {"audio_filepath": row["file_name"], "duration": row["samples"] / rate, "text": row["text"], "offset": 0.0}
    return {**entry, "speaker": row["speaker"]} if row["speaker"] else entry
