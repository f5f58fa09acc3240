"""The drafts comparison (`run_benchmark.py --drafts`): which model and decoding give the best draft per hour.

Each (model, engine) of DRAFT_RUNS decodes the set greedily and with beam 5 (preannotate's default), each run
its own process; a record holds WER, wall seconds and peak RSS, their ratios to the same model's greedy run
in this session, and how well the run's needs_review flags find the chunks with an error (precision and
recall against the set's references, by `review_model.score_run`).
"""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from measure import BIN, THREADS, Config, machine, preannotate_texts, run_all

from preannotate.asr.weights import UNAVAILABLE_BUNDLED

# The drafts comparison: (model, engine) pairs, each decoded greedily and with preannotate's default beam 5.
DRAFT_RUNS = (
    ("bundled:tiny.en", "faster-whisper"),
    ("bundled:base", "faster-whisper"),
    ("bundled:tiny.en", "openai-whisper"),
)
DECODINGS = {"greedy": ["transcribe.beam_size=null", "transcribe.best_of=null"], "beam 5": []}

ReviewColumns = Callable[[Path, str], dict]


def drafts(
    args: argparse.Namespace, data: Path, files: list[dict], audio_s: float, review: ReviewColumns | None = None
) -> dict:
    """Which model and decoding give the best draft per hour: WER, time and peak RSS, and the ratios to greedy.

    Args:
        args: The command line (`work`, `files`, `repeat`).
        data: The set's folder.
        files: The set's entries to run on (`file`, `text`, `duration`).
        audio_s: Their total duration.
        review: Extra columns for a finished run, called with its output folder and the model name (for
            example the needs_review flags' precision and recall against the references); none when None.

    Returns:
        The machine, the set, one record per configuration, and the bundled names that cannot run, with why.
    """
    load = os.getloadavg()
    folder = _subset(data, files, args.work / "data-drafts") if args.files else data
    configs, meta = [], {}
    for model, engine in DRAFT_RUNS:
        for decoding, overrides in DECODINGS.items():
            name = f"{model.removeprefix('bundled:')} {engine} {decoding}"
            out = args.work / "out-drafts" / name.replace(" ", "-")
            settings = [f"model.name={model}", f"model.engine={engine}", "model.device=cpu",
                        "transcribe.language=en", "superannotate.dry_run=true", *overrides]  # fmt: skip
            command = [str(BIN / "preannotate"), "-q", "run", "-i", str(folder), "-o", str(out), "--force",
                       "--no-progress", *(arg for s in settings for arg in ("--set", s))]  # fmt: skip
            configs.append(Config(name, command, lambda out=out: preannotate_texts(out)))
            meta[name] = {"model": model, "engine": engine, "decoding": decoding, "out": out}
    records = run_all(configs, files, audio_s, args.work, args.repeat)
    for record in records:
        m = meta[record["name"]]
        greedy = next(r for r in records if meta[r["name"]]["decoding"] == "greedy" and
                      (meta[r["name"]]["model"], meta[r["name"]]["engine"]) == (m["model"], m["engine"]))  # fmt: skip
        record.update(model=m["model"], engine=m["engine"], decoding=m["decoding"])
        record["wall_ratio_to_greedy"] = round(record["wall_s"] / greedy["wall_s"], 3)
        record["wer_ratio_to_greedy"] = round(record["wer"] / greedy["wer"], 3) if greedy["wer"] else None
        record["peak_rss_ratio_to_greedy"] = round(record["peak_rss_mb"] / greedy["peak_rss_mb"], 3)
        record.pop("wall_ratio_to_cli", None)
        if review is not None:
            record.update(review(m["out"], m["model"]))
    unavailable = {f"bundled:{k}": why for k, why in UNAVAILABLE_BUNDLED.items()}
    print_drafts(records, unavailable)
    return {"machine": machine(load), "audio_s": round(audio_s, 2), "files": [f["file"] for f in files],
            "options": {"language": "en", "word_timestamps": True, "device": "cpu", "threads": THREADS,
                        "faster_whisper": "int8, num_workers auto (a file per core)",
                        "greedy": "transcribe.beam_size=null, transcribe.best_of=null",
                        "beam 5": "preannotate's defaults: beam_size 5, best_of 5"},
            "records": records, "unavailable": unavailable}  # fmt: skip


def review_columns(files: list[dict]) -> ReviewColumns:
    """The needs_review columns of a finished run, scored against the references.

    `needs_review` is the flag as the run exported it (the review model, Whisper's failure rules and the
    low word probability rule); `review_model` is the review model's flag alone, as benchmarks/review_model.py
    scores it.

    The review model was fitted on beam 5 drafts (quality.evaluate.MEASURED_RUN_OVERRIDES): on greedy
    drafts it is measured on decodings it was not fitted on.
    """
    from review_model import score_run  # imports preannotate's pipeline: only when a drafts run is scored

    from preannotate.quality import default_model

    references = {f["file"]: f["text"] for f in files}

    def columns(out: Path, model: str) -> dict:
        scores = score_run(out, references, default_model())
        return {"needs_review": scores["exported"], "review_model": scores["review_model"]}

    return columns


def _subset(data: Path, files: list[dict], folder: Path) -> Path:
    """A folder holding copies of just these files of the set (preannotate takes a folder)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for f in files:
        shutil.copy(data / f["file"], folder / f["file"])
    return folder


def print_drafts(records: list[dict], unavailable: dict[str, str]) -> None:
    """One Markdown table: each run beside its model's greedy run, with needs_review against the references."""
    print("\n| model | engine | decoding | WER % | WER × greedy | wall s | time × greedy | RTF | peak RSS MB "
          "| RSS × greedy | needs_review precision | recall | chunks (with error) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in records:
        flags = r.get("needs_review") or {}
        cells = [r["model"].removeprefix("bundled:"), r["engine"], r["decoding"], f"{100 * r['wer']:.1f}",
                 _two(r["wer_ratio_to_greedy"]), f"{r['wall_s']:.1f}", _two(r["wall_ratio_to_greedy"]),
                 f"{r['rtf']:.3f}", f"{r['peak_rss_mb']:.0f}", _two(r["peak_rss_ratio_to_greedy"]),
                 _two(flags.get("precision")), _two(flags.get("recall")),
                 f"{flags['chunks']} ({flags['with_error']})" if flags else ""]  # fmt: skip
        print("| " + " | ".join(cells) + " |")
    for name, why in unavailable.items():
        print(f"{name}: unavailable: {why}")


def _two(value: float | None) -> str:
    """A ratio or share with two decimals; blank when unknown."""
    return "" if value is None else f"{value:.2f}"
