"""`preannotate calibrate`'s two candidates on the real speech, as a team's first corrections would feed them.

The chunks of the real-speech runs (both Whisper models), each with its WER against the reference as an
annotator's correction would measure it, go through calibrate's own choice (`correction.calibrate_choice`):
five folds that keep each recording's chunks together, a refit and the shipped model recalibrated (the
English model, as calibrate takes it for English corrections), each scored on the recordings it was not
fitted on. A second scoring holds out one recording at a time (32 folds):
the figures a team would get from its own corrections, with every other recording to fit on. calibrate's own
choice among its candidates is scored held out too (nested cross-validation, `selection` in results.json): the
written candidate's figures flatter it, since it won on them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from scored_runs import labelled_files

from preannotate.check_store import read_checks
from preannotate.correction.calibrate import assessed, shipped_metrics
from preannotate.correction.calibrate_choice import SELECTION, choose, fit_best, fitters, held_out
from preannotate.quality.model import CHECKED, ENGLISH, SLOWED
from preannotate.quality.rivals import lm_rival


def real_rows(runs: list[Path], references: dict[str, str]) -> tuple[list, list[str]]:
    """(features, WER) of every chunk of the runs, with `lm_rival` (the speech is English), and its recording."""
    rows, items = [], []
    for run in runs:
        for record, chunks, found, _ in labelled_files(run, references):
            rows += [({**f, "lm_rival": lm_rival(c)}, w) for c, (f, w) in zip(chunks, found)]
            items += [record["source"]] * len(found)
    return rows, items


def calibrate_on_real(runs: list[Path], references: dict[str, str]) -> dict[str, Any]:
    """The shipped model and both candidates on the real speech's chunks, with what auto would write."""
    rows, items = real_rows(runs, references)
    has_error = np.array([wer > 0 for _, wer in rows])
    chosen = fit_best(rows, has_error, items, seed=0, provenance={}, mode="auto", english=True)
    leave_one_out = one_recording_out(rows, has_error, items, fitters(0, {}, english=True))
    usable = {name: m for name, m in leave_one_out.items() if "auc" in m}
    return {
        "chunks": len(rows),
        "recordings": len(set(items)),
        "shipped": shipped_metrics(rows, has_error, [ENGLISH] * len(rows)),
        "five_folds": {"folds": chosen.folds, **chosen.metrics, "written": chosen.method},
        "one_recording_out": {**leave_one_out, "auto_would_write": choose(usable, "auto")},
    }


def one_recording_out(rows: list, has_error: np.ndarray, items: list[str], fit: dict) -> dict[str, dict]:
    """Each candidate scored with one recording held out at a time; `skipped` with the reason for one that
    cannot be fitted on some recording's complement."""
    recordings = sorted(set(items))
    one_out = [(np.flatnonzero([i != r for i in items]), np.flatnonzero([i == r for i in items])) for r in recordings]
    scores: dict[str, dict] = {}
    for name, fitter in fit.items():
        try:
            scores[name] = held_out(rows, has_error, one_out, fitter)
        except ValueError as exc:
            scores[name] = {"skipped": str(exc)}
    return scores


def checked_rows(run: Path, references: dict[str, str]) -> tuple[list, list[str], list[str]]:
    """(features, WER) of every chunk of one run as calibrate reads them (`assessed`: with the run's checks)."""
    key = json.loads((run / "run.json").read_text())["stages"].get("check")
    rows, items, kinds = [], [], []
    for record, chunks, found, _ in labelled_files(run, references):
        check, slowed = read_checks(run, record["item"], key) if key else (None, None)
        duration = json.loads((run / "transcripts" / f"{record['item']}.json").read_text())["duration"]
        for c, (_, wer) in zip(chunks, found):
            kind, features = assessed(c, float(duration), True, check, slowed)
            rows.append((features, wer))
            kinds.append(kind)
        items += [record["source"]] * len(found)
    return rows, items, kinds


def calibrate_checked(run: Path, references: dict[str, str]) -> dict[str, Any] | None:
    """All of calibrate's candidates on one model's checked run, one recording held out at a time; None when
    some chunk was not checked (then calibrate makes no candidate that reads the check)."""
    rows, items, kinds = checked_rows(run, references)
    if not rows or not set(kinds) <= {CHECKED, SLOWED}:
        return None
    has_error = np.array([wer > 0 for _, wer in rows])
    checked = SLOWED if set(kinds) == {SLOWED} else CHECKED
    scores = one_recording_out(rows, has_error, items, fitters(0, {}, english=True, checked=checked))
    usable = {name: m for name, m in scores.items() if "auc" in m}
    # What calibrate itself does: five folds by recording, and its choice among the four held out too (nested).
    chosen = fit_best(rows, has_error, items, seed=0, provenance={}, mode="auto", english=True, checked=checked)
    return {
        "chunks": len(rows),
        "recordings": len(set(items)),
        "shipped": shipped_metrics(rows, has_error, kinds),
        "one_recording_out": scores,
        "auto_would_write": choose(usable, "auto"),
        "auto_without_the_check": choose({n: m for n, m in usable.items() if not n.endswith("_checked")}, "auto"),
        "five_folds": {"folds": chosen.folds, **chosen.metrics, "written": chosen.method},
    }


def print_checked(label: str, found: dict[str, Any]) -> None:
    """One line per candidate of `calibrate_checked`."""
    print(
        f"calibrate on {label}'s checked drafts ({found['chunks']} chunks, one recording of {found['recordings']} out):"
    )
    for name, m in [("shipped (as assessed)", found["shipped"]), *found["one_recording_out"].items()]:
        print(f"  {name:<24} {scores_line(m)}")
    print(f"  auto writes: {found['auto_would_write']} (without the check: {found['auto_without_the_check']})")
    print_selection(found["five_folds"])


def print_selection(five_folds: dict[str, Any]) -> None:
    """calibrate's own choice on five folds: the written candidate's figures, and the choice held out too."""
    written, selection = five_folds["written"], five_folds.get(SELECTION)
    print(f"  calibrate (five folds {five_folds['folds']}) writes {written}: {scores_line(five_folds[written])}")
    if selection is not None:
        chosen = selection.get("chosen")
        line = scores_line(selection) if chosen else selection["reason"]
        print(f"  its choice held out too (nested)     {line}; chosen {chosen}")


def scores_line(m: dict[str, Any] | None) -> str:
    """A candidate's figures, or why it has none."""
    if m is None or "skipped" in m:
        return "not fitted: " + (m or {}).get("skipped", "no usable relation in some fold")
    return f"recall {m['recall']}, precision {m['precision']}, AUC {m['auc']}"


def print_calibration(found: dict[str, Any]) -> None:
    """One line per candidate and scoring."""
    print(f"calibrate on the real speech ({found['chunks']} chunks of {found['recordings']} recordings, both models):")
    lines = [("shipped model", found["shipped"])]
    for scoring in ("five_folds", "one_recording_out"):
        label = scoring.replace("_", " ")
        lines += [(f"{name} ({label})", found[scoring][name]) for name in ("refitted", "recalibrated")]
    for name, m in lines:
        print(f"  {name:<36} {scores_line(m)}")
    print_selection(found["five_folds"])
