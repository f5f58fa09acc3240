"""Makes preannotate/quality/review_model.json: speech with known text, transcribed, labelled, fitted.

    .venv/bin/python tools/fit_review_model.py            # everything (about 50 min on 2 CPU cores)
    .venv/bin/python tools/fit_review_model.py --no-write # fit and report, leave the shipped files alone

1. espeak-ng speaks the splits (tools/review_corpus.py, tools/review_speech.py): `train`, `train_easy` and
   `train_plain` with some voices, `heldout`, `heldout_easy` and `heldout_plain` with other voices,
   sentences and names; the suffix is the style (hard: variants, noise, phone band; easy and plain: clean).
2. preannotate's own pipeline transcribes both with bundled:tiny.en and bundled:base
   (faster-whisper, int8 on CPU, beam 5, language en); the chunks are the run's default chunking
   of the stored transcripts, as `preannotate run` exports them.
3. Each chunk gets its measured WER (preannotate.quality.labels), and every word a right/wrong label.
4. The model is fitted on the train splits (both models pooled; the threshold reaches the recall target in
   each split and model), scored on the held-out splits and on the benchmark's speech set per model, and
   written with its provenance (JSON field and README.md beside it). So are the models for checked drafts
   (`review_model_checked.json`: each draft checked by the other model's run) and for checked drafts with
   the draft model's decode of the audio slowed down (`review_model_slowed.json`, tools/review_perturbed.py),
   and for English drafts without a check, with a language model's rival words (`review_model_english.json`,
   tools/review_lm.py).
Audio and runs stay under --work (default runs/review_model, ignored by git); reruns reuse them.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

from review_checked import checked_note, checked_records, doubtful_word_metrics  # noqa: E402
from review_corpus import HELDOUT, TRAIN  # noqa: E402
from review_lm import ENGLISH_DATA, english_note, rival_records  # noqa: E402
from review_perturbed import decode_slowed, slowed_note, unstable_records  # noqa: E402
from review_report import languages_note, write_note  # noqa: E402
from review_speech import EASY, HARD, PLAIN, VERSION, plan_files, synthesize  # noqa: E402

from preannotate.chunking import chunk_transcript  # noqa: E402
from preannotate.config import load_config  # noqa: E402
from preannotate.quality import chunk_features, evaluate_review_model, fit_review_model, fit_word_threshold  # noqa: E402
from preannotate.quality.evaluate import MEASURED_RUN_OVERRIDES, flag_metrics  # noqa: E402
from preannotate.quality.features import CHECKED_FEATURES, ENGLISH_FEATURES, SLOWED_FEATURES  # noqa: E402
from preannotate.quality.labels import english_normalizer, label_chunks  # noqa: E402
from preannotate.quality.model import (  # noqa: E402
    CHECKED_PATH,
    DEFAULT_PATH,
    ENGLISH_PATH,
    LANGUAGES_PATH,
    SLOWED_PATH,
    languages_model,
)
from preannotate.results import Transcript  # noqa: E402
from preannotate.run import run_pipeline  # noqa: E402

MODELS = ("bundled:tiny.en", "bundled:base")
# language+variant; repeats weight the choice, and the plain voice ("") comes up most: the variants are harder.
TRAIN_VOICES = tuple(
    f"{language}{variant}"
    for language in ("en-us", "en-us", "en-gb", "en-gb-x-rp", "en-gb-scotland", "en-us-nyc")
    for variant in ("", "", "", "+m1", "+m3", "+f2", "+f3", "+klatt", "+Andy", "+Alicia", "+Storm", "+john")
)
HELDOUT_VOICES = tuple(
    f"{language}{variant}"
    for language in ("en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
    for variant in ("", "", "+m6", "+f4", "+klatt4", "+Annie", "+Mr", "+steph")
)
PLAIN_TRAIN_VOICES = ("en-us", "en-us", "en-gb", "en-gb-x-rp", "en-us-nyc", "en-gb-scotland")
PLAIN_HELDOUT_VOICES = ("en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
# Other synthesizers (tools/review_speech.py's speak_command): diphones cut from recordings of real speakers
# (flite's kal16, festival's kal and ked) and statistical voices trained on real speakers (flite's awb, rms
# and slt, festival's HTS slt), whose errors come nearer people's than espeak-ng's; slt and ked held out.
OTHER_TRAIN_VOICES = ("flite:awb", "flite:rms", "flite:kal16", "festival:kal_diphone")
OTHER_HELDOUT_VOICES = ("flite:slt", "festival:ked_diphone", "festival:cmu_us_slt_arctic_hts")
# name: (pool, voices, seed, style, share of the file count); train* fit the model, heldout* score it
SPLITS = {
    "train": (TRAIN, TRAIN_VOICES, 11, HARD, 1.0),
    "train_easy": (TRAIN, PLAIN_TRAIN_VOICES, 12, EASY, 0.5),
    "train_plain": (TRAIN, PLAIN_TRAIN_VOICES, 13, PLAIN, 1.0),
    "heldout": (HELDOUT, HELDOUT_VOICES, 23, HARD, 1.0),
    "heldout_easy": (HELDOUT, PLAIN_HELDOUT_VOICES, 24, EASY, 0.5),
    "heldout_plain": (HELDOUT, PLAIN_HELDOUT_VOICES, 25, PLAIN, 1.0),
}
# Spoken with --other-voices only: fitting on train_voices did not carry over to real speech
# (docs/review-flags.md), so the shipped model is fitted without them; both score it on synthesizers it never heard.
VOICE_SPLITS = {
    "train_voices": (TRAIN, OTHER_TRAIN_VOICES, 14, PLAIN, 1.0),
    "heldout_voices": (HELDOUT, OTHER_HELDOUT_VOICES, 26, PLAIN, 1.0),
}
ALL_SPLITS = {**SPLITS, **VOICE_SPLITS}
TRAIN_FILES, HELDOUT_FILES = 48, 24  # files of a train and a held-out split (times the split's share)
# Debian packages that speak the splits (review_speech.py)
SYNTHESIZERS = ("espeak-ng", "sox", "flite", "festival", "festvox-kallpc16k", "festvox-kdlpc16k", "festvox-us-slt-hts")
# Each model's run is the other's check here (tools/review_checked.py): no check stage of its own.
OVERRIDES = (*MEASURED_RUN_OVERRIDES, "annotation.cross_check=null")

log = logging.getLogger("fit_review_model")


def build_audio(work: Path, split: str, count: int, specs: list | None = None) -> list[dict]:
    """Speaks a split into `<work>/audio/<split>` (kept when its plan is unchanged) and returns its manifest.

    `specs`: the split's file specs when it is none of SPLITS (tools/review_variants.py's connected speech).
    """
    if specs is None:
        pool, voices, seed, style, _ = ALL_SPLITS[split]
        specs = plan_files(pool, voices, split, count, seed, style)
    folder = work / "audio" / split
    manifest_path = work / "audio" / f"{split}.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        same = [(m["seed"], m.get("version")) for m in manifest] == [(s.seed, VERSION) for s in specs]
        if same and all((folder / m["file"]).is_file() for m in manifest):
            return manifest
    log.info("speaking %d %s files", count, split)
    manifest = [synthesize(spec, folder) for spec in specs]
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return manifest


def transcribe(work: Path, split: str, model: str) -> tuple[Path, object, dict[str, str]]:
    """Runs preannotate on a split with a model (finished files are reused).

    Returns:
        The run folder, the run's config and each source file's item name.
    """
    out = work / "runs" / f"{split}-{model.split(':')[-1]}"
    overrides = [f"input.dir={work / 'audio' / split}", f"output.dir={out}", f"model.name={model}", *OVERRIDES]
    config = load_config(None, overrides)
    log.info("transcribing %s with %s", split, model)
    report = run_pipeline(config, progress=False)
    if report.failed:
        raise SystemExit(f"{len(report.failed)} files failed in {out}: {report.failed[0].error}")
    return out, config, {f.source: f.item for f in report.files}


def labelled(
    run: Path, config, items: dict[str, str], manifest: list[dict], normalize
) -> tuple[list[dict], list[tuple[float, bool]]]:
    """Chunk records (features, WER, meta) and word (probability, wrong) pairs of one run."""
    records, words = [], []
    for entry in manifest:
        item = items[entry["file"]]
        transcript = Transcript.from_dict(json.loads((run / "transcripts" / f"{item}.json").read_text()))
        chunks = chunk_transcript(transcript, config.chunking)
        labels, _ = label_chunks(chunks, [tuple(s) for s in entry["spans"]], normalize)
        for chunk, label in zip(chunks, labels):
            records.append(
                {
                    "file": item,
                    "voice": entry["voice"],
                    "features": chunk_features(chunk, transcript.duration),
                    "wer": label.wer,
                    "errors": label.errors,
                    "old_flag": chunk.needs_review,
                    "min_prob": chunk.min_word_probability,
                    "wrong": label.wrong_words,  # indices into chunk.words
                    "chunk": chunk,  # kept to recompute features when they change
                    "duration": transcript.duration,
                }
            )
            wrong = set(label.wrong_words)
            words += [(w.probability, i in wrong) for i, w in enumerate(chunk.words) if w.word.strip()]
    return records, words


def data_summary(records: list[dict], manifest: list[dict]) -> dict:
    """Counts of one split and model: files, seconds, chunks, chunks with an error, mean chunk WER."""
    return {
        "files": len(manifest),
        "seconds": round(sum(m["duration"] for m in manifest), 1),
        "chunks": len(records),
        "chunks_with_error": sum(r["errors"] > 0 for r in records),
        "mean_chunk_wer": round(sum(r["wer"] for r in records) / max(len(records), 1), 3),
    }


def baselines(records: list[dict], min_prob: float) -> dict:
    """The flags this model replaces: the default review thresholds, and the lowest word probability alone."""
    errors = [r["errors"] > 0 for r in records]
    low = [r["min_prob"] is not None and r["min_prob"] < min_prob for r in records]
    return {
        "default_thresholds": flag_metrics(errors, [r["old_flag"] for r in records]).to_dict(),
        f"min_word_probability_below_{min_prob}": flag_metrics(errors, low).to_dict(),
    }


def word_metrics(pairs: list[tuple[float, bool]], threshold: float) -> dict:
    """How well "probability under the word threshold" finds the wrong words."""
    return flag_metrics([wrong for _, wrong in pairs], [p < threshold for p, _ in pairs]).to_dict()


def main(argv: list[str] | None = None) -> None:
    """Builds the data, fits, evaluates and writes the model and its note."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "review_model")
    parser.add_argument("--train-files", type=int, default=TRAIN_FILES)
    parser.add_argument("--heldout-files", type=int, default=HELDOUT_FILES)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--target-recall", type=float, default=0.85)
    parser.add_argument("--no-write", action="store_true", help="report only; leave the shipped files alone")
    parser.add_argument("--no-benchmark", action="store_true", help="skip the check on the benchmark's speech")
    parser.add_argument(
        "--other-voices",
        choices=("off", "score", "fit"),
        default="off",
        help="flite and festival splits: off (the shipped recipe), score (spoken, transcribed and scored only) or"
        " fit (train_voices fitted on too)",
    )
    parser.add_argument("--out", type=Path, help="write both models and the note here, not over the shipped files")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("preannotate").setLevel(logging.WARNING)

    counts = file_counts(ALL_SPLITS if args.other_voices != "off" else SPLITS, args.train_files, args.heldout_files)
    manifests = {split: build_audio(args.work, split, n) for split, n in counts.items()}
    records, words = collect(args.work, manifests, args.models)
    train = [(f"{s}/{m}", r) for (s, m), rs in records.items() if fitted(s, args) for r in rs]
    word_threshold = fit_word_threshold([w for key, pairs in words.items() if fitted(key[0], args) for w in pairs])
    model = fit_review_model(
        [(r["features"], r["wer"]) for _, r in train],
        target_recall=args.target_recall,
        word_threshold=word_threshold,
        groups=[group for group, _ in train],  # the recall target holds in each condition and model
        provenance=provenance(manifests, records, args),
    )
    model.provenance["heldout"] = {m: heldout_metrics(model, records, words, m) for m in args.models}
    checked = fit_checked(records, args, word_threshold)
    slowed = fit_checked(records, args, word_threshold, slowed=True)
    english = fit_recipe(rival_records(records), args, word_threshold, ENGLISH_FEATURES, ENGLISH_DATA)
    if not args.no_benchmark:
        bench = benchmark_check(args.work, args.models, model, checked, slowed, english)
        model.provenance["benchmark_check"] = bench
        for m in args.models:
            checked.provenance["evaluation"][m]["benchmark"] = bench[m]["checked_model"]
            slowed.provenance["evaluation"][m]["benchmark"] = bench[m]["slowed_model"]
            english.provenance["evaluation"][m]["benchmark"] = bench[m]["english_model"]
    for fitted_model in (model, checked, slowed, english):
        print(json.dumps({"threshold": fitted_model.threshold, **fitted_model.provenance}, indent=1))
    if not args.no_write:
        folder = args.out or DEFAULT_PATH.parent
        paths = [folder / path.name for path in (DEFAULT_PATH, CHECKED_PATH, SLOWED_PATH, ENGLISH_PATH)]
        paths[0].parent.mkdir(parents=True, exist_ok=True)
        for fitted_model, path in zip((model, checked, slowed, english), paths):
            fitted_model.save(path)
        note = paths[0].with_name("README.md")
        write_note(note, model)
        sections = [note.read_text(encoding="utf-8"), checked_note(checked), slowed_note(slowed), english_note(english)]
        sections.append(languages_note(languages_model()))  # its own tool refits it, from review_model.json's score
        note.write_text("\n".join(sections), encoding="utf-8")
        print(f"review_model.json changed: run tools/review_languages.py --save {LANGUAGES_PATH} (it keeps its score)")


