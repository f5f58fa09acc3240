"""`preannotate calibrate`'s two candidates on the real speech, as a team's first corrections would feed them.

The chunks of the real-speech runs (both Whisper models), each with its WER against the reference as an
annotator's correction would measure it, go through calibrate's own choice (`correction.calibrate_choice`):
five folds that keep each recording's chunks together, a refit and the shipped model recalibrated (the
English model, as calibrate takes it for English corrections), each scored on the recordings it was not
fitted on. A second scoring holds out one recording at a time (32 folds):
the figures a team would get from its own corrections, with every other recording to fit on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scored_runs import labelled_files

from preannotate.correction.calibrate import shipped_metrics
from preannotate.correction.calibrate_choice import choose, fit_best, fitters, held_out
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
    recordings = sorted(set(items))
    one_out = [(np.flatnonzero([i != r for i in items]), np.flatnonzero([i == r for i in items])) for r in recordings]
    fit = fitters(0, {}, english=True)
    leave_one_out = {name: held_out(rows, has_error, one_out, fit[name]) for name in fit}
    return {
        "chunks": len(rows),
        "recordings": len(recordings),
        "shipped": shipped_metrics(rows, has_error, english=True),
        "five_folds": {"folds": chosen.folds, **chosen.metrics, "written": chosen.method},
        "one_recording_out": {**leave_one_out, "auto_would_write": choose(leave_one_out, "auto")},
    }


def print_calibration(found: dict[str, Any]) -> None:
    """One line per candidate and scoring."""
    print(f"calibrate on the real speech ({found['chunks']} chunks of {found['recordings']} recordings, both models):")
    lines = [("shipped model", found["shipped"])]
    for scoring in ("five_folds", "one_recording_out"):
        label = scoring.replace("_", " ")
        lines += [(f"{name} ({label})", found[scoring][name]) for name in ("refitted", "recalibrated")]
    for name, m in lines:
        print(f"  {name:<36} recall {m['recall']}, precision {m['precision']}, AUC {m['auc']}")
    print(f"  auto writes: {found['five_folds']['written']} (folds {found['five_folds']['folds']})")
