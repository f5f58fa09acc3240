"""Peak memory of the slowed decode (`annotation.slowed_check`) on a long recording, against its peers.

    .venv/bin/python benchmarks/slowed_memory.py                  # 120 minutes of speech
    .venv/bin/python benchmarks/slowed_memory.py --minutes 60 --repeat 3

The recording is real utterances (tests/data/pauses.opus's sentences and the samples/en clips) with 1 s of
room noise after each, to `--minutes`: speech nearly throughout, so silence skipping keeps nearly all of it.
Each way of decoding it runs as its own process and reports its peak RSS (wait4), less that of a process
that only imports the same modules:
- `draft`: `decode_audio(path, silence)`, what the draft's transcription holds (the peer);
- `slowed, whole file`: the file decoded, then slowed all at once with `resample_poly` and cut (the check
  stage's way until 2026-12-04);
- `slowed, as it decodes`: `decode_slowed(path, silence)`, the check stage's way now.
The slowed audio has 10/9 as many samples as the draft's, so 1.11 times the draft's memory is the least a
slowed decode can hold; the target is at most 1.25 times. `make bench` runs it too (skip with
`--skip-slowed-memory`). Results go to results.json as `slowed_memory`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from dataset import RATE, write_wav  # noqa: E402
from overhead import store, timed  # noqa: E402
from silence import utterances  # noqa: E402

IMPORTS = (
    "import numpy as np; from scipy.signal import resample_poly; from preannotate.audio import decode_audio; "
    "from preannotate.audio_speed import DOWN, UP, decode_slowed; from preannotate.options import SilenceOptions; "
    "from preannotate.silence import SilenceCutter; import sys; path = sys.argv[1]; silence = SilenceOptions()\n"
)
WHOLE = """
kept = []
cutter = SilenceCutter(silence, kept.append)
cutter.extend(resample_poly(decode_audio(path).samples, UP, DOWN).astype(np.float32, copy=False))
cutter.finish()
samples = np.concatenate(kept)
"""
WAYS = {
    "imports only": "",
    "draft": "samples = decode_audio(path, silence).samples",
    "slowed, whole file": WHOLE,
    "slowed, as it decodes": "samples = decode_slowed(path, silence).samples",
}


def build(path: Path, minutes: float) -> float:
    """Writes the recording unless it is there; returns its seconds.

    Run in a process of its own (`--build-only`): a child's peak RSS as wait4 reports it starts from its
    parent's RSS at the fork, and this one holds the whole recording.
    """
    rng = np.random.default_rng(4)
    noise = (rng.standard_normal(RATE) * 10 ** (-70 / 20)).astype(np.float32)
    pieces, total, said = [], 0, utterances()
    while total < minutes * 60 * RATE:
        samples = said[len(pieces) // 2 % len(said)][0]
        pieces += [samples, noise]
        total += samples.shape[0] + noise.shape[0]
    audio = np.concatenate(pieces)[: round(minutes * 60 * RATE)]
    if not path.is_file() or path.stat().st_size != 44 + 2 * audio.shape[0]:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_wav(path, audio)
    return audio.shape[0] / RATE


def measure(path: Path, work: Path, repeat: int) -> dict[str, dict]:
    """Each way's peak RSS (median of `repeat` interleaved runs) and its wall seconds."""
    runs: dict[str, list[dict]] = {name: [] for name in WAYS}
    for _ in range(repeat):
        for name, code in WAYS.items():
            command = [sys.executable, "-c", IMPORTS + code, str(path)]
            runs[name].append(timed(command, work / "logs" / f"{name.replace(' ', '_')}.log"))
    return {
        name: {
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in records),
            "wall_s": min(r["wall_s"] for r in records),
        }
        for name, records in runs.items()
    }


LIMIT = 1.25  # the slowed decode may hold at most this many times the draft decode's memory (10/9 is the least)


def run(work: Path, minutes: float, repeat: int) -> dict:
    """Builds the recording in a process of its own, then measures each way; returns the results entry."""
    path = work / f"speech-{minutes:g}min.wav"
    command = [sys.executable, __file__, "--build-only", "--minutes", str(minutes), "--work", str(work)]
    subprocess.run(command, check=True)
    seconds = (path.stat().st_size - 44) / 2 / RATE
    ways = measure(path, work, repeat)
    base = ways["imports only"]["peak_rss_mb"]
    above = {name: round(way["peak_rss_mb"] - base, 1) for name, way in ways.items()}
    ratio = round(above["slowed, as it decodes"] / above["draft"], 3)
    target = {"target": f"slowed decode at most {LIMIT} x the draft decode's memory", "met": ratio <= LIMIT}
    return {
        "minutes": minutes,
        "audio_mb": round(seconds * RATE * 4 / 2**20),  # the draft's float32 samples, if none were cut
        "cpus": os.cpu_count(),
        "repeat": repeat,
        "ways": ways,
        "above_imports_mb": above,
        "targets": [{**target, "ratio": ratio}],
    }


def print_result(result: dict) -> None:
    """Prints the table: peak RSS, memory above the imports, its ratio to the draft's, wall seconds."""
    print(f"\n{result['minutes']:g} min of speech ({result['audio_mb']} MiB as float32), {result['cpus']} CPUs, "
          f"median of {result['repeat']}")  # fmt: skip
    print(f"{'way':<24}{'peak RSS MiB':>14}{'above imports':>15}{'x draft':>9}{'wall s':>9}")
    above = result["above_imports_mb"]
    for name, way in result["ways"].items():
        ratio = f"{above[name] / above['draft']:.2f}" if above[name] else ""
        print(f"{name:<24}{way['peak_rss_mb']:>14.0f}{above[name]:>15.0f}{ratio:>9}{way['wall_s']:>9.1f}")
    whole, streamed = above["slowed, whole file"], above["slowed, as it decodes"]
    print(f"as it decodes / whole file: {streamed / whole:.2f} of the memory above imports")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=120.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "bench", help="scratch folder")
    parser.add_argument("--results", type=Path, default=HERE / "results.json")
    parser.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_only:
        build(args.work / f"speech-{args.minutes:g}min.wav", args.minutes)
        return
    result = run(args.work, args.minutes, args.repeat)
    print_result(result)
    for target in result["targets"]:
        print(f"{'met' if target['met'] else 'NOT met'}: {target['target']} ({target['ratio']})")
    store(args.results, "slowed_memory", result)


if __name__ == "__main__":
    main()