def file_counts(splits: dict, train_files: int = TRAIN_FILES, heldout_files: int = HELDOUT_FILES) -> dict[str, int]:
    """How many files each split has: its share of the train or held-out count."""
    return {s: round(v[4] * (train_files if s.startswith("train") else heldout_files)) for s, v in splits.items()}


def fitted(split: str, args: argparse.Namespace) -> bool:
    """Whether the model is fitted on a split: the train splits not left out."""
    return split.startswith("train") and (split not in VOICE_SPLITS or args.other_voices == "fit")


def fit_checked(records: dict, args: argparse.Namespace, word_threshold: float, slowed: bool = False):
    """The model for checked drafts: the same rows with `unconfirmed_words`, fitted and scored held out.

    `slowed`: with `unstable_words` too, from each model's decode of the splits slowed down (review_perturbed).
    """
    checked = checked_records(records, args.work / "runs")
    data = "review_model.json's rows, each draft checked by the other model (review_checked.py)"
    if slowed:
        splits = {s: args.work / "audio" / s for s, _ in records}
        decode_slowed(args.work, splits, list(args.models), list(OVERRIDES))
        checked, data = (
            unstable_records(checked, args.work / "runs"),
            f"{data}, and decoded slowed (review_perturbed.py)",
        )
    model = fit_recipe(checked, args, word_threshold, SLOWED_FEATURES if slowed else CHECKED_FEATURES, data)
    model.provenance["doubtful_words"] = {
        m: doubtful_word_metrics(pooled(records, "heldout", [m]), args.work / "runs", word_threshold)
        for m in args.models
    }
    return model


