"""The record of a run: per-file results, `run.json` and the summary table."""

from __future__ import annotations

import platform
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, Protocol

from .routing import route_counts, strata
from .storage import write_json_atomic


class Journal(Protocol):
    """Where a report appends its changes (`preannotate.journal.Journal`)."""

    def append(self, record: dict[str, Any]) -> None:
        """Appends one record durably."""

    def close(self) -> None:
        """Closes the journal."""

    def discard_unused(self) -> bool:
        """Removes the journal of a run stopped before its first file, when its folder holds nothing else."""


Status = Literal["ok", "skipped", "failed"]


@dataclass
class FileResult:
    """What happened to one file in a run.

    Attributes:
        item: Item name.
        source: Path relative to the input folder.
        status: `ok` (transcribed now), `skipped` (already finished) or `failed`.
        error: The message of a failure, else None.
        duration: Seconds of audio, when known.
        language: Detected or configured language code.
        language_probability: Probability of the detected language.
        segments: Number of transcript segments.
        chunks: Number of annotation chunks.
        seconds: Wall-clock seconds spent on the file in this run.
        warnings: Things worth knowing that did not stop the file.
        predicted_wer: The review model's expected WER of the file: its chunks' predictions weighted by
            their words (WER counts errors per word); None without chunks.
        doubtful_share: Share of the file's chunks that need review; None without chunks.
        route: How the file goes to annotators: `draft`, `from_scratch` (predicted WER above
            annotation.draft_max_wer: uploaded without text) or `control` (the control arm, also
            without text); None when it was not exported.
    """

    item: str
    source: str
    status: Status
    error: str | None = None
    duration: float | None = None
    language: str | None = None
    language_probability: float | None = None
    segments: int = 0
    chunks: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    predicted_wer: float | None = None
    doubtful_share: float | None = None
    route: str | None = None


@dataclass
class RunReport:
    """The outcome of a run, as written to `run.json`.

    `stages` holds each storing stage's resume key (`preannotate.run.stages.stage_keys`). With a
    `journal` (`preannotate.journal`), `record` and `note` append each change to it, so that run.json
    need only be written at the end of a stage and can be rebuilt after a kill.
    """

    output_dir: Path
    config: dict[str, Any]
    files: list[FileResult] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    stages: dict[str, str] = field(default_factory=dict)
    upload: dict[str, Any] | None = None
    interrupted: bool = False
    journal: Journal | None = field(default=None, repr=False, compare=False)
    _index: tuple[list[FileResult], dict[str, int]] | None = field(default=None, init=False, repr=False, compare=False)

    def record(self, result: FileResult, stored: dict[str, Any] | None = None) -> None:
        """Replaces the result of `result.source` (or adds it) and journals it.

        Args:
            result: A finished file's result.
            stored: Its new transcript's stored state (`preannotate.journal.stored_state`), if any.
        """
        if self._index is None or self._index[0] is not self.files:  # files may have been replaced
            self._index = (self.files, {f.source: i for i, f in enumerate(self.files)})
        position = self._index[1].setdefault(result.source, len(self.files))
        if position == len(self.files):
            self.files.append(result)
        self.files[position] = result
        if self.journal is not None:
            self.journal.append(file_record(result, stored))

    def note(self, **fields: Any) -> None:
        """Sets top-level fields (`model`, `versions`, `interrupted`...) and journals them."""
        for name, value in fields.items():
            setattr(self, name, value)
        if self.journal is not None:
            self.journal.append({"t": "set", "report": fields})

    @property
    def failed(self) -> list[FileResult]:
        """Files that failed in this run."""
        return [f for f in self.files if f.status == "failed"]

    @property
    def upload_failed(self) -> bool:
        """True when the upload step failed as a whole or for some items."""
        return bool(self.upload and self.upload.get("summary", {}).get("failed"))

    def upload_line(self) -> str:
        """One line on what the upload step did."""
        if not self.upload:
            return "upload: not run"
        if "error" in self.upload:
            return f"upload failed: {self.upload['error']}"
        s = self.upload["summary"]
        head = "dry run, nothing uploaded" if self.upload.get("dry_run") else f"uploaded {s['succeeded']}"
        line = f"upload: {head}, skipped {s['skipped']}, failed {s['failed']}, {s['no_url']} without URL"
        if s.get("kept_human_edits"):
            line += f"; kept {s['kept_human_edits']} human-edited item(s) as they are"
        if s.get("overwritten"):
            line += f"; OVERWROTE {s['overwritten']} human-edited item(s) (backups in {self.upload.get('backups')})"
        return line

    def to_dict(self) -> dict[str, Any]:
        """Returns the JSON-ready form of `run.json`."""
        done = [f for f in self.files if f.status != "failed"]
        return {
            "files": [asdict(f) for f in self.files],
            "summary": {
                "files": len(self.files),
                "ok": sum(f.status == "ok" for f in self.files),
                "skipped": sum(f.status == "skipped" for f in self.files),
                "failed": len(self.failed),
                "audio_seconds": round(sum(f.duration or 0.0 for f in done), 3),
                "chunks": sum(f.chunks for f in done),
                "routes": route_counts(f.route for f in done),
                "control_strata": strata([(f.language, f.predicted_wer, f.route) for f in done if f.route]),
                "interrupted": self.interrupted,
            },
            "config": self.config,
            "model": self.model,
            "stages": self.stages,
            "versions": self.versions,
            "upload": self.upload,
        }

    def write(self) -> Path:
        """Writes `run.json` into the output folder, atomically, and returns its path."""
        path = self.output_dir / "run.json"
        write_json_atomic(path, self.to_dict())
        if self.journal is not None:  # the journal's state is in run.json: a reader need not rebuild it
            self.journal.append({"t": "written"})
        return path


