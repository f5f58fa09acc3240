"""A check model from another family than Whisper: Moonshine's words against the draft's (tools/moonshine_check.py).

The flags miss the target on real speech (docs/review-flags.md, "Real speech"): real drafts hold sure errors
("reporting" for "recording" at 0.82) that tiny.en, the shipped check, makes too or does not contradict; both
are Whisper models. `moonshine_unconfirmed`, of one chunk: how many of its normalized words Moonshine base
(English, greedy, moonshine-cpp 0.1.4's weights), decoding the chunk's audio from 0.25 s before its start
to 0.25 s after its end, does not confirm (the same alignment as the shipped check's,
`preannotate.quality.crosscheck.unconfirmed`, with Moonshine's text as the check's words over the chunk).

Decision rule, fixed on 2026-12-05 before the feature was computed on any speech of the training splits,
the benchmark or the real speech (it was tried only on Moonshine's own test clip and two sentences spoken for
the purpose):
U. For drafts without a check (tiny.en's under `auto`): `english + moonshine` (review_model_english.json's
   recipe, ENGLISH_FEATURES, plus `moonshine_unconfirmed`), against `english` (that recipe), both fitted on
   both Whisper models' training rows of this run (tools/fit_review_model.py's splits and recipe: target
   recall 0.85 in each split and model), scored on tiny.en's chunks.
C. For checked drafts (base's under `auto`): `checked + moonshine` (review_model_checked.json's recipe,
   CHECKED_FEATURES, each draft checked by the other model's run, plus `moonshine_unconfirmed`), against
   `checked` (that recipe), fitted likewise, scored on base's chunks.
Each candidate qualifies only if, against its recipe:
   1. on the pooled held-out espeak-ng splits its AUC is at most 0.005 lower;
   2. on the same rows it keeps recall >= 0.8 at precision >= 0.6 if the recipe has it;
   3. on real speech (benchmarks/review_model.py's runs of people's recordings and of Asterisk's English
      prompts, made with the default options: base's checked by tiny.en) its AUC on the two sets pooled is
      higher by at least 0.030, and on each set it is higher.
A candidate that qualifies is not shipped by this rule: it earns the product integration (a check stage,
a shipped model fitted by tools/fit_review_model.py), where C must also beat the slowed recipe
(review_model_slowed.json's) with the slowed decodes. The benchmark set's figures are reported and choose
nothing. Real speech both chooses here and is reported, so its figures for a qualified candidate are a
little optimistic.

    .venv/bin/pip install moonshine-cpp==0.1.4 onnx==1.23.2   # requirements-dev.txt has them
    .venv/bin/python benchmarks/review_model.py                # the benchmark's and real speech's runs
    .venv/bin/python tools/review_moonshine.py                 # training runs reused from fit_review_model

Moonshine's texts are cached per run and item under `<work>/moonshine/`.

Outcome (2026-12-05, this machine's runs: an AMD EPYC with AVX2 and no AVX-512; AUC to 3 places):
U fails condition 3: real speech pooled AUC 0.790 against 0.788 (+0.002); people's recordings 0.626 against
0.631, Asterisk's prompts 0.775 against 0.773. Held out 0.984 at 0.901 (AUC 0.942) against 0.980 at 0.912
(0.935). Not qualified.
C fails condition 3: pooled 0.716 against 0.710 (+0.006); people's 0.726 against 0.717, prompts 0.678 against
0.672. Held out 0.948 at 0.845 (AUC 0.866) against 0.958 at 0.836 (0.869). Not qualified.
Why (reported, chose nothing): Moonshine hears espeak-ng speech otherwise than its text in 92% to 94% of the
held-out chunks (against 19% to 60% of real speech's), so fitted on espeak-ng speech its disagreement weighs
little. On real speech alone it ranks about as well as the fitted models (AUC 0.70 to 0.73; chunks where it
agrees hold an error 6% to 26% of the time, where it disagrees 31% to 59%), and a refit on real speech itself
(five folds by recording, people's and prompts pooled, 317 chunks) gains little from it: tiny.en AUC 0.795
against 0.782, base 0.766 against 0.739, recall 0.84 and 0.84 at precision 0.30 and 0.27. Moonshine decoded
15,654 s of padded chunks in 1,055 s on 2 cores (0.067 of real time, about the tiny.en check's cost).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools"), str(ROOT / "benchmarks")]

import fit_review_model as F  # noqa: E402
from moonshine_check import PAD, Moonshine  # noqa: E402
from review_checked import checked_records  # noqa: E402
from review_lm import rival_records  # noqa: E402

from preannotate.audio import decode_audio  # noqa: E402
from preannotate.chunking import Chunk  # noqa: E402
from preannotate.quality import evaluate_review_model, fit_review_model, fit_word_threshold  # noqa: E402
from preannotate.quality.crosscheck import CheckWord, unconfirmed_words  # noqa: E402
from preannotate.quality.features import CHECKED_FEATURES, DIRECTIONS, ENGLISH_FEATURES  # noqa: E402
from preannotate.quality.rivals import Rivals, lm_rival  # noqa: E402

DIRECTIONS["moonshine_unconfirmed"] = 1  # type: ignore[index]  # more unconfirmed words, more doubt
FEATURE = "moonshine_unconfirmed"
# candidate: (its recipe's features, the Whisper model whose chunks it is scored on)
CANDIDATES = {"U": (ENGLISH_FEATURES, "bundled:tiny.en"), "C": (CHECKED_FEATURES, "bundled:base")}
AUC_LOSS, REAL_GAIN = 0.005, 0.030
REAL_SETS = ("real", "prompts")  # benchmarks/review_model.py's run folders: <set>-<model>

log = logging.getLogger("review_moonshine")


class ChunkTexts:
    """Moonshine's text of each chunk of a run's items, cached in `<cache>/<run name>/<item>.json`.

    The model (folded into `<cache>/model` once) is loaded only when some chunk's text is not cached.
    """

    def __init__(self, cache: Path) -> None:
        self.cache, self.seconds, self.audio_seconds = cache, 0.0, 0.0
        self._moonshine: Moonshine | None = None

    @property
    def moonshine(self) -> Moonshine:
        """The model, loaded on first use."""
        if self._moonshine is None:
            self._moonshine = Moonshine(self.cache / "model")
        return self._moonshine

    def texts(self, run: Path, item: str, source: Path, chunks: list[Chunk]) -> list[str]:
        """One text per chunk (decoded now for chunks not cached)."""
        path = self.cache / run.name / f"{item}.json"
        stored = json.loads(path.read_text()) if path.is_file() else {}
        keys = [f"{c.start:.3f}-{c.end:.3f}" for c in chunks]
        if any(k not in stored for k in keys):
            samples = decode_audio(source).samples
            started = time.perf_counter()
            for key, chunk in zip(keys, chunks):
                if key not in stored:
                    stored[key] = self.moonshine.chunk_text(samples, chunk.start, chunk.end)
                    self.audio_seconds += chunk.end - chunk.start + 2 * PAD
            self.seconds += time.perf_counter() - started
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(stored, indent=0))
        return [stored[k] for k in keys]


def moonshine_feature(chunk: Chunk, text: str) -> float:
    """`moonshine_unconfirmed` of a chunk given Moonshine's text of its span."""
    return float(unconfirmed_words(chunk, [CheckWord(chunk.start, chunk.end, text)]))


