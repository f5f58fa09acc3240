"""Executing a batch: each run in its own papermill process, its outcome read back, and the summary table."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..journal import read_run
from ..notebook import project_root
from ..storage import read_json
from .owner import EXECUTED, LOG_FILE, OUTPUT_PARAMETERS, PARAMETERS_FILE, as_json, mapping_at, write_marker
from .plan import Run

KERNEL = "python3"  # ipykernel's spec; jupyter_client starts it with this interpreter (sys.executable)
# A run that finished with failed files is "partial": it runs again under --resume.
OK, PARTIAL, FAILED, SKIPPED = "ok", "partial", "failed", "skipped"
# Ctrl-C: the runs it stopped, and those it kept from starting.
INTERRUPTED, NOT_STARTED = "interrupted", "cancelled"
PROBLEMS = (FAILED, PARTIAL, INTERRUPTED)  # statuses that make the batch fail and get a line under the table
STOP_GRACE_S = 10.0  # a papermill process interrupted by Ctrl-C gets this long to save its notebook, then SIGINT
_children: set[subprocess.Popen] = set()  # the papermill processes running now
_children_lock = threading.Lock()


@dataclass
class Outcome:
    """What became of one run."""

    run: Run
    status: str
    seconds: float = 0.0
    message: str = ""
    summary: dict[str, Any] | None = None
    upload: str = "-"


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a batch, with every run's outcome: finished, interrupted or not started."""

    def __init__(self, outcomes: list[Outcome]) -> None:
        super().__init__()
        self.outcomes = outcomes


def run_batch(notebook: Path, runs: list[Run], jobs: int = 1, resume: bool = False) -> list[Outcome]:
    """Executes the runs, `jobs` at a time, and returns their outcomes in the runs' order.

    Raises:
        BatchInterrupted: Ctrl-C: runs not started yet are not started, running ones are stopped; it
            holds the outcomes of all of them (the finished ones' outputs are kept).
    """
    stop, signalled = threading.Event(), list[str]()  # the signal that stopped the batch, if one did

    def one(run: Run) -> Outcome:
        outcome = _finished(run) if resume else None
        outcome = outcome or execute(notebook, run)
        if stop.is_set() and outcome.status in (FAILED, PARTIAL):
            why = signalled[0] if signalled else "Ctrl-C"
            outcome.status, outcome.message = INTERRUPTED, f"interrupted ({why}): {outcome.message}".rstrip(": ")
        print(f"{run.name}: {outcome.status} ({outcome.seconds:.0f} s) {outcome.message}".rstrip(), flush=True)
        return outcome

    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="batch")
    with _stop_signals_as_ctrl_c(signalled):
        futures = [pool.submit(one, run) for run in runs]
        try:
            return [f.result() for f in futures]
        except KeyboardInterrupt:
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)  # else the queued runs would all still run
            _stop_children(at_once=bool(signalled))
            raise BatchInterrupted([_after_interrupt(f, run) for f, run in zip(futures, runs)]) from None
        finally:
            pool.shutdown(wait=True)


@contextlib.contextmanager
def _stop_signals_as_ctrl_c(signalled: list[str]) -> Iterator[None]:
    """SIGTERM and SIGHUP (a scheduler's stop, a closed terminal) stop the batch as Ctrl-C does, and its notebooks.

    Without this the batch died at once and its papermill processes ran on, orphaned, holding their run folders'
    locks: a rerun found them busy and called the runs failed while the orphans finished them. The signal's name
    goes into `signalled`. Only the main thread may set handlers (the batch's command line runs there).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        signalled.append(signal.Signals(signum).name)
        raise KeyboardInterrupt

    before = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)


def _stop_children(at_once: bool = False) -> None:
    """Stops the running papermill processes: a terminal's Ctrl-C reached them too; a signal to this one did not.

    Each gets STOP_GRACE_S to save its notebook, then SIGINT. A second Ctrl-C while they save (people press
    it twice) ends the wait: they are interrupted at once and the table of outcomes still follows.

    Args:
        at_once: The stop came as a signal to this process alone (SIGTERM, SIGHUP): SIGINT goes to them first.
    """
    deadline = time.monotonic() + STOP_GRACE_S
    with _children_lock:
        children = list(_children)
    if at_once:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
    try:
        for child in children:
            try:
                child.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.send_signal(signal.SIGINT)
    except KeyboardInterrupt:
        print("Ctrl-C again: interrupting the running notebooks now", file=sys.stderr, flush=True)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)


def _after_interrupt(future: Future, run: Run) -> Outcome:
    if future.cancelled():
        return Outcome(run, NOT_STARTED, message="not started: the batch was interrupted")
    return future.result()


def execute(notebook: Path, run: Run) -> Outcome:
    """Executes one run in its own papermill process; its log goes to `<folder>/papermill.log`.

    A run whose folder cannot be written fails alone: the message says why.
    """
    started = time.perf_counter()
    try:
        code = _papermill(notebook, run)
    except OSError as e:
        return Outcome(run, FAILED, time.perf_counter() - started, f"cannot write {run.folder}: {e}")
    outcome = _outcome(run, code)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _papermill(notebook: Path, run: Run) -> int:
    """Runs papermill on `run` and returns its exit code."""
    run.folder.mkdir(parents=True, exist_ok=True)
    write_marker(run.folder)  # first: however the run ends, the folder shows its files are the batch's (owner.py)
    (run.folder / PARAMETERS_FILE).write_text(yaml.safe_dump(run.parameters, sort_keys=False), encoding="utf-8")
    executed = run.folder / EXECUTED
    executed.unlink(missing_ok=True)  # a stale notebook must not pass for this run's
    command = [sys.executable, "-m", "papermill", str(notebook), str(executed), "-f", str(run.folder / PARAMETERS_FILE)]
    command += ["-k", KERNEL, "--cwd", str(project_root()), "--log-output", "--no-progress-bar"]
    with (
        open(run.folder / LOG_FILE, "w", encoding="utf-8") as log,
        subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL) as child,
    ):
        with _children_lock:
            _children.add(child)
        try:
            return child.wait()
        finally:
            with _children_lock:
                _children.discard(child)


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
    """The outcome of an earlier, complete and successful execution with the same parameters, if any.

    A dry run made for want of a token (`dry_run` unset) is not finished once a token can be found.
    """
    nb = read_json(run.folder / EXECUTED)
    meta = mapping_at(mapping_at(nb, "metadata"), "papermill")
    if meta.get("exception") or not meta.get("end_time"):
        return None
    if as_json(meta.get("parameters")) != as_json(run.parameters):
        return None
    outcome = _with_results(Outcome(run, SKIPPED, message="finished earlier"))
    if outcome.status == PARTIAL or ("output_dir" in run.parameters and outcome.summary is None):
        return None
    if outcome.upload == "dry run" and run.parameters.get("dry_run") is not True and _token_found():
        return None
    return outcome


def _token_found() -> bool:
    from ..errors import CredentialsError
    from ..superannotate.credentials import find_credentials

    try:
        return find_credentials() is not None
    except CredentialsError:  # a token that will be refused: running again says so
        return True


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
    problems = [f"{o.run.name}: {o.message}" for o in outcomes if o.status in PROBLEMS]
    return "\n".join(lines + ([""] + problems if problems else []))
