"""Variants of the review model, fitted on the shipped model's rows and scored held out and on the benchmark.

What was tried for base's recall on the benchmark (docs/review-flags.md) and not shipped, made again in
seconds from the runs `tools/fit_review_model.py` leaves under --work. Each variant is the model for checked
drafts (`review_model_checked.json`'s recipe) with features added or swapped:

- `check_sure`: disagreements of the check model that it is sure of (its word's probability >= 0.5), and the
  rest apart; `check_soft`: the sum of the check model's probabilities of the words it heard otherwise.
- `log_n_words`, `duration`: chunk length, left out of the shipped model.
- `first_word_apart`: the chunk's first word's log probability as a feature of its own, and the probability
  features over the words after it (a first word is wrong less often than a word inside at the same probability).
- `lexical`: how often each word type was wrong in the training drafts (smoothed; cross-fitted by file for the
  training rows, so a row never sees its own label).
- `connected speech` (with --stories, about 5 min): the training rows plus 48 files of paragraphs read in order
  (tools/review_stories.py: 24 paragraphs, two voices each), scored also on 24 files of 12 held-out paragraphs.
- `no_context` (with --no-context, about 25 min on 2 cores: both models decode every split again): how many
  words base hears otherwise when it decodes the file again without its previous text
  (`transcribe.condition_on_previous_text=false`); base's rows only.
- `check_no_context` (with --no-context): the check model's run decoded without its previous text, in place of
  the check as shipped (which keeps it), for both models' rows.
- `unstable` (with --perturbed, about 30 min on 2 cores: both models decode every split again, slowed to 0.9
  speed): how many words the draft model hears otherwise in the slowed audio (tools/review_perturbed.py, with
  the rule that decides it), beside the check; also scored on the held-out flite and festival voices.
- `lm`, `plain lm` (with --lm, which implies --perturbed): a trigram language model's rival words one phone
  away (tools/review_lm.py, with the rule that decides them), added to the slowed and to the unchecked recipe.

    .venv/bin/python tools/review_variants.py [--stories] [--no-context] [--perturbed] [--lm]

Prints, per variant and Whisper model: held-out recall, precision and AUC, and the same on the benchmark's set
(the review model's flag alone, without the failure rules a run adds).
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools"), str(ROOT / "benchmarks")]

import fit_review_model as F  # noqa: E402
import jiwer  # noqa: E402
from review_checked import CHECKER, checked_records  # noqa: E402
from review_lm import ChunkRivals  # noqa: E402
from review_perturbed import decode_slowed, slowed_run, slowed_words  # noqa: E402
from review_speech import PLAIN, plan_stories  # noqa: E402
from review_stories import HELDOUT_STORIES, TRAIN_STORIES  # noqa: E402

from preannotate.chunking import Chunk, chunk_transcript  # noqa: E402
from preannotate.config import load_config  # noqa: E402
from preannotate.quality import chunk_rows, evaluate_review_model, fit_review_model, fit_word_threshold  # noqa: E402
from preannotate.quality.crosscheck import CheckWord, normalized_words, overlaps, unconfirmed_words  # noqa: E402
from preannotate.quality.features import (  # noqa: E402
    CHECKED_FEATURES,
    DIRECTIONS,
    MODEL_FEATURES,
    PROBABILITY_FLOOR,
    SLOWED_FEATURES,
    probability_features,
)
from preannotate.quality.labels import english_normalizer  # noqa: E402
from preannotate.quality.model import checked_model, default_model  # noqa: E402
from preannotate.results import Transcript  # noqa: E402
from preannotate.run import run_pipeline  # noqa: E402

# Probability features that `first_word_apart` computes over the chunk's words after the first.
REST = ("log_min_prob", "sum_log_prob", "n_low", "mean_prob")
DIRECTIONS.update({f"rest_{k}": DIRECTIONS[k] for k in REST}, first_log_prob=-1)  # the same sign bounds
# name: (features, Whisper models whose rows it is fitted on and scored for, fitted on the connected speech too)
VARIANTS = {
    "shipped recipe": (CHECKED_FEATURES, F.MODELS, False),
    "check_sure": ((*CHECKED_FEATURES[:-1], "check_sure", "check_unsure"), F.MODELS, False),
    "check_soft": ((*CHECKED_FEATURES, "check_soft"), F.MODELS, False),
    "log_n_words": ((*CHECKED_FEATURES, "log_n_words"), F.MODELS, False),
    "duration": ((*CHECKED_FEATURES, "duration"), F.MODELS, False),
    "lexical": ((*CHECKED_FEATURES, "lexical"), F.MODELS, False),
    "first_word_apart": (
        (*(f"rest_{f}" if f in REST else f for f in CHECKED_FEATURES), "first_log_prob"),
        F.MODELS,
        False,
    ),
}
STORIES = {"connected speech": (CHECKED_FEATURES, F.MODELS, True)}
PERTURBED = {"unstable": ((*CHECKED_FEATURES, "unstable_words"), F.MODELS, False)}  # review_perturbed's rule
DIRECTIONS["unstable_words"] = 1
LM = {  # review_lm's rules A (slowed recipe) and B (plain recipe); lm_surprise is printed and chooses nothing
    "slowed recipe": (SLOWED_FEATURES, F.MODELS, False),
    "lm": ((*SLOWED_FEATURES, "lm_rival"), F.MODELS, False),
    "lm_surprise": ((*SLOWED_FEATURES, "lm_surprise"), F.MODELS, False),
    "plain recipe": (MODEL_FEATURES, F.MODELS, False),
    "plain lm": ((*MODEL_FEATURES, "lm_rival"), F.MODELS, False),
}
DIRECTIONS.update(lm_rival=1, lm_surprise=1)
NO_CONTEXT = {
    "base, shipped recipe": (CHECKED_FEATURES, ("bundled:base",), False),
    "base, no_context": ((*CHECKED_FEATURES, "no_context"), ("bundled:base",), False),
    "check_no_context": ((*CHECKED_FEATURES[:-1], "check_no_context"), F.MODELS, False),
}
# split: (paragraphs, voices, seed, files); plain style, like most of the training speech
STORY_SPLITS = {
    "train_story": (TRAIN_STORIES, F.PLAIN_TRAIN_VOICES, 14, 48),
    "heldout_story": (HELDOUT_STORIES, F.PLAIN_HELDOUT_VOICES, 26, 24),
}
SURE = 0.5  # a check word this probable counts as a sure disagreement
SMOOTHING = 5.0  # pseudo-words at the overall rate in each word type's error rate


def timed_words(run: Path, item: str) -> list[tuple[CheckWord, float]]:
    """An item's words in a run, with their probabilities."""
    transcript = Transcript.from_dict(json.loads((run / "transcripts" / f"{item}.json").read_text()))
    return [(CheckWord(w.start, w.end, w.word), w.probability) for s in transcript.segments for w in (s.words or ())]


