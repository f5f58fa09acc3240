"""Plain faster-whisper, as its README shows it: one WhisperModel, `transcribe` on each file path.

Writes {file: text} as JSON. The benchmark runs it as its own process to measure it alone.
"""

from __future__ import annotations

import argparse
import json

from faster_whisper import WhisperModel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--model-dir", required=True, help="a CTranslate2 Whisper folder")
    parser.add_argument("--out", required=True, help="JSON file for the texts")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--compute-type", default="int8")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--best-of", type=int, default=5)
    parser.add_argument("--word-timestamps", action="store_true")
    args = parser.parse_args()
    model = WhisperModel(args.model_dir, device=args.device, compute_type=args.compute_type, cpu_threads=args.threads)
    texts = {}
    for path in args.files:
        segments, _ = model.transcribe(
            path, language="en", beam_size=args.beam_size, best_of=args.best_of, word_timestamps=args.word_timestamps
        )
        texts[path] = "".join(s.text for s in segments)
    with open(args.out, "w") as f:
        json.dump(texts, f, indent=1)


if __name__ == "__main__":
    main()
