"""Skipping the chunk and export stages when nothing they read changed, so that a re-run reads no transcript.

Chunking and exporting again give exactly the files already there when every file's transcript is
the one the last run journaled (`Plan.reused` counts them), the file list is the same, the chunk
and export keys (their options) are the same, and that run wrote its exports and then run.json
(its journal says `exported`). The chunk results are then taken from that run.json. A review model
file replaced under the same path is not noticed: run with `--force` or change an option then.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..journal import RUN_FILE, Replayed
from ..report import FileResult
from ..storage import read_json

CHUNK_FIELDS: dict[str, tuple[type, ...]] = {"chunks": (int,), "route": (str, type(None))}
CHUNK_FIELDS.update(predicted_wer=(float, int, type(None)), doubtful_share=(float, int, type(None)))
CHUNK_FIELDS["warnings"] = (list,)  # the check's and speakers' too, which no stored transcript holds


def unchanged_chunks(
    out: Path, files: list[FileResult], keys: dict[str, str], previous: Replayed | None, reused: int
) -> list[dict[str, Any]] | None:
    """The last run's chunk results per file, in the order of `files`, when chunking again would change nothing.

    Args:
        out: The output folder.
        files: This run's results, all `skipped`.
        keys: This run's stage keys.
        previous: The last run's journal, played back.
        reused: How many files' results were taken from that journal.

    Returns:
        Each file's chunks, route, predicted WER, doubtful share and warnings; None when the stages must run.
    """
    if previous is None or not previous.exported or reused != len(files):
        return None
    data = read_json(out / RUN_FILE)
    if not isinstance(data, dict) or data.get("stages") != keys or not isinstance(data.get("files"), list):
        return None
    before = data["files"]
    if len(before) != len(files) or not _exports_exist(out, files):
        return None
    kept = []
    for result, entry in zip(files, before):
        if not isinstance(entry, dict) or (entry.get("source"), entry.get("item")) != (result.source, result.item):
            return None
        fields = {name: entry.get(name) for name in CHUNK_FIELDS}
        if entry.get("status") == "failed" or not all(isinstance(fields[n], t) for n, t in CHUNK_FIELDS.items()):
            return None
        kept.append(fields)
    return kept


def _exports_exist(out: Path, files: list[FileResult]) -> bool:
    names = ["chunks.csv", "chunks.jsonl"]
    for f in files:
        names += [f"subtitles/{f.item}.srt", f"subtitles/{f.item}.vtt", f"superannotate/{f.item}.json"]
    return all((out / name).is_file() for name in names)