def check_features(chunk: Chunk, check: list[tuple[CheckWord, float]]) -> dict[str, float]:
    """The chunk's words the check heard otherwise, split by how sure the check was, and their probability sum."""
    tokens = [t for w in chunk.words for t in normalized_words(w.word)] or normalized_words(chunk.text)
    heard = [(t, p) for w, p in check if overlaps(w, chunk.start, chunk.end) for t in normalized_words(w.word)]
    if not tokens or not heard:
        return {"check_sure": 0.0, "check_unsure": float(len(tokens)), "check_soft": 0.0}
    sure = soft = other = 0.0
    for step in jiwer.process_words(" ".join(tokens), " ".join(t for t, _ in heard)).alignments[0]:
        n = step.ref_end_idx - step.ref_start_idx
        if step.type == "equal" or not n:
            continue
        other += n
        if step.type == "substitute":
            probabilities = [heard[step.hyp_start_idx + k][1] for k in range(n)]
            sure, soft = sure + sum(p >= SURE for p in probabilities), soft + sum(probabilities)
    return {"check_sure": sure, "check_unsure": other - sure, "check_soft": soft}


def first_word_apart(chunk: Chunk) -> dict[str, float]:
    """The first word's log probability, and the probability features of the words after it.

    A chunk's first word (after a pause, at a segment's start) is right far more often than a word of the same
    probability inside it (training words: 26% against 70% wrong at 0.1 to 0.3).
    """
    probabilities = [w.probability for w in chunk.words if w.word.strip()]
    first = math.log(max(probabilities[0], PROBABILITY_FLOOR)) if probabilities else chunk.avg_logprob
    rest = probability_features(probabilities[1:], chunk.avg_logprob) if len(probabilities) > 1 else {
        "log_min_prob": 0.0, "sum_log_prob": 0.0, "n_low": 0.0, "mean_prob": 1.0}  # fmt: skip
    return {"first_log_prob": first, **{f"rest_{k}": rest[k] for k in REST}}


