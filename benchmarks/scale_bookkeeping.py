"""Everything after transcription at thousands of items: upload, metadata, pull, report and export.

    .venv/bin/python benchmarks/scale_bookkeeping.py                          # 1,000, 4,000 and 16,000 items
    .venv/bin/python benchmarks/scale_bookkeeping.py --items 1000,4000 --dir /tmp/scale --profile pull

For each size it writes a finished run without a model (N short WAV files of silence, two chunks each:
chunks.csv/jsonl, SuperAnnotate JSON and run.json as `write_exports` and `RunReport` write them), serves it
with the loopback SuperAnnotate server of tests/support/sa_server.py, and times with the real SDK, one after
another: the first upload (attach, upload, statuses, priorities and custom fields, run.json record), a second
upload with nothing changed, a `--force-upload`, a pull (every item Completed, one in ten edited), the
report (comparison and HTML) and the export (clips, tables). It prints seconds per stage and per item, and
the ratio of per-item time at the largest size to the smallest: linear work gives about 1, work that grows
faster than the number of items (a scan of every item per item, a whole file rewritten per batch) well above.
The server runs in the same process, so its share of the time is in the figures (see `--profile`).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from support.media import write_wav16  # noqa: E402
from support.sa_server import SuperAnnotateServer, clean_sa_environment, pointed_at_server  # noqa: E402

from preannotate.chunking import Chunk  # noqa: E402
from preannotate.config import config_to_dict, load_config  # noqa: E402
from preannotate.correction import pull_run  # noqa: E402
from preannotate.correction.compare import compare_run  # noqa: E402
from preannotate.correction.dataset import export_dataset  # noqa: E402
from preannotate.correction.report import write_report  # noqa: E402
from preannotate.exports import ItemChunks, annotation_classes, write_exports  # noqa: E402
from preannotate.options import (  # noqa: E402
    AnnotationOptions,
    CorrectionOptions,
    DatasetExportOptions,
    SuperAnnotateOptions,
)
from preannotate.report import FileResult, RunReport  # noqa: E402
from preannotate.superannotate import preflight, upload_run  # noqa: E402
from preannotate.superannotate.report import write_upload_record  # noqa: E402

SIZES = (1_000, 4_000, 16_000)
STAGES = ("upload", "upload_again", "upload_force", "pull", "report", "export")
PROJECT = "Scale"
ANNOTATION = AnnotationOptions()
SECONDS = 2.0  # audio per item: two chunks of 0.8 s
EDITED = 10  # one item in ten is corrected by an "annotator" before the pull


def make_run(root: Path, n: int) -> tuple[Path, Path]:
    """An input folder of `n` WAV files and a finished run over them, written without a model."""
    inp, out = root / "in", root / "out"
    inp.mkdir(parents=True)
    silence = np.zeros(int(SECONDS * 16000), dtype=np.float32)
    entries, files = [], []
    for i in range(n):
        item = f"clip_{i:06d}.wav"
        write_wav16(inp / item, silence)
        spec = [(0.1, 0.9, f"hello number {i}", False, 0.9), (1.1, 1.9, f"world {i % 97}", i % 3 == 0, 0.5)]
        chunks = [Chunk(k, s, e, t, mean_word_probability=p, needs_review=r) for k, (s, e, t, r, p) in enumerate(spec)]
        entries.append(ItemChunks(item, item, "en", SECONDS, chunks))
        files.append(FileResult(item, item, "ok", duration=SECONDS, language="en", chunks=2,
                                predicted_wer=(i % 50) / 100, doubtful_share=0.5 if i % 3 == 0 else 0.0))  # fmt: skip
    write_exports(out, entries, ANNOTATION, sync=False)
    config = config_to_dict(load_config(None, [f"input.dir={inp}", f"output.dir={out}"]))
    RunReport(out, config, files=files).write()
    return inp, out


def sa_options() -> SuperAnnotateOptions:
    return SuperAnnotateOptions(project=PROJECT, url_prefix="https://media.example.org/a", backoff_seconds=0.0)


def correct(server: SuperAnnotateServer, n: int) -> None:
    """What annotators do before the pull: every item Completed, one in ten with its first text changed."""
    for i in range(n):
        item = f"clip_{i:06d}.wav"
        if i % EDITED == 0:
            annotation = server.annotation(PROJECT, item)
            for stamp in annotation["instances"][0]["parameters"][0]["timestamps"]:
                stamp["attributes"][0]["name"] = f"corrected number {i}"
            server.set_annotation(PROJECT, item, annotation)
        server.set_status(PROJECT, item, "Completed")


def measure(n: int, folder: Path, profile: str | None) -> dict[str, float]:
    """Seconds of each stage on a run of `n` items."""
    root = folder / f"n{n}"
    inp, out = make_run(root, n)
    opts, classes = sa_options(), annotation_classes(ANNOTATION)
    times: dict[str, float] = {}

    def timed(stage: str, action) -> None:
        profiler = cProfile.Profile() if stage == profile else None
        started = time.perf_counter()
        with profiler or contextlib.nullcontext():
            action()
        times[stage] = time.perf_counter() - started
        if profiler:
            print(f"--- profile of {stage} at {n} items (cumulative, top 25)")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)

    def upload(force: bool = False) -> None:
        report = upload_run(out, opts, ANNOTATION, inp, preflight(opts), force, classes=classes)
        assert not report.failed, report.items[:3]
        write_upload_record(out, report)

    with pytest.MonkeyPatch.context() as mp:
        clean_sa_environment(mp, root / "home")
        with pointed_at_server(mp) as server:
            timed("upload", upload)
            timed("upload_again", upload)
            timed("upload_force", lambda: upload(force=True))
            correct(server, n)
            timed("pull", lambda: pull_run(out, PROJECT, preflight(opts)))
    timed("report", lambda: write_report(compare_run(out, ANNOTATION, CorrectionOptions()), out / "correction"))
    timed("export", lambda: export_dataset(out, DatasetExportOptions(), ANNOTATION, inp))
    shutil.rmtree(root, ignore_errors=True)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--items", default=",".join(map(str, SIZES)), help="sizes, comma-separated (default %(default)s)"
    )
    parser.add_argument("--dir", type=Path, help="where to write (created; default: a temporary folder on /tmp)")
    parser.add_argument("--profile", choices=STAGES, help="print a cProfile of this stage at each size")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.items.split(",") if s.strip()]
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
    rows = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for n in sizes:
            rows[n] = measure(n, Path(tmp), args.profile)
            print(f"{n} items: " + ", ".join(f"{s} {rows[n][s]:.1f} s" for s in STAGES), flush=True)
    print(f"\n{'stage':<13}" + "".join(f"{n:>9} items  ms/item" for n in sizes) + "   ratio")
    for stage in STAGES:
        per = [rows[n][stage] / n * 1000 for n in sizes]
        cells = "".join(f"{rows[n][stage]:>13.1f} s {p:>7.2f}" for n, p in zip(sizes, per, strict=True))
        print(f"{stage:<13}{cells}   {per[-1] / per[0]:.2f}x")


if __name__ == "__main__":
    main()
