"""The resume check of a finished folder: reading every transcript (before) against the journal (after).

    .venv/bin/python benchmarks/resume_check.py                 # 2,000 and 20,000 finished files
    .venv/bin/python benchmarks/resume_check.py --files 300 --dir /tmp/rc

It writes a finished run's output without a model: one small media file and one transcript (two
segments with word timestamps, about 2 KB) per file, then times the planning step of a re-run, which
decides what is finished. Before: `plan` reads and checks every transcript (as without a journal).
After: `previous_run` plays the journal back and `plan` takes each file from it after two `stat` calls.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bookkeeping import measure_sizes  # noqa: E402  (beside this file)

from preannotate.journal import Journal, previous_run  # noqa: E402
from preannotate.naming import MediaFile  # noqa: E402
from preannotate.report import RunReport  # noqa: E402
from preannotate.results import Segment, Transcript, Word  # noqa: E402
from preannotate.run.plan import plan  # noqa: E402
from preannotate.run.resume import source_state  # noqa: E402
from preannotate.storage import write_json_atomic  # noqa: E402

KEY = "0123456789abcdef"
SIZES = (2_000, 20_000)


def _transcript(source: dict, item: str) -> Transcript:
    words = tuple(Word(f" word{i}", i * 0.4, i * 0.4 + 0.3, 0.9) for i in range(8))
    segments = tuple(Segment(s, s * 3.2, s * 3.2 + 3.0, " word" * 8, tuple(range(12)), words=words) for s in range(2))
    meta = {"item": item, "source": source, "options_key": KEY, "warnings": []}
    return Transcript(" word" * 16, "en", segments, 6.4, 0.98, meta=meta)


def _finished_folder(root: Path, files: int) -> tuple[list[MediaFile], Path]:
    (root / "in").mkdir(parents=True)
    out = root / "out"
    media = []
    for i in range(files):
        name = f"clip_{i:06d}.wav"
        path = root / "in" / name
        path.write_bytes(b"RIFF" + i.to_bytes(4, "little"))
        media.append(MediaFile(path, name, name))
        source = {"path": name, **source_state(path, None)}
        write_json_atomic(out / "transcripts" / f"{name}.json", _transcript(source, name).to_dict())
    return media, out


def measure(files: int, folder: Path) -> dict[str, float]:
    """Times planning a re-run of `files` finished files, without and with the journal, in seconds."""
    media, out = _finished_folder(folder / f"n{files}", files)
    started = time.perf_counter()
    read = plan(media, out, KEY, False)
    before = time.perf_counter() - started
    assert len(read.jobs) == 0 and read.reused == 0
    report = RunReport(out, {}, files=read.results)
    report.journal = Journal.start(report, read.stored)  # what the finished run left: its journal and run.json
    report.write()
    report.journal.close()
    started = time.perf_counter()
    journaled = plan(media, out, KEY, False, previous_run(out))
    after = time.perf_counter() - started
    assert journaled.reused == files and journaled.results == read.results
    return {"files": files, "before_s": before, "after_s": after}


def main(argv: list[str] | None = None) -> None:
    rows = measure_sizes(argv, __doc__, SIZES, measure)
    print("files   resume check before (read transcripts)  after (journal)  ratio")
    for r in rows:
        ratio = r["before_s"] / r["after_s"]
        print(f"{r['files']:>6}  {r['before_s']:>35.2f} s  {r['after_s']:>13.2f} s  {ratio:>5.1f}x")


if __name__ == "__main__":
    main()