def word_key(word: Any) -> str:
    """A word as the lexicon keys it: lower case, no punctuation."""
    return " ".join(normalized_words(word.word))


def lexicon(records: list[dict]) -> tuple[dict[str, float], float]:
    """Each word type's smoothed share of wrong draft words, and the overall share."""
    total, wrong = Counter(), Counter()
    for r in records:
        for i, word in enumerate(r["chunk"].words):
            if key := word_key(word):
                total[key] += 1
                wrong[key] += i in r["wrong"]
    prior = sum(wrong.values()) / max(sum(total.values()), 1)
    return {k: (wrong[k] + SMOOTHING * prior) / (total[k] + SMOOTHING) for k in total}, prior


def lexical(chunk: Chunk, table: tuple[dict[str, float], float]) -> float:
    """The highest error rate among the chunk's word types (unseen types: the overall rate)."""
    rates, prior = table
    return max([rates.get(k, prior) for w in chunk.words if (k := word_key(w))] or [prior])


def add_features(
    checked: dict, runs: Path, no_context: bool, slowed: bool = False, rivals: ChunkRivals | None = None
) -> tuple[dict[str, float], float]:
    """Adds every variant's features to the checked records, in place; returns the training rows' lexicon."""
    train = [r for (s, _), rs in checked.items() if s.startswith("train") and "story" not in s for r in rs]
    files = sorted({(r["split"], r["file"]) for r in train})
    random.Random(0).shuffle(files)
    fold = {f: i % 5 for i, f in enumerate(files)}
    tables = [lexicon([r for r in train if fold[r["split"], r["file"]] != k]) for k in range(5)]
    whole = lexicon(train)
    for (split, model), rows in checked.items():
        other, cache = runs / f"{split}-{CHECKER[model].split(':')[-1]}", {}
        context = runs / f"{split}-base-nocontext" if no_context and model == "bundled:base" else None
        other_again = Path(f"{other}-nocontext") if no_context else None
        own_slowed = slowed_run(runs, split, model) if slowed else None
        for r in rows:
            table = tables[fold[split, r["file"]]] if (split, r["file"]) in fold else whole
            check, others = cache.setdefault(r["file"], (timed_words(other, r["file"]), {
                "no_context": again_words(context, r["file"]),
                "check_no_context": again_words(other_again, r["file"]),
                "unstable_words": own_slowed and slowed_words(own_slowed, r["file"]),
            }))  # fmt: skip
            r["features"] = {**r["features"], **extra_features(r["chunk"], check, table, others)}
            r["features"] |= rivals.features(r["chunk"]) if rivals else {}
    return whole


def again_words(context: Path | None, item: str) -> list[CheckWord] | None:
    """An item's words in a run without previous text; None without that run."""
    return None if context is None else [w for w, _ in timed_words(context, item)]


