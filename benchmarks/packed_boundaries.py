"""Which clip a packed word goes to: by its end (what packing does) against by its middle (what it did).

Transcribes each set's files of up to 20 s packed (`transcribe_packed`, beam 5, language en) twice in one
process, once per rule, and prints each one's WER against the references; `--alone` adds one file at a time.
The sets: Asterisk's prompts (prompt_speech.py, one utterance per file) and the short-clips set
(short_clips.py, 1 to 3 sentences per clip).

    .venv/bin/python benchmarks/packed_boundaries.py                       # both models, both sets, ~8 min
    .venv/bin/python benchmarks/packed_boundaries.py --models bundled:base --sets prompts --alone
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import jiwer
from prompt_speech import build_prompt_set
from short_clips import build_clips

from preannotate.asr import prepare
from preannotate.asr.faster_whisper import packing
from preannotate.asr.faster_whisper.decoding import SHORT_FILE_S
from preannotate.audio import SAMPLE_RATE, decode_audio
from preannotate.config import load_config
from preannotate.options import ModelOptions
from preannotate.text_normalize import text_normalizer

HERE = Path(__file__).resolve().parent
WORK = HERE.parent / "runs" / "bench_review"


def by_middle(window: list, word: dict[str, Any]) -> int:
    """The earlier rule (`packing._clip_of` until session 28): the clip nearest the word's middle."""
    middle = (word["start"] + word["end"]) / 2
    distances = [max(p.start - middle, middle - p.start - p.duration, 0.0) for p in window]
    return distances.index(min(distances))


def load_set(name: str) -> tuple[Path, list[dict]]:
    if name == "prompts":
        return WORK / "prompts", build_prompt_set(WORK / "prompts", WORK / "downloads")
    folder = HERE.parent / "runs" / "bench" / "data" / "clips150"
    return folder, build_clips(folder, 150)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["bundled:tiny.en", "bundled:base"])
    parser.add_argument("--sets", nargs="+", default=["prompts", "clips"], choices=["prompts", "clips"])
    parser.add_argument("--alone", action="store_true", help="also transcribe each file alone")
    args = parser.parse_args()
    options = load_config(None, ["transcribe.beam_size=5", "transcribe.language=en"]).transcribe
    normalize = text_normalizer("en")
    for model in args.models:
        engine = prepare(ModelOptions(name=model, device="cpu", engine="faster-whisper")).load()
        for name in args.sets:
            folder, files = load_set(name)
            audio = [decode_audio(str(folder / f["file"])).samples for f in files]
            short = [i for i, a in enumerate(audio) if a.size / SAMPLE_RATE <= SHORT_FILE_S]
            refs = [normalize(files[i]["text"]) for i in short]
            rules = {"by end": packing._clip_of, "by middle": by_middle}
            for rule, clip_of in rules.items():
                packing._clip_of = clip_of
                try:
                    out = packing.transcribe_packed(engine, [audio[i] for i in short], options)
                finally:
                    packing._clip_of = rules["by end"]
                print(f"{model}, {name} ({len(short)} files), packed {rule}: WER {_wer(refs, out, normalize):.4f}")
            if args.alone:
                out = [engine.transcribe(audio[i], options) for i in short]
                print(f"{model}, {name} ({len(short)} files), one at a time: WER {_wer(refs, out, normalize):.4f}")


def _wer(refs: list[str], outcomes: list, normalize: Any) -> float:
    hyps = [normalize(o.text) if hasattr(o, "text") else "" for o in outcomes]
    return jiwer.wer(refs, [h or "<empty>" for h in hyps])


if __name__ == "__main__":
    main()
