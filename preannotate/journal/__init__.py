"""The run's journal: one JSON line per finished file, appended (and synced in groups), from which run.json is rebuilt.

Rewriting run.json after every file costs time in the number of files (8.6 ms at 300 files, 519 ms
at 20,000); appending one line costs the same at any size. A run writes `<output>/journal.jsonl`:

    {"t": "start", "report": {...}, "files": [...], "stored": {...}}   the plan: every file's result
    {"t": "file", "file": {...}, "stored": {...}}                      one finished file (replaces its result)
    {"t": "set", "report": {...}}                                       fields set later (model, versions...)
    {"t": "written"}                                                    run.json was written from this state
    {"t": "exported"}                                                   ... after the exports were written

run.json is written at the end of each stage as before. A journal whose last record is not
`written` belongs to a run that was killed: the next run, or a command that reads run.json,
rebuilds run.json from it first. `stored` holds what resuming needs to trust a transcript without
reading it: the key it was made with, its media file's state and its own size and mtime.

Each line reaches the operating system before `append` returns, so a killed process loses none. For a
power cut, lines, transcripts and exports are made durable together, at most a second after a line, by
one flush of the file system (`Journal`), instead of one fsync per file (transcript, exports and journal
line were four to six per file). A power cut can then lose the last second's lines and files; the next
run redoes what they named: a transcript missing, empty or of another size or mtime than journaled is
read and checked, or transcribed again.

    records     what each line holds, parsed and replayed into a report (JOURNAL_FILE, parse, replay)
    writer      the journal a run appends to (Journal)
    playback    run.json read back or rebuilt, finished files reused on resume (read_run, reused_result)
"""

from .playback import (
    previous_run,
    read_run,
    rebuild_run_json,
    reused_result,
    run_record_problem,
    stopped_before_exports,
)
from .records import (
    EXPORTED,
    JOURNAL_FILE,
    RUN_FILE,
    Replayed,
    file_result,
    parse,
    read_records,
    replay,
    report_state,
    start_record,
    stored_state,
)
from .writer import SYNC_INTERVAL_S, Journal

__all__ = [
    "EXPORTED",
    "JOURNAL_FILE",
    "RUN_FILE",
    "SYNC_INTERVAL_S",
    "Journal",
    "Replayed",
    "file_result",
    "parse",
    "previous_run",
    "read_records",
    "read_run",
    "run_record_problem",
    "rebuild_run_json",
    "replay",
    "report_state",
    "reused_result",
    "start_record",
    "stopped_before_exports",
    "stored_state",
]
