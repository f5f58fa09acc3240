"""The review model for checked drafts (`annotation.cross_check`): its training rows and its note.

A draft checked by a second model gets one more feature, `unconfirmed_words`: how many of a chunk's
words the check model heard otherwise. For the training and held-out splits every file is transcribed
by both Whisper models already (tools/fit_review_model.py), so each model's run is the other's check,
made with the same pipeline and options as the run's `check` stage makes it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from preannotate.quality.crosscheck import CheckWord, unconfirmed, unconfirmed_words
from preannotate.quality.evaluate import flag_metrics
from preannotate.results import Transcript

# Which model checks which in the training rows: the run's `auto` checks base with tiny.en; tiny.en drafts
# checked by base (a team's explicit choice) are fitted on too, so that the feature means the same for both.
CHECKER = {"bundled:base": "bundled:tiny.en", "bundled:tiny.en": "bundled:base"}


def check_words(run: Path, item: str) -> list[CheckWord]:
    """Every word of an item's stored transcript in a run, as a check's words."""
    transcript = Transcript.from_dict(json.loads((run / "transcripts" / f"{item}.json").read_text()))
    return [CheckWord(w.start, w.end, w.word) for s in transcript.segments for w in (s.words or ())]


def checked_records(records: dict, runs: Path) -> dict:
    """The records with `unconfirmed_words` in their features, each chunk checked by the other model's run.

    Args:
        records: Chunk records per (split, model), from `fit_review_model.collect`.
        runs: The folder of the runs, named `<split>-<model>`.
    """
    checked = {}
    for (split, model), rows in records.items():
        other = runs / f"{split}-{CHECKER[model].split(':')[-1]}"
        cache: dict[str, list[CheckWord]] = {}
        checked[split, model] = [
            {
                **r,
                "features": {
                    **r["features"],
                    "unconfirmed_words": float(
                        unconfirmed_words(r["chunk"], cache.setdefault(r["file"], check_words(other, r["file"])))
                    ),
                },
            }
            for r in rows
        ]
    return checked


def doubtful_word_metrics(records: list[dict], runs: Path, word_threshold: float) -> dict:
    """How well each way of listing doubtful words finds the wrong words of held-out chunks of one model.

    Args:
        records: One model's held-out chunk records (with `wrong`, the indices of their wrong words).
        runs: The folder of the runs; each record's check is the other model's run of its split.
        word_threshold: The review model's word threshold.

    Returns:
        Recall and precision of: words under the threshold, words the check heard otherwise, and either.
    """
    flags: dict[str, list[bool]] = {"under_threshold": [], "heard_otherwise": [], "either": []}
    wrong: list[bool] = []
    for r, i, word, heard in checked_words(records, runs):
        low = word.probability < word_threshold
        flags["under_threshold"].append(low)
        flags["heard_otherwise"].append(heard)
        flags["either"].append(low or heard)
        wrong.append(i in r["wrong"])
    return {name: flag_metrics(wrong, listed).to_dict() for name, listed in flags.items()}


def checked_words(records: list[dict], runs: Path) -> Iterator[tuple[dict, int, Any, bool]]:
    """Each word of the records' chunks: its record, index, word, and whether the check heard it otherwise.

    A record's check is the other model's run of its split (`CHECKER`); each file's words are read once.
    """
    cache: dict[tuple[str, str], list[CheckWord]] = {}
    for r in records:
        other = runs / f"{r['split']}-{CHECKER[r['model']].split(':')[-1]}"
        check = cache.setdefault((str(other), r["file"]), check_words(other, r["file"]))
        otherwise = unconfirmed(r["chunk"], check).words
        for i, word in enumerate(r["chunk"].words):
            if word.word.strip():
                yield r, i, word, i in otherwise


def checked_note(model) -> str:
    """The note's section on the checked model, from its provenance."""
    lines = model_section(model, [
        "## The model for checked drafts (`review_model_checked.json`)",
        "Made by the same script on the same rows, with one more feature, `unconfirmed_words`: how many of the",
        "chunk's words a second model heard otherwise (`preannotate/quality/crosscheck.py`; the run's `check` stage,",
        "`annotation.cross_check`). In the training rows each model's draft is checked by the other model's run",
        f"({', '.join(f'{d} by {c}' for d, c in CHECKER.items())}).",
    ])  # fmt: skip
    lines += ["", "Doubtful words against wrong words, held out (listed now: either):"]
    for name, ways in model.provenance.get("doubtful_words", {}).items():
        parts = [
            f"{way.replace('_', ' ')} recall {m['recall']} at precision {m['precision']}" for way, m in ways.items()
        ]
        lines.append(f"- {name}: {'; '.join(parts)} ({next(iter(ways.values()))['with_error']} wrong words)")
    return "\n".join(lines) + "\n"


def section_text(model, intro: list[str]) -> str:
    """`model_section` as the note's text."""
    return "\n".join(model_section(model, intro)) + "\n"


def model_section(model, intro: list[str]) -> list[str]:
    """A shipped model's note section: `intro`, then its fit and its evaluation table, from its provenance."""
    fit = model.provenance["fit"]
    coefs = ", ".join(f"{n} {c:+.3f}" for n, c in zip(model.features, model.coef) if c)
    lines = [
        *intro,
        f"Fit: {fit['rows']} chunks, {fit['with_error']} with an error; C = {fit['C']}; coefficients (standardized):",
        f"{coefs}. threshold = {model.threshold:.4f}. Out of fold: recall {fit['out_of_fold']['recall']},"
        f" precision {fit['out_of_fold']['precision']}, AUC {fit['out_of_fold']['auc']}.",
        "",
        "| model | set | chunks | with error | flagged | recall | precision | AUC |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, sets in model.provenance.get("evaluation", {}).items():
        lines += [
            f"| {name} | {label} | {m['chunks']} | {m['with_error']} | {m['flagged']} | {m['recall']} |"
            f" {m['precision']} | {m.get('auc', '')} |"
            for label, m in sets.items()
            if m is not None  # the benchmark's run of this model checked no file (`auto` leaves tiny drafts alone)
        ]
    return lines
