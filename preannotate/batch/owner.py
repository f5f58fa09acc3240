"""Whether a batch may write a run's folder: one a batch made, or one that holds none of what it writes.

In `<out>/<run name>/` a batch writes MARKER, `parameters.yaml`, `papermill.log` (truncated) and
`notebook.ipynb` (deleted, then written by papermill) without asking: that is how a rerun or `--resume`
refreshes its own work. Pointed at folders of the user's own (`--datasets data --out data`, an `--out`
where a project keeps a `notebook.ipynb`), it must first see that those files are its own, for every
run before any starts (`check_run_folders`). The proof:

- MARKER: a batch writes it into a run folder before anything else, so that a run killed at any point,
  even while papermill writes the notebook, leaves a folder that shows it is a batch's;
- a run folder of an earlier version has no MARKER. Its files are a batch's when `notebook.ipynb` is one
  papermill executed into a folder of this name with the parameters `parameters.yaml` holds; or, the
  notebook missing or no JSON object (killed mid-write: a user's notebook is always an object), when
  `parameters.yaml` holds this very run's parameters beside a `papermill.log`.

Whatever the proof, a link, a folder or any other non-file by one of those names is refused: a batch
never makes one, and writing through a link would change the file it points to. The notebook's own
output folder (`output_dir`) gets the check a run makes there (`preannotate.run.owner`), so that a folder
the run would refuse stops the batch before any run, not that run alone after the others.

The batch holds the lock of `--out` itself (`preannotate.lock`) while it works, and each run, in its own
kernel process, the lock of its output folder: a run folder is always a sub-folder of `--out`, so the two
never meet, but an `output_dir` (or `run_dir`) that is `--out` itself would be refused by the batch's lock
in every run: such a plan is refused before any run (`check_run_folders`).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, listed
from ..journal import JOURNAL_FILE, RUN_FILE
from ..notebook import project_root
from ..run.owner import foreign_outputs
from ..storage import read_json
from .plan import OUTPUT_PARAMETERS, Run

EXECUTED, PARAMETERS_FILE, LOG_FILE = "notebook.ipynb", "parameters.yaml", "papermill.log"
MARKER = ".preannotate-batch.json"
MADE_BY = "preannotate batch"
WRITTEN = (MARKER, PARAMETERS_FILE, LOG_FILE, EXECUTED)  # what a batch writes in a run folder
_SHOWN = 5  # names listed per folder, as `preannotate run` lists them
_FOLDERS_SHOWN = 3  # refused folders described in the message


def check_run_folders(runs: list[Run]) -> None:
    """Raises ConfigError when any run's folder or output folder holds files its run cannot show are its own.

    Args:
        runs: The prepared runs (their folders may not exist yet).

    Raises:
        ConfigError: Names each refused folder (up to three) and up to five of its files; or a run whose
            output folder is the batch folder, which the batch holds locked; nothing has run.
    """
    _check_outputs_below_out(runs)
    problems = [problem for run in runs for problem in _problems(run)]
    if problems:
        more = len(problems) - _FOLDERS_SHOWN
        raise ConfigError(
            "; ".join(problems[:_FOLDERS_SHOWN]) + (f"; and {more} more folder(s)" if more > 0 else "")
            + ": the batch would overwrite them, so no run was started. Choose another --out (or output_dir), "
            "or move them aside"
        )  # fmt: skip


def _check_outputs_below_out(runs: list[Run]) -> None:
    """Refuses a run whose output folder is the batch folder: the batch's lock there would refuse its run."""
    for run in runs:
        out = run.folder.parent  # every run folder is `<--out>/<run name>` (plan._run)
        for name in OUTPUT_PARAMETERS:
            value = run.parameters.get(name)
            # A relative one (another notebook's: this package's are made absolute) is read by the kernel, which
            # papermill starts in the project's root.
            where = os.path.join(project_root(), os.path.expanduser(value)) if isinstance(value, str) else ""
            if value and os.path.realpath(where) == os.path.realpath(out):
                raise ConfigError(
                    f"{name} of run {run.name!r} is the batch folder {out} itself, which the batch holds locked while "
                    f"it works, so the run could not lock it: leave {name} unset (the run's own folder, "
                    f"{run.folder}) or give another folder, or another --out; no run was started"
                )


