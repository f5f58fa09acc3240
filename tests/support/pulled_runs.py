"""Runs uploaded and pulled back unchanged, written without a model or a server, for export tests."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from preannotate.chunking import Chunk
from preannotate.config import config_to_dict, load_config
from preannotate.correction.pull import PulledItem, PullReport
from preannotate.exports import ItemChunks, write_exports
from preannotate.options import AnnotationOptions
from preannotate.report import FileResult, RunReport
from preannotate.storage import write_json_atomic
from support.correction_runs import set_text
from support.media import read_sample, write_wav16

ANNOTATION = AnnotationOptions()


def make_pulled_run(
    root: Path,
    items: dict[str, tuple[np.ndarray, list[tuple]]],
    overrides: Sequence[str] = (),
    routes: dict[str, str] | None = None,
) -> Path:
    """A run over real audio, uploaded and pulled unchanged (the drafts as the corrections), without a server.

    Args:
        root: Where `in/` and `out/` are made.
        items: Item name -> its 16 kHz samples (one column per channel for more than one) and (start, end, text)
            or (start, end, text, speaker) chunks.
        overrides: `--set` overrides of the configuration the run records (speakers.mode=channels...).
        routes: Item -> its route when not `draft` (`from_scratch`, `control`: uploaded without text).

    Returns:
        The output folder.
    """
    inp, out = root / "in", root / "out"
    inp.mkdir(parents=True)
    entries = []
    for item, (samples, spec) in items.items():
        write_wav16(inp / item, samples)
        chunks = [Chunk(i, *chunk[:3], speaker=chunk[3] if len(chunk) > 3 else None) for i, chunk in enumerate(spec)]
        entries.append(
            ItemChunks(item, item, "en", len(samples) / 16000, chunks, route=(routes or {}).get(item, "draft"))
        )
    loaded = load_config(None, [f"input.dir={inp}", f"output.dir={out}", *overrides])
    write_exports(out, entries, loaded.annotation)  # annotation.text_group=... in `overrides`: drafts written so
    config = config_to_dict(loaded)
    files = [FileResult(e.item, e.source, "ok", duration=e.duration, language="en", chunks=len(e.chunks), route=e.route)
             for e in entries]  # fmt: skip
    RunReport(out, config, files=files).write()
    pulled = []
    for entry in entries:
        (out / "corrected").mkdir(exist_ok=True)
        shutil.copy(out / "superannotate" / f"{entry.item}.json", out / "corrected" / f"{entry.item}.json")
        pulled.append(PulledItem(entry.item, status="Completed", file=f"corrected/{entry.item}.json"))
    write_json_atomic(out / "pulled.json", PullReport("Project", "target", items=pulled).to_dict())
    return out


SILENCE = np.zeros(4 * 16000, dtype=np.float32)


def fox_run(root: Path) -> Path:
    """One real clip, the quick brown fox, in two chunks pulled back unchanged: enough to export."""
    fox = read_sample("en/quick_brown_fox")
    return make_pulled_run(root, {"fox.wav": (fox, [(0.0, 1.2, "The quick brown fox"), (1.2, 2.8, "jumps.")])})


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder`, by its relative path, with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def small_run(root: Path) -> Path:
    """Two items, three chunks, pulled back unchanged."""
    spec = {"a.wav": [(0.0, 1.5, "hello there"), (2.0, 3.5, "general kenobi")], "b.wav": [(0.0, 2.0, "one two")]}
    return make_pulled_run(root, {item: (SILENCE, chunks) for item, chunks in spec.items()})


def long_run(root: Path) -> Path:
    """One 80-s item of 40 chunks, every other one corrected: enough for `calibrate`."""
    spec = [(2.0 * i, 2.0 * i + 1.5, f"word{i} alpha beta gamma") for i in range(40)]
    out = make_pulled_run(root, {"long.wav": (np.zeros(80 * 16000, dtype=np.float32), spec)})
    path = out / "corrected" / "long.wav.json"
    annotation = json.loads(path.read_text())
    for i in range(0, 40, 2):
        set_text(annotation, i, f"fixed{i} alpha beta gamma")
    path.write_text(json.dumps(annotation))
    return out
