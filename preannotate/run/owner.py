"""Whether `run` may write into an output folder: one it made, or one that holds none of what it writes.

A run replaces `run.json`, `chunks.csv`, `chunks.jsonl` and whatever is in its folders (`transcripts/`,
`subtitles/`...) without asking: that is how a re-run or a resume refreshes its own work. Pointed at a
folder of the user's own (`-o` the input folder, a project folder with a `chunks.csv` of its own), it must
first see that those files are its own: a `run.json` or `journal.jsonl` one of its runs wrote.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ..errors import ConfigError, listed
from ..journal import JOURNAL_FILE, RUN_FILE
from ..storage import read_json, refuse_special_file

#: What a run writes at the top of its output folder (files and folders).
WRITTEN = (
    RUN_FILE, JOURNAL_FILE, "chunks.csv", "chunks.jsonl", "transcripts", "checks", "speakers", "subtitles",
    "superannotate",
)  # fmt: skip
_SHOWN = 5  # names listed in the message
log = logging.getLogger(__name__)


def check_output_folder(out: Path) -> None:
    """Raises ConfigError when `out` holds what a run writes but nothing shows a run of this tool wrote it.

    Args:
        out: The output folder (it may not exist yet).

    Raises:
        ConfigError: Names the folder and up to five of the files or folders a run would overwrite.
    """
    present = foreign_outputs(out)
    if present:
        shown = listed(present, _SHOWN)
        raise ConfigError(
            f"output folder {out} holds {shown}, and no {RUN_FILE} or {JOURNAL_FILE} of a preannotate run shows "
            "they are its own: a run would overwrite them. Choose another output folder (-o), or move them aside"
        )


def foreign_outputs(out: Path) -> list[str]:
    """The names a run writes that `out` holds while no run of this tool is recorded there; [] when it may write."""
    present = [name for name in WRITTEN if _present(out / name)]
    if not present or made_by_a_run(out):
        return []
    return present


def _present(path: Path) -> bool:
    """Whether `path` exists (a dangling link too); False when it cannot be looked at.

    A name too long, say: taking the folder's lock then names that problem.
    """
    try:
        return path.exists() or path.is_symlink()
    except OSError:
        return False


def made_by_a_run(out: Path) -> bool:
    """Whether `out` holds a run record of this tool: a journal that one started, or a `run.json` of one."""
    if _journal_started(out / JOURNAL_FILE):  # its first line: cheaper than run.json, which lists every file
        return True
    record = read_json(out / RUN_FILE)
    if isinstance(record, dict) and isinstance(record.get("files"), list) and isinstance(record.get("config"), dict):
        return True
    # Both records there but damaged (a full disk, a truncated copy): a transcript only this tool writes shows
    # the folder is a run's, which then resumes from its transcripts rather than being refused as the user's.
    if any(_present(out / name) for name in (RUN_FILE, JOURNAL_FILE)) and _own_transcript(out / "transcripts"):
        log.warning("%s: %s and %s are damaged; its transcripts show it is a run's folder", out, RUN_FILE, JOURNAL_FILE)
        return True
    return False


def _own_transcript(folder: Path, looked: int = 3) -> bool:
    """Whether one of the first few transcripts in `folder` is one this tool wrote (its `meta` block)."""
    try:
        paths = sorted(folder.glob("*.json"))[:looked]
    except OSError:
        return False
    for path in paths:
        data = read_json(path) if path.is_file() else None
        meta = data.get("meta") if isinstance(data, dict) else None
        if isinstance(meta, dict) and isinstance(meta.get("options_key"), str) and isinstance(meta.get("source"), dict):
            return True
    return False


def _journal_started(path: Path) -> bool:
    refuse_special_file(path)  # a named pipe would hold the run here for ever
    try:
        with path.open(encoding="utf-8", errors="replace") as journal:
            first = json.loads(journal.readline())
    except (OSError, ValueError):  # missing, unreadable, or not a journal's first line
        return False
    return isinstance(first, dict) and first.get("t") == "start"


def warn_other_input(
    out: Path, before: dict[str, Any], earlier: list[str], input_dir: str, items: set[str]
) -> list[str]:
    """Warns when files of the folder's last run are not in this run: another input, or files gone from it.

    Their transcripts, subtitles and SuperAnnotate files stay in the folder (derived from recordings no longer
    read, they are not deleted), but run.json, chunks.csv and chunks.jsonl list only this run's files: a folder
    reused for another dataset (two batches of one run name, a copied command) would otherwise drop the first
    dataset's results from view without a word, and a recording removed from the input its row.

    Args:
        out: The output folder.
        before: The last run's configuration (its journal's, played back).
        earlier: The last run's items.
        input_dir: This run's input folder, as configured.
        items: The items this run lists.

    Returns:
        The earlier run's items this run leaves out.
    """
    left = sorted(set(earlier) - items)
    if not left:
        return []
    source = before.get("input")
    was = source.get("dir") if isinstance(source, dict) else None
    other = isinstance(was, str) and not _same_input(was, input_dir)
    why = (
        f"held a run of another input ({was}): {len(left)} of its file(s) are not in {input_dir}"
        if other
        else f"{len(left)} file(s) of its last run are no longer in {input_dir}"
    )
    back = f"; `-i {was}` brings them back" if other else ""
    log.warning(
        "%s %s, and leave run.json, chunks.csv and chunks.jsonl (their transcripts, subtitles and SuperAnnotate "
        "files stay in the folder%s): %s",
        out, why, back, listed(left, _SHOWN),
    )  # fmt: skip
    return left


def _same_input(a: str, b: str) -> bool:
    if "://" in a or "://" in b:
        return a.rstrip("/") == b.rstrip("/")
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
