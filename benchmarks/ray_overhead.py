"""The Ray executor beside the local one on the same files: wall time, throughput, overhead ratio.

    .venv/bin/python benchmarks/ray_overhead.py --copies 4          # CPU: a local Ray with one actor
    .venv/bin/python benchmarks/ray_overhead.py --copies 20 --gpu   # also one actor per GPU (when CUDA is seen)
    .venv/bin/python benchmarks/ray_overhead.py --copies 10 --packing  # also faster-whisper on Ray, packed or not

Each run transcribes the `samples/en` clips (`--copies` times, under different names) into a fresh folder
with bundled:tiny.en and greedy decoding. The local run loads the model in this process; the Ray run starts
a local Ray (or joins RAY_ADDRESS), one actor that loads the model, and decoding tasks. `actor x real time`
is audio seconds per second of an actor's own transcription time (the steady state, without start-up).
`--packing` adds faster-whisper on the Ray, short files packed as a local run packs them (the default) and one
file at a time (`pack_short_files=false`), and their ratio.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from preannotate.config import load_config  # noqa: E402
from preannotate.run import run_pipeline  # noqa: E402

GREEDY = ["transcribe.beam_size=null", "transcribe.best_of=null"]


def media(folder: Path, copies: int) -> Path:
    folder.mkdir(parents=True)
    for wav in sorted((ROOT / "samples" / "en").glob("*.wav")):
        for n in range(copies):
            shutil.copy(wav, folder / f"{wav.stem}_{n}.wav")
    return folder


def measure(name: str, folder: Path, out: Path, overrides: list[str]) -> dict:
    settings = [f"input.dir={folder}", f"output.dir={out}", "model.name=bundled:tiny.en", *GREEDY, *overrides]
    started = time.perf_counter()
    report = run_pipeline(load_config(None, settings), progress=False)
    wall = time.perf_counter() - started
    audio = sum(r.duration or 0.0 for r in report.files)
    busy = sum(r.seconds or 0.0 for r in report.files)
    assert all(r.status == "ok" for r in report.files), [r.error for r in report.files if r.error]
    return {
        "name": name, "files": len(report.files), "audio_s": round(audio, 1), "wall_s": round(wall, 1),
        "x_real_time": round(audio / wall, 2), "actor_x_real_time": round(audio / busy, 2) if busy else None,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4, help="copies of each samples/en clip")
    parser.add_argument("--gpu", action="store_true", help="also one actor per GPU, model on cuda")
    parser.add_argument("--packing", action="store_true", help="also faster-whisper on Ray, packed and not")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = media(Path(tmp) / "in", args.copies)
        rows = [
            measure("local", folder, Path(tmp) / "local", ["model.device=cpu"]),
            measure("ray, 1 actor", folder, Path(tmp) / "ray", ["model.device=cpu", "run.executor=ray"]),
        ]
        if args.gpu:
            gpu = ["model.device=cuda", "run.executor=ray", "ray.gpus_per_worker=1"]
            rows.append(measure("ray, 1 actor per GPU", folder, Path(tmp) / "gpu", gpu))
        if args.packing:
            faster = ["model.device=cpu", "run.executor=ray", "model.engine=faster-whisper"]
            packed = measure("ray, faster-whisper, packed", folder, Path(tmp) / "packed", faster)
            alone = ["model.faster_whisper.pack_short_files=false"]
            one = measure("ray, faster-whisper, one file at a time", folder, Path(tmp) / "alone", [*faster, *alone])
            packed["speedup_over_one_at_a_time"] = round(one["wall_s"] / packed["wall_s"], 2)
            rows += [one, packed]
    rows[1]["overhead_ratio"] = round(rows[1]["wall_s"] / rows[0]["wall_s"], 2)
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