def file_record(result: FileResult, stored: dict[str, Any] | None = None) -> dict[str, Any]:
    """The journal record of one finished file; `stored` describes its new transcript (None when it failed)."""
    record: dict[str, Any] = {"t": "file", "file": asdict(result)}
    if stored is not None:
        record["stored"] = stored
    return record


def versions() -> dict[str, str]:
    """Returns the versions of Python and of the packages that shape results."""
    found = {"python": platform.python_version()}
    for name in ("preannotate", "openai-whisper", "torch", "numpy", "av", "superannotate"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    found["platform"] = f"{sys.platform}-{platform.machine()}"
    return found


SHOWN_ROWS = 40  # files listed by the summary table; run.json lists them all
REASONS_SHOWN = 8  # failure reasons counted under a shortened table


def summary_table(files: list[FileResult], shown: int = SHOWN_ROWS) -> str:
    """Formats the per-file results as a plain-text table, with a last line counting items per route.

    A run of more than `shown` files lists its failed files first, then the others, `shown` rows in
    all, and says how many more there are and why the failed ones failed (counted by reason): a run over
    thousands of clips would otherwise print thousands of rows.
    """
    header = ("file", "duration", "language", "segments", "chunks", "pred. WER", "route", "status")
    listed = files if len(files) <= shown else sorted(files, key=lambda f: f.status != "failed")[:shown]
    rows = [header] + [
        (
            _printable(f.source),
            "-" if f.duration is None else f"{f.duration:.1f}s",
            f.language or "-",
            str(f.segments),
            str(f.chunks),
            "-" if f.predicted_wer is None else f"{f.predicted_wer:.0%}",
            f.route or "-",
            f.status if not f.error else f"{f.status}: {_short(f.error)}",
        )
        for f in listed
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows]
    routes = route_counts(f.route for f in files if f.status != "failed")
    counts = "routes: " + ", ".join(f"{n} {route}" for route, n in routes.items())
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:], *_unlisted(files, len(listed)), counts])


def _unlisted(files: list[FileResult], listed: int) -> list[str]:
    """What a shortened table leaves out: how many files, and the failures' reasons with their counts."""
    if listed == len(files):
        return []
    failed = [f for f in files if f.status == "failed"]
    lines = [f"... and {len(files) - listed} more file(s), {len(failed)} failed in all: run.json lists every file"]
    reasons = Counter(_reason(f) for f in failed).most_common()
    lines += [f"  {n} x {reason}" for reason, n in reasons[:REASONS_SHOWN]]
    if len(reasons) > REASONS_SHOWN:
        lines.append(f"  {sum(n for _, n in reasons[REASONS_SHOWN:])} x other reasons")
    return lines


def _reason(result: FileResult) -> str:
    """A failure's reason without its file's path: errors name their file first (`<path>: <reason>`)."""
    error = result.error or "failed"
    at = error.find(f"{result.source}: ")
    if at == 0 or (at > 0 and error[at - 1] in "/\\"):  # the path ends with the source's relative path
        error = error[at + len(result.source) + 2 :]
    return _short(error, 80)


def _short(text: str, limit: int = 100) -> str:
    text = _printable(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _printable(text: str) -> str:
    """`text` with what a terminal would act on (a newline, a tab, an escape sequence) written as escapes.

    A file name may hold a newline or an ESC: printed raw, it would break the table's rows or
    recolour the terminal. Letters of any script are kept as they are.
    """
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