def fit_recipe(records: dict, args: argparse.Namespace, word_threshold: float, features: tuple[str, ...], data: str):
    """A model fitted on the train splits' records with `features`, and its held-out figures per Whisper model."""
    train = [(f"{s}/{m}", r) for (s, m), rs in records.items() if fitted(s, args) for r in rs]
    model = fit_review_model(
        [(r["features"], r["wer"]) for _, r in train],
        target_recall=args.target_recall,
        word_threshold=word_threshold,
        feature_names=features,
        groups=[group for group, _ in train],
        provenance={"data": data},
    )
    model.provenance["evaluation"] = {
        m: {"held out": evaluate_review_model(model, _rows(pooled(records, "heldout", [m])))} for m in args.models
    }
    return model


def collect(work: Path, manifests: dict[str, list[dict]], models: list[str]) -> tuple[dict, dict]:
    """Transcribes and labels every split with every model: chunk records and word pairs per (split, model)."""
    normalize = english_normalizer()
    records: dict[tuple[str, str], list[dict]] = {}
    words: dict[tuple[str, str], list[tuple[float, bool]]] = {}
    for model in models:
        for split, manifest in manifests.items():
            run, config, items = transcribe(work, split, model)
            records[split, model], words[split, model] = labelled(run, config, items, manifest, normalize)
            for record in records[split, model]:
                record["split"], record["model"] = split, model
    return records, words