def _problems(run: Run) -> list[str]:
    """What keeps `run` from writing its folder and its output folder, one line per folder."""
    found = []
    names = foreign_files(run)
    if names:
        found.append(
            f"run folder {run.folder} holds {listed(names, _SHOWN)}, and neither {MARKER} nor an executed notebook of "
            "a preannotate batch shows they are its own"
        )
    output_dir = run.parameters.get("output_dir")
    names = foreign_outputs(Path(output_dir)) if isinstance(output_dir, str) and output_dir else []
    if names:
        found.append(
            f"output folder {output_dir} of run {run.name!r} holds {listed(names, _SHOWN)}, and no {RUN_FILE} or "
            f"{JOURNAL_FILE} of a preannotate run shows they are its own"
        )
    return found


def foreign_files(run: Run) -> list[str]:
    """The names a batch writes that `run`'s folder holds, when they are not shown to be a batch's; else []."""
    kinds = {name: _is_file(run.folder / name) for name in WRITTEN}
    present = [name for name, kind in kinds.items() if kind is not None]
    if not present or (all(kinds[name] for name in present) and _made_by_batch(run)):
        return []
    return present


def _is_file(path: Path) -> bool | None:
    """Whether `path` is a plain file (not a link to one); None when it is absent or cannot be looked at.

    A folder that cannot be listed: its run then fails alone, saying why, as one that cannot be made.
    """
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return None


def _made_by_batch(run: Run) -> bool:
    """Whether `run`'s folder shows that a batch wrote its files: MARKER, or (earlier versions) its notebook."""
    if is_marker(read_json(run.folder / MARKER)):
        return True
    saved = _yaml_mapping(run.folder / PARAMETERS_FILE)
    if saved is None:
        return False
    notebook = read_json(run.folder / EXECUTED)
    if isinstance(notebook, dict):
        papermill = mapping_at(mapping_at(notebook, "metadata"), "papermill")
        output = papermill.get("output_path")
        # The batch hands papermill `<out>/<run name>/notebook.ipynb`; by hand it is often `notebook.ipynb` alone.
        here = isinstance(output, str) and Path(output).parent.name == run.folder.name
        return here and as_json(papermill.get("parameters")) == as_json(saved)
    return as_json(saved) == as_json(run.parameters) and bool(_is_file(run.folder / LOG_FILE))


def _yaml_mapping(path: Path) -> dict[str, Any] | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):  # missing, unreadable, not UTF-8 or not YAML
        return None
    return data if isinstance(data, dict) else None


def mapping_at(data: Any, key: str) -> dict[str, Any]:
    """`data[key]` when both are JSON objects, else {}: a damaged notebook's metadata reads as none."""
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def as_json(value: Any) -> Any:
    """`value` as papermill saves parameters: what JSON holds, and the text of anything else (a YAML date)."""
    return json.loads(json.dumps(value, default=str))


def is_marker(record: Any) -> bool:
    """Whether `record` (a JSON file's content) is a MARKER a batch wrote."""
    return isinstance(record, dict) and record.get("made_by") == MADE_BY


def write_marker(folder: Path) -> None:
    """Writes MARKER into `folder` unless it is there: first, before any other file of the run.

    Raises:
        OSError: The folder cannot be written.
    """
    if not is_marker(read_json(folder / MARKER)):
        record = {"made_by": MADE_BY, "format": 1}
        # Renamed into place: a kill mid-write never leaves an empty marker, which would refuse the folder.
        # Plain OSError (no storage.atomic_writer): a run folder that cannot be written fails its run alone.
        temporary = folder / f"{MARKER}.{os.getpid()}.tmp"
        temporary.write_text(json.dumps(record) + "\n", encoding="utf-8")
        os.replace(temporary, folder / MARKER)