def sources(run: Path, folder: Path) -> dict[str, Path]:
    """Each item's source file in a finished run."""
    return {r["item"]: folder / r["source"] for r in json.loads((run / "run.json").read_text())["files"]}


def training_rows(work: Path, texts: ChunkTexts, rivals: Rivals) -> tuple[dict, float]:
    """The checked training and held-out records with lm_rival and moonshine_unconfirmed, and the word threshold."""
    manifests = {split: F.build_audio(work, split, n) for split, n in F.file_counts(F.SPLITS).items()}
    records, words = F.collect(work, manifests, list(F.MODELS))
    checked = rival_records(checked_records(records, work / "runs"), rivals)
    for (split, model), rows in checked.items():
        run = work / "runs" / f"{split}-{model.split(':')[-1]}"
        where = sources(run, work / "audio" / split)
        by_file: dict[str, list[dict]] = {}
        for r in rows:
            by_file.setdefault(r["file"], []).append(r)
        for item, file_rows in by_file.items():
            found = texts.texts(run, item, where[item], [r["chunk"] for r in file_rows])
            for r, text in zip(file_rows, found):
                r["features"] = {**r["features"], FEATURE: moonshine_feature(r["chunk"], text)}
        log.info("moonshine: %s/%s done (%.0f s of audio in %.0f s)", split, model, texts.audio_seconds, texts.seconds)
    train_words = [w for (s, _), ws in words.items() if s.startswith("train") for w in ws]
    return checked, fit_word_threshold(train_words)