def pooled(records: dict, prefix: str, models: list[str]) -> list[dict]:
    """The records of every split starting with `prefix`, for the given models."""
    return [r for (split, model), rs in records.items() if split.startswith(prefix) and model in models for r in rs]


def provenance(manifests: dict[str, list[dict]], records: dict, args: argparse.Namespace) -> dict:
    """Where the data came from, for the JSON and the note."""
    others = args.other_voices != "off"
    return {
        "data": f"{'synthetic' if others else 'espeak-ng'} speech with known text, made by tools/fit_review_model.py"
        " (no recording of the tests)",
        "command": f"make setup; apt-get install -y {' '.join(SYNTHESIZERS if others else SYNTHESIZERS[:2])};"
        f" .venv/bin/python tools/fit_review_model.py{' --other-voices ' + args.other_voices if others else ''}",
        "fitted_on": [s for s in manifests if fitted(s, args)],
        "models": list(args.models),
        "transcription": list(OVERRIDES),
        "splits": {
            split: {
                "seed": ALL_SPLITS[split][2],
                "style": asdict(ALL_SPLITS[split][3]),
                "voices": sorted(set(ALL_SPLITS[split][1])),
            }
            for split in manifests
        },
        "counts": {f"{s}/{m}": data_summary(records[s, m], manifests[s]) for s, m in records},
    }


