"""Many short clips: plain faster-whisper one by one against preannotate's default (short files packed).

The clips are cut from the project's offline speech: the sentences of tests/data/pauses.opus at their
recorded times, and the benchmark set's texts spoken by espeak-ng with several voices and speeds. Each
clip holds 1 to 3 consecutive sentences (2-15 s), with its reference text. Each configuration runs as
its own process on the same clips with the same model and beam (benchmarks/measure.py), and the
section prints wall and CPU seconds, the throughput ratio to plain faster-whisper and each one's WER.
With --gpu both run on CUDA in float16 (plain faster-whisper still one file after another, preannotate
packing short files into batched windows) and the figures go to `short_clips_gpu`.

    .venv/bin/python benchmarks/run_benchmark.py --short-clips 150   # or: make bench BENCH_ARGS='--short-clips 150'
    .venv/bin/python benchmarks/run_benchmark.py --short-clips 1000 --gpu   # on a machine with a CUDA device
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np
from dataset import KITCHEN, LECTURE, MEETING, RATE, TRAVEL, WEATHER, _speak, write_wav
from measure import THREADS, Config, read_json, run_all

from preannotate.audio import decode_audio

HERE = Path(__file__).resolve().parent
PAUSES = HERE.parent / "tests" / "data" / "pauses.json"
VOICES = (("en-us", 150), ("en-gb", 160), ("en-gb-x-rp", 140), ("en-us", 175), ("en-gb", 135))
MIN_S, MAX_S = 2.0, 15.0
VERSION = 2  # bump when the clips change (2: sox dithers repeatably)


def build_clips(folder: Path, count: int, seed: int = 0) -> list[dict]:
    """Writes `count` clips of 2-15 s into `folder` (reused when already built) and returns their manifest."""
    manifest = folder / "manifest.json"
    if manifest.is_file() and json.loads(manifest.read_text()).get("key") == [VERSION, count, seed]:
        return json.loads(manifest.read_text())["files"]
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    sources = _sentence_sources()
    files: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        cache: dict[tuple, np.ndarray] = {}
        while len(files) < count:
            voice, sentences = rng.choice(sources)
            first, n = rng.randrange(len(sentences)), rng.randint(1, 3)
            chosen = sentences[first : first + n]
            pieces = [np.zeros(int(0.3 * RATE), np.float32)]
            for sentence in chosen:
                pieces += [
                    _audio(voice, sentence, cache, Path(tmp)),
                    np.zeros(int(rng.uniform(0.3, 1.0) * RATE), np.float32),
                ]
            samples = np.concatenate(pieces)
            if not MIN_S <= samples.size / RATE <= MAX_S:
                continue
            name = f"clip_{len(files):04d}.wav"
            write_wav(folder / name, samples)
            text = " ".join(s if isinstance(s, str) else s[0] for s in chosen)
            files.append({"file": name, "text": text, "duration": round(samples.size / RATE, 3)})
    manifest.write_text(json.dumps({"key": [VERSION, count, seed], "files": files}, indent=1))
    return files


def _sentence_sources() -> list[tuple[object, list]]:
    """(voice, sentences): espeak-ng voices over the set's texts, and pauses.opus's recorded sentences."""
    recorded = json.loads(PAUSES.read_text())["speech"]
    spoken = [s for texts in (WEATHER, KITCHEN, TRAVEL, MEETING, LECTURE) for s in texts]
    recording = [(s["text"], s["start"], s["end"]) for s in recorded]
    return [*((voice, spoken) for voice in VOICES), ("pauses", recording), ("pauses", recording)]


def _audio(voice: object, sentence: object, cache: dict, tmp: Path) -> np.ndarray:
    key = (voice, sentence)
    if key not in cache:
        if voice == "pauses":
            text, start, end = sentence  # type: ignore[misc]
            full = cache.setdefault(("pauses", None), decode_audio(PAUSES.with_suffix(".opus")).samples)
            cache[key] = full[int(start * RATE) : int(end * RATE)]
        else:
            name, speed = voice  # type: ignore[misc]
            cache[key] = _speak(str(sentence), name, speed, tmp)
    return cache[key]


def short_clips(args: argparse.Namespace, preannotate, ct2: Path) -> dict:  # noqa: ANN001
    """Runs the section: plain faster-whisper one by one, preannotate's default, and packing off."""
    data = args.work / "clips" / "data"
    files = build_clips(data, args.short_clips)
    audio_s = sum(f["duration"] for f in files)
    out = args.work / "clips" / "out"
    out.mkdir(parents=True, exist_ok=True)
    paths = [str(data / f["file"]) for f in files]
    plain = [sys.executable, str(HERE / "plain_faster.py"), *paths, "--model-dir", str(ct2), "--threads", str(THREADS),
             "--out", str(out / "plain.json"), "--word-timestamps"]  # fmt: skip
    device: list[str] = []
    if args.gpu:  # preannotate's compute_type auto is float16 on CUDA, as plain's here
        plain += ["--device", "cuda", "--compute-type", "float16"]
        device = ["model.device=cuda"]
    configs = [
        Config(
            "faster-whisper-one-by-one",
            plain,
            lambda: {Path(k).name: v for k, v in read_json(out / "plain.json").items()},
        ),
        _renamed(
            preannotate(args, data, out / "packed", ["model.engine=faster-whisper", *device]),
            "preannotate-faster-default",
        ),
        _renamed(
            preannotate(
                args,
                data,
                out / "alone",
                ["model.engine=faster-whisper", "model.faster_whisper.pack_short_files=false", *device],
            ),
            "preannotate-faster-pack-off",
        ),
    ]
    configs = [c for c in configs if not args.only or c.name in args.only or c is configs[0]]  # plain: the base
    records = run_all(configs, files, audio_s, args.work, args.repeat)
    base = records[0]
    print(f"\n{len(files)} clips, {audio_s:.0f} s of speech")
    print(
        f"{'name':30} {'wall s':>8} {'CPU s':>8} {'files/s':>8} {'x plain wall':>12} {'x plain CPU':>11} {'WER %':>6}"
    )
    for r in records:
        r["throughput_x_plain"] = round(base["wall_s"] / r["wall_s"], 2)
        r["cpu_throughput_x_plain"] = round(base["cpu_s"] / r["cpu_s"], 2)
        print(f"{r['name']:30} {r['wall_s']:8.1f} {r['cpu_s']:8.1f} {len(files) / r['wall_s']:8.2f} "
              f"{r['throughput_x_plain']:12.2f} {r['cpu_throughput_x_plain']:11.2f} {100 * r['wer']:6.2f}")  # fmt: skip
    packed = records[1]
    met = packed["throughput_x_plain"] >= 3 and packed["wer"] <= base["wer"] + 0.005
    return {"clips": len(files), "audio_s": round(audio_s, 1), "records": records,
            "target": {"target": "default >= 3x plain faster-whisper's throughput, WER within 0.5 points",
                       "met": met, "ratio": packed["throughput_x_plain"]}}  # fmt: skip


def _renamed(config: Config, name: str) -> Config:
    config.name = name
    return config