def real_rows(bench: Path, model: str, texts: ChunkTexts, rivals: Rivals) -> dict[str, list[tuple[dict, float]]]:
    """Per real set, the chunks of benchmarks/review_model.py's run of one model with every feature.

    Each row's features also name its recording (`item`, not a feature), for the report's folds.
    """
    from prompt_speech import build_prompt_set
    from real_speech import build_real_set
    from scored_runs import labelled_files

    from preannotate.check_store import read_checks

    builders = {"real": build_real_set, "prompts": build_prompt_set}
    found = {}
    for name in REAL_SETS:
        entries = builders[name](bench / name, bench / "downloads")
        run = bench / f"{name}-{model.split(':')[-1]}"
        key = json.loads((run / "run.json").read_text())["stages"].get("check")
        rows = []
        for record, chunks, file_rows, _ in labelled_files(run, {e["file"]: e["text"] for e in entries}):
            check = read_checks(run, record["item"], key)[0] if key else None
            said = texts.texts(run, record["item"], bench / name / record["source"], chunks)
            for chunk, (features, wer), text in zip(chunks, file_rows, said):
                extra = {"lm_rival": lm_rival(chunk, rivals), FEATURE: moonshine_feature(chunk, text)}
                if check is not None:
                    extra["unconfirmed_words"] = float(unconfirmed_words(chunk, check))
                rows.append(({**features, **extra, "item": f"{name}/{record['item']}"}, wer))
        found[name] = rows
    return found


def report(held: list, real: dict[str, list], features: tuple[str, ...]) -> dict:
    """Why (chooses nothing): the feature alone on each set, and refits on real speech, five folds by recording."""
    from preannotate.quality.evaluate import ranking_auc

    found: dict = {}
    for name, rows in (("held out", held), *real.items()):
        said, wrong = np.array([f[FEATURE] for f, _ in rows]), np.array([w > 0 for _, w in rows])
        found[name] = {
            "auc_alone": round(ranking_auc(said, wrong) or 0.0, 3),
            "share_disagreeing": round(float((said > 0).mean()), 3),
            "error_rate_agreeing": round(float(wrong[said == 0].mean()), 3),
            "error_rate_disagreeing": round(float(wrong[said > 0].mean()), 3),
        }
    pooled = [r for rs in real.values() for r in rs]
    found["refit on real speech"] = {
        label: real_folds(pooled, names) for label, names in (("recipe", features), ("candidate", (*features, FEATURE)))
    }
    return found


