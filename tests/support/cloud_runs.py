"""What the bucket tests share across clouds: a tree of keys, the samples a run reads, its config and exports."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def check_listing_like_local(url: str, tmp_path: Path) -> list[Any]:
    """Discovers `url` (holding KEYS under `set/`) and the same tree on disk, checks they agree; returns the remote."""
    from preannotate.discover import discover
    from preannotate.options import MEDIA_EXTENSIONS

    local_tree(tmp_path)
    remote = discover(f"{url}/set", MEDIA_EXTENSIONS)
    local = discover(tmp_path / "set", MEDIA_EXTENSIONS)
    assert [(f.source, f.item) for f in remote] == [(f.source, f.item) for f in local]
    assert [f.source for f in remote] == LISTED
    nested = discover(f"{url}/set/c/d/", MEDIA_EXTENSIONS)  # a nested prefix, trailing slash allowed
    assert [(f.source, f.item) for f in nested] == [("e/3.mkv", "e__3.mkv")]
    return remote


def check_run_like_local(url: str, tmp_path: Path, *overrides: str) -> tuple[RunConfig, Any]:
    """Runs from `url/set` (holding the clips of `upload_clips`) and from the local copy; checks they agree.

    Returns:
        The bucket run's config and report.
    """
    from preannotate.run import run_pipeline

    bucket = run_config(f"{url}/set", tmp_path / "remote", "superannotate.dry_run=true", *overrides)
    remote = run_pipeline(bucket, progress=False)
    local = run_pipeline(run_config(tmp_path / "in", tmp_path / "local", "superannotate.dry_run=true"), progress=False)
    assert [(f.item, f.status) for f in remote.files] == [(f"en__{c}.wav", "ok") for c in CLIPS]
    assert [(f.item, f.source, f.chunks) for f in remote.files] == [(f.item, f.source, f.chunks) for f in local.files]
    assert exported(tmp_path / "remote") == exported(tmp_path / "local") and len(exported(tmp_path / "local")) == 3
    return bucket, remote
