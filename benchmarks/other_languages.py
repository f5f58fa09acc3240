"""The review flags on real speech in other languages: Asterisk's Spanish, French, Italian and Russian prompts.

Until 2026-12-04 non-English drafts were assessed by `review_model.json` alone (no check model, slowed decode
or English language model: those are for English), fitted on English synthetic speech and never measured on
other languages until this set. Since then `review_model_languages.json` assesses them: the same score with
its mapping and threshold fitted on these prompts (tools/review_languages.py, which scores it one language
out; its figures here are in sample). Each language is one professional speaker reading phone-menu prompts
(prompt_speech.py: the same packages and rule as the English set, and no prompt with a digit), drafted by
base (faster-whisper, beam 5, the language given) with the default chunking.

Scoring was fixed before any prompt was transcribed: both sides go through Whisper's BasicTextNormalizer with
its diacritics removed, because the Spanish package writes most of its texts without accents ("numero",
"contrasena") where Whisper writes them; the product's report keeps them.

    .venv/bin/python benchmarks/other_languages.py              # about 10 min on 2 cores the first time
    .venv/bin/python benchmarks/other_languages.py --languages es fr --results benchmarks/results.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from prompt_speech import OTHERS, PromptSpeechUnavailable, build_prompt_set
from review_model import _exported_flags, targets
from scored_runs import labelled_files

from preannotate.config import load_config
from preannotate.quality import default_model, evaluate_review_model, flag_metrics
from preannotate.quality.evaluate import MEASURED_RUN_OVERRIDES
from preannotate.quality.labels import Normalizer
from preannotate.quality.model import languages_model
from preannotate.run import run_pipeline
from preannotate.text_normalize import _whisper_normalizers

HERE = Path(__file__).resolve().parent
MODEL = "bundled:base"


def normalizer() -> Normalizer:
    """Whisper's BasicTextNormalizer without diacritics (the set's texts are not consistently accented)."""
    return _whisper_normalizers().BasicTextNormalizer(remove_diacritics=True)


def score_language(work: Path, language: str, model: str = MODEL) -> dict:
    """Drafts one language's prompts with `model` (runs in `<work>/prompts-<language>`) and scores the flags.

    Returns:
        The set's size, the draft's WER, review_model.json's and review_model_languages.json's metrics (the
        latter in sample) and the exported flags' (as review_model.score_run gives them), or `skipped` with
        the reason.
    """
    try:
        entries = build_prompt_set(work / f"prompts-{language}", work / "downloads", OTHERS[language])
    except PromptSpeechUnavailable as exc:
        print(f"{language} prompts skipped: {exc}")
        return {"skipped": str(exc)}
    run = work / f"prompts-{language}-{model.split(':')[-1]}"
    overrides = [o for o in MEASURED_RUN_OVERRIDES if not o.startswith("transcribe.language=")]
    config = load_config(None, [f"input.dir={work / f'prompts-{language}'}", f"output.dir={run}",
                                f"model.name={model}", f"transcribe.language={language}", *overrides])  # fmt: skip
    run_pipeline(config, progress=False)
    references = {e["file"]: e["text"] for e in entries}
    review, exported = default_model(), _exported_flags(run)
    rows, errors, words, has_error, flags = [], 0, 0, [], []
    for record, chunks, file_rows, labels in labelled_files(run, references, config.chunking, normalizer()):
        rows += file_rows
        errors += sum(label.errors for label in labels)
        words += sum(label.ref_words for label in labels)
        has_error += [label.has_error for label in labels]
        flags += exported.get(record["item"], [False] * len(chunks))
    return {
        "prompts": len(entries),
        "wer": round(errors / words, 4) if words else None,
        "review_model": evaluate_review_model(review, rows),
        "languages_model": evaluate_review_model(languages_model(), rows),
        "exported": flag_metrics(has_error, flags).to_dict(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=HERE.parent / "runs" / "bench_review", help="scratch folder")
    parser.add_argument("--languages", nargs="+", default=list(OTHERS), choices=list(OTHERS))
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--results", type=Path, help="a results JSON whose `review.other_languages` to replace")
    args = parser.parse_args()
    scores = {language: score_language(args.work, language, args.model) for language in args.languages}
    print(json.dumps(scores, indent=1))
    scored = {language: s for language, s in scores.items() if "skipped" not in s}
    for target in targets(scored):
        print(f"{target['model']} ({args.model}): exported recall {target['recall']} ({target['recall_95']}),"
              f" precision {target['precision']} ({target['precision_95']})")  # fmt: skip
    if args.results:
        data = json.loads(args.results.read_text()) if args.results.is_file() else {}
        data.setdefault("review", {})["other_languages"] = {"model": args.model, "languages": scores}
        args.results.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
