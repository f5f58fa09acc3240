"""What every benchmark configuration shares: running it as a child process, and its time, memory and WER.

A configuration is a command and a way to read its texts back; `run_one` runs it once and measures wall
seconds, peak RSS (of the process and its children, from wait4) and corpus WER after Whisper's English
normalizer, and `run_all` keeps each configuration's fastest of several runs.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import jiwer

from preannotate.text_normalize import text_normalizer

BIN = Path(sys.executable).parent
THREADS = len(os.sched_getaffinity(0))


@dataclass
class Config:
    """One configuration: its command and how to read its texts back, keyed by the set's file names."""

    name: str
    command: list[str]
    texts: Callable[[], dict[str, str]]


def preannotate_texts(out: Path) -> dict[str, str]:
    run = read_json(out / "run.json")
    return {f["source"]: read_json(out / "transcripts" / f"{f['item']}.json")["text"] for f in run["files"]}


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def run_all(configs: list[Config], files: list[dict], audio_s: float, work: Path, repeat: int) -> list[dict]:
    """Runs every configuration `repeat` times, interleaved, and keeps each one's fastest run."""
    best: dict[str, dict] = {}
    for _ in range(repeat):
        for config in configs:
            record = run_one(config, files, audio_s, work)
            walls = best.get(config.name, {}).get("walls", []) + [record["wall_s"]]
            if config.name not in best or record["wall_s"] < best[config.name]["wall_s"]:
                best[config.name] = record
            best[config.name]["walls"] = walls
    cli = best.get("whisper-cli")
    for record in best.values():
        record["wall_ratio_to_cli"] = round(record["wall_s"] / cli["wall_s"], 3) if cli else None
    return list(best.values())


def run_one(config: Config, files: list[dict], audio_s: float, work: Path) -> dict:
    """Runs one configuration as a child process; its peak RSS covers its own children (ffmpeg for the CLI)."""
    env = {k: v for k, v in os.environ.items() if k != "SA_TOKEN"}  # a benchmark never uploads
    log = work / "logs" / f"{config.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"running {config.name} ...", flush=True)
    with open(log, "w") as f:
        started = time.perf_counter()
        child = subprocess.Popen(config.command, stdout=f, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{config.name} failed (exit {child.returncode}); see {log}")
    return {"name": config.name, "wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "rtf": round(wall / audio_s, 4),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "wer": round(wer(files, config.texts()), 4),
            "audio_s": round(audio_s, 2)}  # fmt: skip


def wer(files: list[dict], texts: dict[str, str]) -> float:
    """Corpus WER over the set after Whisper's English normalizer (numbers, spelling, punctuation)."""
    normalize = text_normalizer("en")
    return jiwer.wer([normalize(f["text"]) for f in files], [normalize(texts[f["file"]]) or "<empty>" for f in files])


def machine(load: tuple[float, ...]) -> dict:
    lines = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "")
    packages = ("openai-whisper", "torch", "faster-whisper", "ctranslate2", "preannotate")
    return {"cpu": cpu or platform.processor(), "cores": THREADS, "python": platform.python_version(),
            "platform": platform.platform(), "load_average_at_start": [round(x, 2) for x in load],
            "ffmpeg": shutil.which("ffmpeg"), "versions": {p: metadata.version(p) for p in packages}}  # fmt: skip