def real_folds(rows: list, features: tuple[str, ...], folds: int = 5) -> dict:
    """Out-of-fold AUC, recall and precision of a refit on real rows, the folds keeping recordings together."""
    from preannotate.quality.evaluate import flag_metrics, ranking_auc

    files = sorted({f["item"] for f, _ in rows})
    np.random.default_rng(0).shuffle(files)
    fold = {item: i % folds for i, item in enumerate(files)}
    predicted, flagged = np.zeros(len(rows)), np.zeros(len(rows), bool)
    for k in range(folds):
        model = fit_review_model([r for r in rows if fold[r[0]["item"]] != k], target_recall=0.85,
                                 feature_names=features)  # fmt: skip
        for i, (f, _) in enumerate(rows):
            if fold[f["item"]] == k:
                predicted[i] = model.predict_wer(f)
                flagged[i] = predicted[i] > model.threshold
    wrong = np.array([w > 0 for _, w in rows])
    metrics = flag_metrics(wrong, flagged).to_dict()
    return {"auc": round(ranking_auc(predicted, wrong) or 0.0, 3), "recall": metrics["recall"],
            "precision": metrics["precision"]}  # fmt: skip


def fitted(checked: dict, features: tuple[str, ...], word_threshold: float):
    """A model with `features` fitted on both Whisper models' training rows (fit_review_model's recipe)."""
    train = [(f"{s}/{m}", r) for (s, m), rs in checked.items() if s.startswith("train") for r in rs]
    return fit_review_model(
        [(r["features"], r["wer"]) for _, r in train], target_recall=0.85, word_threshold=word_threshold,
        feature_names=features, groups=[g for g, _ in train],
    )  # fmt: skip


def decide(recipe: dict, candidate: dict) -> dict:
    """The rule's three conditions (module docstring) from both models' figures."""
    held_r, held_c = recipe["held out"], candidate["held out"]
    met = [held["recall"] >= 0.8 and held["precision"] >= 0.6 for held in (held_r, held_c)]
    gain = candidate["real pooled"]["auc"] - recipe["real pooled"]["auc"]
    each = all(candidate[name]["auc"] > recipe[name]["auc"] for name in REAL_SETS)
    conditions = {
        "1 held-out AUC at most 0.005 lower": held_c["auc"] >= held_r["auc"] - AUC_LOSS,
        "2 held-out target kept": met[1] or not met[0],
        "3 real AUC pooled +0.030 and higher on each set": gain >= REAL_GAIN and each,
    }
    return {"conditions": conditions, "real_auc_gain": round(gain, 4), "qualifies": all(conditions.values())}


def main() -> None:
    """Decodes, fits both candidates and their recipes, scores them and prints the rule's outcome."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "review_model")
    parser.add_argument("--bench", type=Path, default=ROOT / "runs" / "bench_review", help="review_model.py's work")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("preannotate").setLevel(logging.WARNING)
    texts, rivals = ChunkTexts(args.work / "moonshine"), Rivals()
    checked, word_threshold = training_rows(args.work, texts, rivals)
    outcome = {}
    for name, (features, model) in CANDIDATES.items():
        held = [(r["features"], r["wer"]) for (s, m), rs in checked.items() if s.startswith("heldout") and m == model
                for r in rs]  # fmt: skip
        real = real_rows(args.bench, model, texts, rivals)
        figures = {}
        for label, names in (("recipe", features), ("candidate", (*features, FEATURE))):
            review = fitted(checked, names, word_threshold)
            pooled = [r for rs in real.values() for r in rs]
            figures[label] = {
                "held out": evaluate_review_model(review, held),
                **{s: evaluate_review_model(review, rows) for s, rows in real.items()},
                "real pooled": evaluate_review_model(review, pooled),
            }
        outcome[name] = {"model": model, **figures, **decide(figures["recipe"], figures["candidate"])}
        outcome[name]["why (chooses nothing)"] = report(held, real, features)
    outcome["moonshine_cost"] = {"audio_seconds": round(texts.audio_seconds, 1), "seconds": round(texts.seconds, 1)}
    print(json.dumps(outcome, indent=1))
    if args.out:
        args.out.write_text(json.dumps(outcome, indent=1) + "\n")


if __name__ == "__main__":
    main()
