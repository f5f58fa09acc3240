"""The table `preannotate run` prints stays readable over thousands of files: failures first, counted by reason."""

from __future__ import annotations

from preannotate.report import REASONS_SHOWN, SHOWN_ROWS, FileResult, summary_table


def ok(i: int) -> FileResult:
    return FileResult(f"clip{i}.wav", f"clip{i}.wav", "ok", duration=3.0, language="en", segments=1, chunks=1,
                      predicted_wer=0.05, route="draft")  # fmt: skip


def failed(i: int, reason: str, root: str = "/data/in") -> FileResult:
    source = f"part{i % 7}/bad{i}.wav"
    return FileResult(f"bad{i}.wav", source, "failed", error=f"{root}/{source}: {reason}")


def test_a_small_run_lists_every_file_once():
    files = [ok(i) for i in range(SHOWN_ROWS - 2)] + [failed(1, "empty file (0 bytes)"), failed(2, "truncated")]
    lines = summary_table(files).splitlines()
    assert len(lines) == 2 + len(files) + 1  # header, rule, one row per file, routes
    assert not any(line.startswith("... and") for line in lines)
    assert lines[-1] == f"routes: {SHOWN_ROWS - 2} draft, 0 from_scratch, 0 control"


def test_thousands_of_failures_are_counted_by_reason_not_listed():
    files = [ok(0), *(failed(i, "empty file (0 bytes)") for i in range(1500)), ok(1)]
    files += [failed(i, "not a media file FFmpeg can read", "s3://bucket/in") for i in range(1500, 2000)]
    files.append(ok(2))
    lines = summary_table(files).splitlines()
    rows = lines[2 : 2 + SHOWN_ROWS]
    assert all("failed: " in row for row in rows)  # what needs someone's attention comes first
    assert lines[2 + SHOWN_ROWS] == (
        f"... and {len(files) - SHOWN_ROWS} more file(s), 2000 failed in all: run.json lists every file"
    )
    # The reason without the file's path (local or in a bucket), so that the same reason counts once.
    assert lines[3 + SHOWN_ROWS :] == [
        "  1500 x empty file (0 bytes)",
        "  500 x not a media file FFmpeg can read",
        "routes: 3 draft, 0 from_scratch, 0 control",
    ]
    assert len(lines) == SHOWN_ROWS + 6


def test_many_reasons_are_capped_and_the_rest_summed():
    files = [failed(i, f"reason number {i % (REASONS_SHOWN + 3)}") for i in range(200)]
    lines = summary_table(files, shown=10).splitlines()
    counted = [line for line in lines if line.startswith("  ") and " x " in line]
    assert len(counted) == REASONS_SHOWN + 1
    assert counted[-1].endswith(" x other reasons")
    assert sum(int(line.split(" x ")[0]) for line in counted) == 200
    # A message that does not start with its file's path is counted as it is.
    odd = FileResult("x.wav", "x.wav", "failed", error="cannot decode: x.wav: broken")
    table = summary_table([odd] * 3, shown=1)
    assert "  3 x cannot decode: x.wav: broken" in table.splitlines()