def heldout_metrics(model, records: dict, words: dict, name: str) -> dict:
    """The model, the flags it replaces and the doubtful words, on all held-out splits of one Whisper model."""
    rows = pooled(records, "heldout", [name])
    pairs = [w for (split, m), ws in words.items() if split.startswith("heldout") and m == name for w in ws]
    by_split = {
        s: evaluate_review_model(model, _rows(rs))
        for (s, m), rs in records.items()
        if m == name and s.startswith("heldout")
    }
    return {
        "review_model": evaluate_review_model(model, _rows(rows)),
        **baselines(rows, model.word_threshold),
        "doubtful_words": word_metrics(pairs, model.word_threshold),
        "by_split": by_split,
    }


def benchmark_check(work: Path, models: list[str], model, checked, slowed=None, english=None) -> dict:
    """The benchmark's speech set (benchmarks/review_model.py): other texts and recordings, none fitted on."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from dataset import build_set
    from review_model import evaluate_set

    folder = work / "benchmark_set"
    entries = build_set(folder)
    return {
        m: evaluate_set(
            folder, entries, work / "runs" / f"benchmark-{m.split(':')[-1]}", m, model, checked, slowed, english
        )
        for m in models
    }


def _rows(records: list[dict]) -> list[tuple[dict, float]]:
    return [(r["features"], r["wer"]) for r in records]


if __name__ == "__main__":
    main()