def extra_features(
    chunk: Chunk, check: list[tuple[CheckWord, float]], table: tuple[dict[str, float], float],
    others: dict[str, list[CheckWord] | None],
) -> dict[str, float]:  # fmt: skip
    """The variants' features of one chunk.

    `others`: by feature name, the words of another decoding of the file whose disagreements it counts
    (`no_context`: base without previous text; `check_no_context`: the check model so; `unstable_words`:
    the draft model on the slowed audio), None without that run.
    """
    features = {**check_features(chunk, check), "lexical": lexical(chunk, table), **first_word_apart(chunk)}
    for name, words in others.items():
        if words is not None:
            features[name] = float(unconfirmed_words(chunk, words))
    return features


def decode_without_context(work: Path, folders: dict[str, Path]) -> None:
    """Decodes each folder again with both models, without previous text (finished files are reused)."""
    for (name, folder), model in itertools.product(folders.items(), F.MODELS):
        out = work / "runs" / f"{name}-{model.split(':')[-1]}-nocontext"
        overrides = [f"input.dir={folder}", f"output.dir={out}", f"model.name={model}", *F.OVERRIDES,
                     "transcribe.condition_on_previous_text=false"]  # fmt: skip
        run_pipeline(load_config(None, overrides), progress=False)


def benchmark_rows(
    work: Path, model: str, table: tuple[dict[str, float], float], no_context: bool, slowed: bool = False,
    rivals: ChunkRivals | None = None,
) -> list[tuple[dict, float]]:  # fmt: skip
    """The benchmark set's chunks of one model with every variant's features (its check: the other model's run)."""
    from dataset import build_set

    references = {e["file"]: e["text"] for e in build_set(work / "benchmark_set")}
    runs = work / "runs"
    run, other = runs / f"benchmark-{model.split(':')[-1]}", runs / f"benchmark-{CHECKER[model].split(':')[-1]}"
    context = runs / "benchmark-base-nocontext" if no_context and model == "bundled:base" else None
    other_again = Path(f"{other}-nocontext") if no_context else None
    chunking, normalize, rows = load_config(None, []).chunking, english_normalizer(), []
    for record in json.loads((run / "run.json").read_text())["files"]:
        transcript = Transcript.from_dict(json.loads((run / "transcripts" / f"{record['item']}.json").read_text()))
        chunks = chunk_transcript(transcript, chunking)
        file_rows, _ = chunk_rows(chunks, transcript.duration, references[record["source"]], normalize)
        check, item = timed_words(other, record["item"]), record["item"]
        own_slowed = slowed_run(runs, "benchmark", model) if slowed else None
        others = {"no_context": again_words(context, item), "check_no_context": again_words(other_again, item),
                  "unstable_words": own_slowed and slowed_words(own_slowed, item)}  # fmt: skip
        for chunk, (features, wer) in zip(chunks, file_rows):
            unconfirmed = float(unconfirmed_words(chunk, [w for w, _ in check]))
            extra = extra_features(chunk, check, table, others) | (rivals.features(chunk) if rivals else {})
            rows.append(({**features, **extra, "unconfirmed_words": unconfirmed}, wer))
    return rows


def story_records(work: Path) -> tuple[dict, dict]:
    """The connected-speech splits spoken, transcribed by both models and labelled (finished files reused)."""
    records: dict[tuple[str, str], list[dict]] = {}
    words: dict[tuple[str, str], list] = {}
    normalize = english_normalizer()
    for split, (stories, voices, seed, count) in STORY_SPLITS.items():
        manifest = F.build_audio(work, split, count, plan_stories(stories, voices, split, count, seed, PLAIN))
        for model in F.MODELS:
            run, config, items = F.transcribe(work, split, model)
            records[split, model], words[split, model] = F.labelled(run, config, items, manifest, normalize)
            for record in records[split, model]:
                record["split"], record["model"] = split, model
    return records, words


