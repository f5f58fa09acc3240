"""The model file `preannotate calibrate` writes, and what it may replace.

The file is sealed: provenance["written_by"] holds calibrate's name and the sha256 of the file without that
entry, so that an existing file is replaced only when calibrate wrote it and nobody changed it since (a run's
chunks.csv, a model someone fitted or edited by hand, any other file of someone's is kept).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CorrectionError, CorrectionInputError, DestinationError
from ..quality.model import FORMAT as MODEL_FORMAT
from ..storage import remove_stale_temps, write_text_atomic
from .calibrate_lock import holding

MODEL_FILE = "review_model.json"
TARGET = "measured WER of pulled corrections"
WRITTEN_BY = "preannotate calibrate"  # the seal's command


@dataclass(frozen=True)
class Calibration:
    """The model calibrate writes, with both candidates' held-out scores.

    Attributes:
        model: The model written, fitted on every row.
        rows: Chunks used, with errors, checked by a second model, and chunks left out (no record, or no measured
            WER).
        metrics: `refitted` and `recalibrated`, and for checked drafts `refitted_checked` and
            `recalibrated_checked` (held out, with `auc`; None for one that could not be fitted), `uploaded` (the
            drafts' own needs_review) and `shipped` (the shipped models, each chunk scored by the one that
            assessed its draft), each a FlagMetrics dict or None when unknown.
        method: Which candidate `model` is (a key of `metrics`).
        folds: How the held-out folds were made: `by item` or `by chunk`.
    """

    model: Any
    rows: dict[str, int]
    metrics: dict[str, dict | None]
    method: str = "refitted"
    folds: str = "by chunk"


def write_model(calibration: Calibration, path: str | Path) -> Path:
    """Writes the model JSON (atomically), with the held-out scores in its provenance.

    Holds the lock that guards the model file (`calibrate_lock.model_run`) while it checks and replaces it.

    Raises:
        CorrectionInputError: `path` is a folder.
        DestinationError: `path` is a file calibrate did not write, or one changed since (it is kept).
        CorrectionError: The file cannot be written.
        LockError: Another process works in the run the model lies in, or writes the same model: nothing was
            written.
    """
    check_model_path(path)  # before the lock: a path refused gets no lock file (nor folder) either
    model = calibration.model
    data = model.to_dict()
    data["provenance"] = {
        **data.get("provenance", {}),
        "held_out": calibration.metrics,
        "rows": calibration.rows,
        "method": calibration.method,
        "folds": calibration.folds,
    }
    seal = {"command": WRITTEN_BY, "sha256": _digest(data)}
    data["provenance"]["written_by"] = seal
    with holding((), model=path):
        check_model_path(path)  # again under the lock: the file may have changed since the check before the fit
        # a killed calibrate's half-written model: the lock sweeps only runs, and this may be the user's folder
        with contextlib.suppress(OSError):
            remove_stale_temps(Path(path).parent, target=Path(path).name)
        try:
            write_text_atomic(path, json.dumps(data, indent=2) + "\n")
        except OSError as e:
            raise CorrectionError(f"cannot write the review model {path}: {e.strerror or e}") from e
    return Path(path)


def check_model_path(path: str | Path) -> None:
    """Refuses a model path that is empty, a folder, under a file, or a file calibrate did not write unchanged.

    An existing file is replaced only when it is a model calibrate wrote, unchanged since (a run's
    chunks.csv, a model someone fitted or edited by hand, any other file of someone's is kept).

    Raises:
        CorrectionInputError: `path` names no file that could be written.
        DestinationError: `path` is a file calibrate did not write, or one changed since.
    """
    if not str(path).strip():
        raise CorrectionInputError(f"--out is empty: give the model file's name, e.g. {MODEL_FILE}")
    if Path(path).is_dir():
        raise CorrectionInputError(f"{path} is a folder: give the model file's name, e.g. {Path(path) / MODEL_FILE}")
    above = next((p for p in Path(path).absolute().parents if p.exists()), None)
    if above is not None and not above.is_dir():  # found now, not after a fit of minutes
        raise CorrectionInputError(f"cannot write {path}: {above} is a file, not a folder")
    problem = _replace_problem(Path(path))
    if problem:
        raise DestinationError(
            f"refusing to replace {path}: {problem}; nothing was written. Give another file with --out, "
            "or move this one away"
        )


def _digest(data: dict) -> str:
    """The sha256 of the model file's text without provenance["written_by"] (as write_model writes it)."""
    provenance = {k: v for k, v in data["provenance"].items() if k != "written_by"}
    text = json.dumps({**data, "provenance": provenance}, indent=2) + "\n"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _replace_problem(path: Path) -> str | None:
    """Why the file at `path` may not be replaced by a new model; None when there is none or calibrate wrote it.

    A model calibrate wrote before it sealed its files (no `written_by`) is known by its provenance.
    """
    if path.is_symlink():
        return "it is a symbolic link; give the file it points to"
    if not path.exists():
        return None
    not_ours = "it is not a review model that `preannotate calibrate` wrote"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # UnicodeDecodeError too
        return not_ours
    provenance = data.get("provenance") if isinstance(data, dict) else None
    if not isinstance(provenance, dict) or data.get("format") != MODEL_FORMAT:
        return not_ours
    seal = provenance.get("written_by")
    if seal is None:
        legacy = provenance.get("target") == TARGET and isinstance(provenance.get("calibrated_on"), list)
        return None if legacy else not_ours
    if not isinstance(seal, dict) or seal.get("command") != WRITTEN_BY:
        return not_ours
    if seal.get("sha256") != _digest(data):
        return "it was changed since `preannotate calibrate` wrote it"
    return None
