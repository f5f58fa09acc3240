"""`preannotate calibrate`: refitting the review model on a team's own pulled corrections.

Each compared draft chunk gives one row: its features (`quality.chunk_features`, recomputed from its
record in chunks.jsonl, which keeps the words and signals exactly as chunked for upload) and the WER
the annotators' corrections measured for it (its group's; a deleted chunk counts 1). Chunks are
matched to their records by item, start (within 1 ms) and text, as the report matches its quality
data, so a run re-chunked after upload contributes only the chunks that were uploaded.

Two models are made and scored on chunks they were not fitted on (stratified 5-fold cross-validation that
keeps each item's chunks in one fold where the items allow it; `calibrate_choice` says why and how): one
refitted from scratch and the shipped one recalibrated (its score kept, its WER mapping and threshold fitted).
When every compared chunk is English, the shipped one is the English model (it assessed those drafts) and both
read its language model's rival words (`quality.rivals`); otherwise review_model.json's recipe, for any language.
When every compared chunk was checked by a second model (`annotation.cross_check`), the same two are also made
from the shipped model for checked drafts, reading the check's words from the run's `checks/` (`assessed`):
a model written from them makes the next runs check their drafts too (`review.Reviewer`).
The best held-out ranking is written (or the best of the method `correction.calibration` names), and all are
shown beside the flags the drafts were uploaded with and the shipped models', which never saw these chunks.

Locks: `calibrate` holds the lock of every run it reads, `write_model` the one that guards the model file
(`calibrate_lock` says why and how). The model file, and what may be replaced by it: `calibrate_model`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..check_store import read_checks_by
from ..chunking import Chunk
from ..errors import ConfigError, CorrectionError, CorrectionInputError, PreannotateError
from ..options import AnnotationOptions, CorrectionOptions, RunConfig
from ..quality import chunk_features, flag_metrics
from ..quality.crosscheck import CheckWord, unconfirmed_words
from ..quality.model import CHECKED, ENGLISH, LANGUAGES, PLAIN, SLOWED, shipped_recipe
from ..quality.rivals import lm_rival, shipped_rivals
from ..results import Word
from ..sa_format import microseconds
from .calibrate_choice import MIN_PER_CLASS, fit_best, scored
from .calibrate_lock import calibration_lock, holding
from .calibrate_model import MODEL_FILE, TARGET, Calibration, check_model_path, write_model
from .compare import compare_run
from .pull import load_pull
from .report import REPORT_DIR
from .rundata import MATCH_US, jsonl_records, read_run, run_items

MODEL_DIR = REPORT_DIR  # in the run, beside the correction report
# The record's fields the features read (besides index and words); others (doubtful words...) are not needed.
_SIGNALS: tuple[str, ...] = ("start", "end", "text", "mean_word_probability", "min_word_probability", "avg_logprob")
_SIGNALS += ("no_speech_prob", "compression_ratio", "temperature")


def check_same_names(runs: Sequence[str | Path], annotations: Sequence[AnnotationOptions]) -> None:
    """Raises ConfigError when runs read their annotations by other names (class, groups): one set misreads some.

    Args:
        runs: The runs' output folders.
        annotations: Each run's annotation options (the names it recorded, then the file and `--set`).
    """
    fields = ("class_name", "text_group", "review_group", "reason_group", "doubtful_group", "speaker_group")
    names = [tuple(getattr(a, f) for f in fields) for a in annotations]
    other = next((run for run, n in zip(runs, names) if n != names[0]), None)
    if other is not None:
        raise ConfigError(
            f"{runs[0]} and {other} were run with other annotation options (text group, class...): calibrate "
            "them apart, or give the names with --set annotation.<name>=... (applied to every run)"
        )


def chunk_from_record(record: dict) -> Chunk | None:
    """The chunk a chunks.jsonl record describes; None when the record is damaged."""
    try:
        words = tuple(Word.from_dict(w) for w in record.get("words") or ())
        # Which signals a record holds is known only at run time: Chunk checks the names it is given.
        values: dict[str, Any] = {k: float(record[k]) for k in _SIGNALS if k != "text" and record.get(k) is not None}
        if not isinstance(record.get("text"), str) or not all(map(math.isfinite, values.values())):
            return None
        return Chunk(index=int(record["chunk"]), text=record["text"], words=words, **values)
    except (KeyError, TypeError, ValueError, PreannotateError):  # damage costs only this chunk
        return None


def run_rows(output_dir: str | Path, annotation: AnnotationOptions, options: CorrectionOptions) -> dict[str, list]:
    """(features, measured WER) rows of one pulled run, with the uploaded flags and the chunks left out.

    Raises:
        CorrectionError: The folder holds no run or no pull.
    """
    out = Path(output_dir)
    result = compare_run(out, annotation, options)
    run = read_run(out)
    files, records = run_items(run), jsonl_records(out)
    key = (run.get("stages") or {}).get("check")  # the check the chunks were assessed with, if any
    checks: dict[str, tuple[list[CheckWord] | None, list[CheckWord] | None]] = {}
    found: dict[str, list] = {"rows": [], "uploaded": [], "left_out": [], "items": [], "english": [], "kinds": []}
    found["checked_by"] = []  # the check models of the items with a check
    for row in result.chunks.to_dict("records") if len(result.chunks) else []:
        item, file = row["item"], files.get(row["item"]) or {}
        duration = file.get("duration")
        chunk = _match(records.get(item, []), row["start"], row["text"])
        if chunk is None or _missing(row.get("measured_wer")) or not isinstance(duration, (int, float)):
            found["left_out"].append(f"{item} chunk {row['chunk']}")
            continue
        if item not in checks:
            # a run.json record's item names a plain file name (`run_items`): no path is built from anything else
            check, slowed, by = read_checks_by(out, item, key) if isinstance(key, str) else (None, None, None)
            checks[item] = check, slowed
            found["checked_by"] += [by] if by else []
        english = file.get("language") == "en" and shipped_rivals() is not None
        kind, features = assessed(chunk, float(duration), english, *checks[item], language=file.get("language"))
        found["rows"].append((features, float(row["measured_wer"])))
        found["english"].append(english)
        found["kinds"].append(kind)
        found["items"].append(str(item))  # one recording's chunks stay in one fold, whichever run
        found["uploaded"].append(None if _missing(row.get("needs_review")) else bool(row["needs_review"]))
    return found


def assessed(
    chunk: Chunk,
    duration: float,
    english: bool,
    check: Sequence[CheckWord] | None = None,
    slowed: Sequence[CheckWord] | None = None,
    *,
    language: str | None = None,
) -> tuple[str, dict[str, float]]:
    """A chunk's features as its run assessed it, and the kind of shipped model that did (`shipped_recipe`).

    As `review.Reviewer` does: the check's words and the slowed decode's when the run made them, the language
    model's rival words for English (`english`); every candidate of `fitters` reads its recipe's among them.
    A file in another language (`language`) without a check was assessed by the model of other languages.
    """
    unconfirmed = unconfirmed_words(chunk, check) if check is not None else 0
    unstable = unconfirmed_words(chunk, slowed) if check is not None and slowed is not None else 0
    rival = lm_rival(chunk) if english else 0.0
    kind = ENGLISH if english else LANGUAGES if language and language != "en" else PLAIN
    if check is not None:
        kind = SLOWED if slowed is not None else CHECKED
    return kind, chunk_features(chunk, duration, unconfirmed=unconfirmed, unstable=unstable, rival=rival)


def calibrate(
    runs: Sequence[str | Path], annotation: AnnotationOptions, options: CorrectionOptions, seed: int = 0
) -> Calibration:
    """Refits the review model on the pulled corrections of one or more runs and scores it held out.

    Holds the lock of every run (`preannotate.lock`) from the first read to the end of the fit.

    Raises:
        CorrectionError: A run has no pull, a run is given twice, two runs pulled the same item of the same
            project, or too few chunks with and without errors to fit.
        InputError: A run's folder does not exist.
        LockError: Another process (a `pull`, `report`, another calibrate...) works in one of the runs: the
            message names it; nothing was read.
    """
    _check_distinct(runs)
    with holding(runs, runs):  # a pull must not rewrite a run while it is read (nor before the fit ends)
        return _calibrate(runs, annotation, options, seed)


def _calibrate(
    runs: Sequence[str | Path], annotation: AnnotationOptions, options: CorrectionOptions, seed: int
) -> Calibration:
    _check_items_once(runs)
    rows, uploaded, items, english, kinds, checked_by_models, left_out = [], [], [], [], [], set(), 0
    for run in runs:
        try:
            found = run_rows(run, annotation, options)
        except CorrectionError as e:
            raise type(e)(f"{run}: {e}") from e  # keeps the kind: a run never pulled is bad input
        rows += found["rows"]
        uploaded += found["uploaded"]
        items += found["items"]
        english += found["english"]
        kinds += found["kinds"]
        checked_by_models |= set(found["checked_by"])
        left_out += len(found["left_out"])
    has_error = np.array([w > 0 for _, w in rows], dtype=bool)
    n_pos, n_neg = int(has_error.sum()), int((~has_error).sum())
    if min(n_pos, n_neg) < MIN_PER_CLASS:
        raise CorrectionInputError(
            f"too few compared chunks to fit: {n_pos} with errors and {n_neg} without (need at least "
            f"{MIN_PER_CLASS} of each; {left_out} chunk(s) left out without a chunks.jsonl record or a measured"
            " WER); pull more corrected items, or add runs with more -o"
        )
    provenance = {"calibrated_on": [str(r) for r in runs], "target": TARGET}
    all_english = all(english)  # mixed languages: review_model.json's recipe, which every language reads
    checked = SLOWED if set(kinds) == {SLOWED} else CHECKED if set(kinds) <= {CHECKED, SLOWED} else None
    if checked is not None:  # a run checking with another model would count words heard otherwise differently
        provenance["checked_with"] = sorted(checked_by_models)
    chosen = fit_best(rows, has_error, items, seed, provenance, options.calibration, all_english, checked)
    metrics = {**chosen.metrics, "uploaded": _uploaded(has_error, uploaded)}
    metrics["shipped"] = shipped_metrics(rows, has_error, kinds)
    counts = {"chunks": len(rows), "with_error": n_pos, "left_out": left_out}
    counts["checked"] = sum(kind in (CHECKED, SLOWED) for kind in kinds)
    return Calibration(chosen.model, counts, metrics, chosen.method, chosen.folds)


def calibrate_runs(
    runs: Sequence[str | Path], out: str | Path, annotation: AnnotationOptions, options: CorrectionOptions
) -> tuple[Calibration, Path]:
    """`preannotate calibrate`: refits on the runs' pulled corrections and writes the model to `out`.

    Holds every run's lock and the one that guards the model file from before the fit until the model is written
    (`calibrate_lock.calibration_lock`), so that a second calibrate writing the same file stops at once.

    Returns:
        The calibration and the model file's path.

    Raises:
        CorrectionInputError: Too few compared chunks with and without errors, or `out` cannot be a model file.
        DestinationError: `out` is a file calibrate did not write, or one changed since; it is kept.
        CorrectionError, InputError, LockError: As `calibrate` and `write_model` say.
    """
    check_model_path(out)  # before the fit, which can take minutes (write_model checks it again)
    with calibration_lock(runs, out):
        found = calibrate(runs, annotation, options)
        return found, write_model(found, out)


def calibrate_from_config(config: RunConfig) -> tuple[Calibration, Path]:
    """`preannotate calibrate -o <output.dir>`: the model goes to `<output.dir>/correction/review_model.json`.

    What the correction notebook runs; raises as `calibrate_runs`.
    """
    out = Path(config.output.dir)
    return calibrate_runs([out], out / MODEL_DIR / MODEL_FILE, config.annotation, config.correction)


def _check_distinct(runs: Sequence[str | Path]) -> None:
    """Refuses a run given twice: its chunks would count twice and fall on both sides of a cross-validation split."""
    seen: dict[Path, str | Path] = {}
    for run in runs:
        key = Path(run).resolve()
        if key in seen:
            raise CorrectionInputError(f"{run}: the same run as {seen[key]}, given twice with -o")
        seen[key] = run


def _check_items_once(runs: Sequence[str | Path]) -> None:
    """Refuses runs whose pulls hold the same item of the same project (a copy of a run, a run pulled twice).

    Its one annotation would count as two chunks' worth of evidence, on both sides of a cross-validation split.
    """
    seen: dict[tuple[str, str], str | Path] = {}
    for run in runs:
        try:
            pull = load_pull(run)
        except CorrectionError as e:
            raise type(e)(f"{run}: {e}") from e  # keeps the kind: a run never pulled is bad input
        twice = sorted(item for item in set(pull.corrections) if (pull.target, item) in seen)
        if twice:
            first = seen[(pull.target, twice[0])]
            more = f" and {len(twice) - 1} more" if len(twice) > 1 else ""
            raise CorrectionInputError(
                f"{run}: {twice[0]}{more} of project {pull.project} also pulled in {first}: the same corrections "
                "would count twice; give each pulled item once (a run and its copy, or two pulls of one project, "
                "are one run)"
            )
        seen.update(((pull.target, item), run) for item in pull.corrections)  # kept ones are compared too


def _match(records: list[dict], start: float, text: str) -> Chunk | None:
    start_us, text = microseconds(start), text.strip()
    for record in records:
        try:
            close = abs(microseconds(float(record["start"])) - start_us) <= MATCH_US
        except (KeyError, TypeError, ValueError):
            continue
        if close and str(record.get("text") or "").strip() == text:
            return chunk_from_record(record)
    return None


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _uploaded(has_error: np.ndarray, flags: list[bool | None]) -> dict | None:
    """The drafts' own needs_review, when every chunk has one."""
    known = [f for f in flags if f is not None]
    if len(known) < len(flags):
        return None
    return flag_metrics(has_error.tolist(), known).to_dict()


def shipped_metrics(rows: list, has_error: np.ndarray, kinds: Sequence[str]) -> dict | None:
    """The shipped models' flags, with their ranking's AUC; None when one cannot be loaded or lacks a feature.

    Args:
        rows: (features, measured WER) per chunk.
        has_error: Whether each chunk's WER is above 0.
        kinds: The kind of shipped model that assessed each chunk's draft (`assessed`): each is scored with it.
    """
    try:
        models = {kind: shipped_recipe(kind)[0] for kind in set(kinds)}
        predicted = np.array([models[kind].predict_wer(f) for kind, (f, _) in zip(kinds, rows, strict=True)])
    except (OSError, ValueError, KeyError):
        return None
    flagged = np.array([p > models[kind].threshold for kind, p in zip(kinds, predicted, strict=True)])
    return scored(has_error, predicted, flagged)