def main() -> None:
    """Fits and scores every variant, printing one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "review_model")
    parser.add_argument("--stories", action="store_true", help="also fit and score on connected speech")
    parser.add_argument("--no-context", action="store_true", help="also decode base without its previous text")
    parser.add_argument("--perturbed", action="store_true", help="also decode the slowed audio (review_perturbed)")
    parser.add_argument("--lm", action="store_true", help="also the language model's rivals (review_lm; --perturbed)")
    args = parser.parse_args()
    args.perturbed |= args.lm
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("preannotate").setLevel(logging.WARNING)
    counts = F.file_counts(F.SPLITS)
    manifests = {split: F.build_audio(args.work, split, n) for split, n in counts.items()}
    records, words = F.collect(args.work, manifests, list(F.MODELS))
    extra_sets = {"held-out paragraphs": "heldout_story"} if args.stories else {}
    if args.stories:
        more_records, more_words = story_records(args.work)
        records, words = {**records, **more_records}, {**words, **more_words}
    if args.perturbed:  # rule 3 of review_perturbed: the held-out voices, fitted on by no variant
        voices = {
            "heldout_voices": F.build_audio(
                args.work, "heldout_voices", F.file_counts(F.VOICE_SPLITS)["heldout_voices"]
            )
        }
        records |= F.collect(args.work, voices, list(F.MODELS))[0]
        extra_sets["held-out voices"] = "heldout_voices"
    F.benchmark_check(args.work, list(F.MODELS), default_model(), checked_model())  # makes the benchmark's runs
    splits = [*manifests, *(STORY_SPLITS if args.stories else ())]
    folders = {s: args.work / "audio" / s for s in splits} | {"benchmark": args.work / "benchmark_set"}
    if args.no_context:
        decode_without_context(args.work, folders)
    if args.perturbed:
        voices_folder = {"heldout_voices": args.work / "audio" / "heldout_voices"}
        decode_slowed(args.work, folders | voices_folder, list(F.MODELS), list(F.OVERRIDES))
    checked = checked_records(records, args.work / "runs")
    rivals = ChunkRivals() if args.lm else None
    table = add_features(checked, args.work / "runs", args.no_context, args.perturbed, rivals)
    bench = {m: benchmark_rows(args.work, m, table, args.no_context, args.perturbed, rivals) for m in F.MODELS}
    shipped_words = [w for k, ps in words.items() if k[0].startswith("train") and "story" not in k[0] for w in ps]
    variants = {**VARIANTS, **(STORIES if args.stories else {}), **(NO_CONTEXT if args.no_context else {}),
                **(PERTURBED if args.perturbed else {}), **(LM if args.lm else {})}  # fmt: skip
    print_variants(variants, checked, set(manifests), bench, fit_word_threshold(shipped_words), extra_sets)


def print_variants(
    variants: dict, checked: dict, splits: set[str], bench: dict, word_threshold: float, extra_sets: dict[str, str]
) -> None:
    """Fits each variant on the training rows and prints its held-out, benchmark and extra sets' figures."""
    print("| variant | model | held-out recall | precision | AUC | benchmark recall | precision | AUC |"
          + "".join(f" {name} recall | precision | AUC |" for name in extra_sets))  # fmt: skip
    print("|---" * (8 + 3 * len(extra_sets)) + "|")
    for name, (features, models, stories) in variants.items():
        fitted = [(s, m) for s, m in checked if s in splits | {"train_story"} and s.startswith("train")
                  and m in models and (stories or "story" not in s)]  # fmt: skip
        train = [(f"{s}/{m}", r) for s, m in fitted for r in checked[s, m]]
        model = fit_review_model(
            [(r["features"], r["wer"]) for _, r in train], target_recall=0.85, word_threshold=word_threshold,
            feature_names=features, groups=[g for g, _ in train],
        )  # fmt: skip
        for m in models:
            held = [r for (s, mm), rs in checked.items() if s in splits and s.startswith("heldout") and mm == m
                    for r in rs]  # fmt: skip
            scores = [evaluate_review_model(model, F._rows(held)), evaluate_review_model(model, bench[m])]
            scores += [evaluate_review_model(model, F._rows(checked[split, m])) for split in extra_sets.values()]
            cells = [str(x[k]) for x in scores for k in ("recall", "precision", "auc")]
            print(f"| {name} | {m} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
