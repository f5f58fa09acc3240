"""Executing a batch: each run in its own papermill process, its outcome read back, and the summary table."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..journal import read_run
from ..notebook import project_root
from ..storage import read_json
from .plan import Run

KERNEL = "python3"  # ipykernel's spec; jupyter_client starts it with this interpreter (sys.executable)
EXECUTED, PARAMETERS_FILE, LOG_FILE = "notebook.ipynb", "parameters.yaml", "papermill.log"
OUTPUT_PARAMETERS = ("output_dir", "run_dir")  # where a notebook's run.json is
# A run that finished with failed files is "partial": it runs again under --resume.
OK, PARTIAL, FAILED, SKIPPED = "ok", "partial", "failed", "skipped"


@dataclass
class Outcome:
    """What became of one run."""

    run: Run
    status: str
    seconds: float = 0.0
    message: str = ""
    summary: dict[str, Any] | None = None
    upload: str = "-"


def run_batch(notebook: Path, runs: list[Run], jobs: int = 1, resume: bool = False) -> list[Outcome]:
    """Executes the runs, `jobs` at a time, and returns their outcomes in the runs' order."""

    def one(run: Run) -> Outcome:
        outcome = _finished(run) if resume else None
        outcome = outcome or execute(notebook, run)
        print(f"{run.name}: {outcome.status} ({outcome.seconds:.0f} s) {outcome.message}".rstrip(), flush=True)
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="batch") as pool:
        return list(pool.map(one, runs))


def execute(notebook: Path, run: Run) -> Outcome:
    """Executes one run in its own papermill process; its log goes to `<folder>/papermill.log`."""
    run.folder.mkdir(parents=True, exist_ok=True)
    (run.folder / PARAMETERS_FILE).write_text(yaml.safe_dump(run.parameters, sort_keys=False), encoding="utf-8")
    executed = run.folder / EXECUTED
    executed.unlink(missing_ok=True)  # a stale notebook must not pass for this run's
    command = [sys.executable, "-m", "papermill", str(notebook), str(executed), "-f", str(run.folder / PARAMETERS_FILE)]
    command += ["-k", KERNEL, "--cwd", str(project_root()), "--log-output", "--no-progress-bar"]
    started = time.perf_counter()
    with open(run.folder / LOG_FILE, "w", encoding="utf-8") as log:
        code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
    outcome = _outcome(run, code)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _outcome(run: Run, code: int) -> Outcome:
    nb = read_json(run.folder / EXECUTED)
    error = _error(nb) if isinstance(nb, dict) else None
    if code != 0 or error or not isinstance(nb, dict):
        return Outcome(run, FAILED, message=error or _log_tail(run.folder / LOG_FILE))
    return _with_results(Outcome(run, OK))


def _error(nb: dict[str, Any]) -> str | None:
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"{output.get('ename')}: {output.get('evalue')}"
    return None


def _log_tail(path: Path) -> str:
    lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "papermill failed without a message"


def _output_dir(run: Run) -> Path | None:
    folder = next((run.parameters[p] for p in OUTPUT_PARAMETERS if run.parameters.get(p)), None)
    return Path(folder) if folder else None


def _with_results(outcome: Outcome) -> Outcome:
    """Adds the run's figures from its run.json; failed files or uploads make the run partial."""
    folder = _output_dir(outcome.run)
    data = read_run(folder) if folder else None
    if not isinstance(data, dict):
        return outcome
    outcome.summary = summary = data.get("summary") or {}
    upload = data.get("upload") or {}
    failed_uploads = (upload.get("summary") or {}).get("failed", 0)
    if upload:
        done = (upload.get("summary") or {}).get("succeeded", 0)
        outcome.upload = "error" if "error" in upload else "dry run" if upload.get("dry_run") else str(done)
    if summary.get("failed") or summary.get("interrupted") or failed_uploads:
        problems = f"{summary.get('failed', 0)} file(s) and {failed_uploads} upload(s) failed; see run.json"
        outcome.status, outcome.message = PARTIAL, problems
    return outcome


def _finished(run: Run) -> Outcome | None:
    """The outcome of an earlier, complete and successful execution with the same parameters, if any."""
    meta = (read_json(run.folder / EXECUTED) or {}).get("metadata", {}).get("papermill", {})
    if meta.get("exception") or not meta.get("end_time"):
        return None
    if json.loads(json.dumps(meta.get("parameters"))) != json.loads(json.dumps(run.parameters)):
        return None
    outcome = _with_results(Outcome(run, SKIPPED, message="finished earlier"))
    if outcome.status == PARTIAL or ("output_dir" in run.parameters and outcome.summary is None):
        return None
    return outcome


def summary_table(outcomes: list[Outcome]) -> str:
    """The batch as a plain-text table, then one line per failed run with its reason."""
    header = ("run", "status", "files", "audio h", "chunks", "uploaded", "time", "notebook")
    rows: list[tuple[str, ...]] = [header]
    for o in outcomes:
        s = o.summary or {}
        hours = f"{s['audio_seconds'] / 3600:.4f}" if "audio_seconds" in s else "-"
        rows.append((o.run.name, o.status, str(s.get("files", "-")), hours, str(s.get("chunks", "-")), o.upload))
        rows[-1] += (f"{o.seconds:.0f} s", str(o.run.folder / EXECUTED))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    problems = [f"{o.run.name}: {o.message}" for o in outcomes if o.status in (FAILED, PARTIAL)]
    return "\n".join(lines + ([""] + problems if problems else []))
