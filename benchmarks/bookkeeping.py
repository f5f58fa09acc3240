"""Per-file bookkeeping cost: rewriting run.json after every file (before) against one journal line (after).

    .venv/bin/python benchmarks/bookkeeping.py                 # 300, 2,000 and 20,000 files
    .venv/bin/python benchmarks/bookkeeping.py --files 300 --dir /tmp/bk

For each size it builds a run's report with that many finished files (fields filled as a real run fills
them), then times what the run does after each file: before, `RunReport.write()` (run.json rewritten in
full, fsync'd, renamed); after, `RunReport.record()` with a journal (one JSON line appended; synced in groups).
It prints the median of several repeats in ms, the ratio, and the bookkeeping of a whole run of that size
(before: one write per file at the run's size so far; after: one line per file plus one final write).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from preannotate.config import config_to_dict  # noqa: E402
from preannotate.journal import Journal  # noqa: E402
from preannotate.options import RunConfig  # noqa: E402
from preannotate.report import FileResult, RunReport, versions  # noqa: E402

SIZES = (300, 2_000, 20_000)


def _result(i: int) -> FileResult:
    return FileResult(
        item=f"clip_{i:06d}.wav", source=f"speaker_{i % 40:02d}/clip_{i:06d}.wav", status="ok",
        duration=4.321, language="en", language_probability=0.987654, segments=2, chunks=1, seconds=0.853,
        predicted_wer=0.0712, doubtful_share=0.0, route="draft",
    )  # fmt: skip


def _report(folder: Path, files: int) -> RunReport:
    folder.mkdir(parents=True, exist_ok=True)
    report = RunReport(folder, config_to_dict(RunConfig()), versions=versions())
    report.model = {"name": "bundled:tiny.en", "identity": "bundled|tiny.en|preannotate-models-tiny==1"}
    report.files = [_result(i) for i in range(files)]
    return report


def _median_ms(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure(files: int, folder: Path) -> dict[str, float]:
    """Times one file's bookkeeping at `files` files, before and after, in ms (medians)."""
    report = _report(folder / f"n{files}", files)
    before = _median_ms(report.write, 5 if files >= 20_000 else 20)
    report.journal = Journal.start(report)
    after = _median_ms(lambda: report.record(_result(files // 2)), 200)
    final = _median_ms(report.write, 3)
    report.journal.close()
    # A whole run: before, write i grows with i (mean size files/2, cost linear in it); after, lines plus one write.
    run_before = before * files / 2 / 1000
    run_after = (after * files + final) / 1000
    return dict(files=files, before_ms=before, after_ms=after, run_before_s=run_before, run_after_s=run_after)


def measure_sizes(argv: list[str] | None, doc: str, sizes: tuple[int, ...], measure_one) -> list[dict]:
    """Parses `--files` and `--dir` and measures each size in a temporary folder (shared by the benchmarks here)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--files", type=int, nargs="*", default=list(sizes), help=f"sizes (default {sizes})")
    parser.add_argument("--dir", type=Path, help="where to write (default: a temporary folder on /tmp)")
    args = parser.parse_args(argv)
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)  # `--dir /tmp/bk`, as the usage shows, need not exist yet
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        return [measure_one(n, Path(tmp)) for n in args.files]


def main(argv: list[str] | None = None) -> None:
    rows = measure_sizes(argv, __doc__, SIZES, measure)
    print("files   per file before (run.json)  after (journal)  ratio    whole run before  after")
    for r in rows:
        ratio = r["before_ms"] / r["after_ms"]
        print(
            f"{r['files']:>6}  {r['before_ms']:>22.2f} ms  {r['after_ms']:>12.2f} ms  {ratio:>6.1f}x"
            f"  {r['run_before_s']:>13.1f} s  {r['run_after_s']:>5.1f} s"
        )


if __name__ == "__main__":
    main()
