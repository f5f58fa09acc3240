"""What the bucket tests share across clouds: a tree of keys, the samples a run reads, its config and exports."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from preannotate.config import RunConfig, load_config

from .media import SAMPLES

GREEDY = ["transcribe.beam_size=null", "transcribe.best_of=null"]  # as tests/test_pipeline.py
CLIPS = ("counting", "hello_world", "quick_brown_fox")
# Keys that exercise the discovery rules: hidden names, other extensions, nesting, names that collide, sibling prefixes.
KEYS = ["set/b/2.MP3", "set/a/1.wav", "set/a/.hidden.wav", "set/.cache/x.wav", "set/notes.txt", "set/c/d/e/3.mkv",
        "set/z.Opus", "set/day1/take.wav", "set/day1__take.wav", "setting/other.wav", "elsewhere/4.wav"]  # fmt: skip
LISTED = ["a/1.wav", "b/2.MP3", "c/d/e/3.mkv", "day1/take.wav", "day1__take.wav", "z.Opus"]  # what set/ holds as media


def local_tree(root: Path, keys: list[str] = KEYS) -> None:
    """The keys under `set/` as files under `root/set` (one byte each), to discover locally."""
    for key in keys:
        if key.startswith("set/"):
            (root / key).parent.mkdir(parents=True, exist_ok=True)
            (root / key).write_bytes(b"x")


def run_config(input_dir: str | Path, out: Path, *overrides: str) -> RunConfig:
    """A run of the bundled tiny model on CPU, greedy, from `input_dir` into `out`."""
    return load_config(
        None,
        [f"input.dir={input_dir}", f"output.dir={out}", "model.name=bundled:tiny.en", "model.device=cpu", *GREEDY,
         "superannotate.backoff_seconds=0.01", *overrides],
    )  # fmt: skip


def upload_clips(put: Callable[[str, bytes], None], tmp_path: Path, clips: tuple[str, ...] = CLIPS) -> None:
    """The English samples as `set/en/<clip>.wav` through `put(key, body)`, and the same tree under tmp_path/in/en/."""
    (tmp_path / "in" / "en").mkdir(parents=True)
    for clip in clips:
        shutil.copy(SAMPLES / "en" / f"{clip}.wav", tmp_path / "in" / "en")
        put(f"set/en/{clip}.wav", (SAMPLES / "en" / f"{clip}.wav").read_bytes())


def exported(out: Path) -> dict[str, dict]:
    """The SuperAnnotate JSON files a run exported, by file name."""
    return {p.name: json.loads(p.read_text()) for p in sorted((out / "superannotate").glob("*.json"))}


def transcript_source(out: Path, item: str) -> dict:
    """The source identity stored with an item's transcript."""
    return json.loads((out / "transcripts" / f"{item}.json").read_text())["meta"]["source"]
