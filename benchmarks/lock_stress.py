"""Stress test of the output folder's lock (preannotate/lock.py) with real processes.

    .venv/bin/python benchmarks/lock_stress.py --procs 8 16 32 --rounds 200 --seconds 20 --dir /tmp/lockstress

Scenarios: `existing` (N processes start together on an empty existing folder, each round), `nested` (on a
missing nested folder), `continuous` (each retries when refused, for --seconds), `kill-holder` (a holder
SIGKILLed while holding), `kill-random` (a process SIGKILLed 0-5 ms after it starts to take the lock), `threads`
(nesting and threads in one process). `--no-links` makes `os.link` fail with EPERM in the processes that take
the lock (a file system without hard links); or give a --dir on such a file system. `--remove` takes the lock as
`lock_beside` does (`output_lock(..., remove=True)`: the lock file and its folder go when released, even a killed
holder's): then any folder or lock file left once nobody holds it is a leftover.
A violation: two holders at once, a round nobody won, an error other than LockError, a `.tmp` file or a lock
file naming a holder left once nobody holds it, a dead holder's lock not taken over. Leftovers (empty lock
files, empty folders) are counted apart; `--strict` makes them violations too.
"""

from __future__ import annotations

import argparse
import errno
import logging
import multiprocessing as mp
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from preannotate.errors import LockError  # noqa: E402
from preannotate.lock import LOCK_FILE, output_lock  # noqa: E402

CTX = mp.get_context("fork")  # workers start fast; the parent never holds a lock when it forks
REMOVE = {"remove": False}  # --remove: set before any worker is forked


def no_links() -> None:
    def link(*args, **kwargs):
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))

    os.link = link  # at the OS boundary: what FAT reports


def inside(check: Path, hold_s: float) -> bool:
    """The critical section: False when someone else is inside."""
    try:
        os.close(os.open(check / "inside", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    try:
        with open(check / "holders.log", "a") as log:
            log.write(f"{os.getpid()}\n")
        time.sleep(hold_s)
    finally:
        os.unlink(check / "inside")
    return True


def attempt(target: Path, check: Path, hold_s: float) -> str:
    try:
        with output_lock(target, "run", remove=REMOVE["remove"]):
            return "won" if inside(check, hold_s) else "VIOLATION two holders"
    except LockError:
        return "refused"
    except Exception as e:  # noqa: BLE001  anything else is a finding
        return f"ERROR {type(e).__name__}: {e}"


def worker(target, check, hold_s, links, barrier, queue, rounds, seconds) -> None:
    if not links:
        no_links()
    if seconds:  # continuous contention: retry when refused
        counts: dict[str, int] = {}
        end = time.monotonic() + seconds
        barrier.wait()
        while time.monotonic() < end:
            outcome = attempt(target, check, hold_s)
            counts[outcome] = counts.get(outcome, 0) + 1
            time.sleep(random.uniform(0, 0.002))
        queue.put(counts)
        return
    for _ in range(rounds):
        barrier.wait()
        queue.put(attempt(target, check, hold_s))
        barrier.wait()


def leftovers(base: Path, keep: Path | None) -> tuple[list[str], list[str]]:
    """(violations, leftovers) under `base` once nobody holds the lock; `keep`: the folder that was there."""
    bad, left = [], []
    for path in sorted(base.rglob("*")):
        if f"{LOCK_FILE}." in path.name and path.name.endswith(".tmp"):  # `..preannotate.lock.<host>-<pid>-<hex>.tmp`
            bad.append(f"tmp file {path}")
        elif path.name == LOCK_FILE and path.stat().st_size:
            bad.append(f"lock naming a holder {path}")
        elif path.name == LOCK_FILE:
            left.append(f"empty lock {path}")
        elif path.is_dir() and (path != keep or REMOVE["remove"]) and not any(path.iterdir()):
            left.append(f"empty folder {path}")
    return bad, left


def contend(args, name: str, procs: int, target: Path, fresh) -> dict:
    keep = target if target.name == "existing" else None
    check = args.check
    stats = {"rounds": 0, "winners": 0, "refusals": 0, "violations": [], "leftovers": []}
    queue = CTX.Queue()
    seconds = args.seconds if name == "continuous" else 0
    barrier = CTX.Barrier(procs if seconds else procs + 1)
    workers = [CTX.Process(target=worker, args=(target, check, args.hold_ms / 1000, not args.no_links, barrier,
                                                queue, args.rounds, seconds)) for _ in range(procs)]  # fmt: skip
    fresh()
    for w in workers:
        w.start()
    if seconds:
        for _ in workers:
            for outcome, n in queue.get(timeout=seconds + 120).items():
                if outcome in ("won", "refused"):
                    stats["winners" if outcome == "won" else "refusals"] += n
                else:
                    stats["violations"] += [outcome] * n
        stats["rounds"] = 1
    for r in range(0 if seconds else args.rounds):
        barrier.wait(timeout=120)
        barrier.wait(timeout=120)
        outcomes = [queue.get(timeout=60) for _ in workers]
        won, refused = outcomes.count("won"), outcomes.count("refused")
        stats["rounds"] += 1
        stats["winners"] += won
        stats["refusals"] += refused
        stats["violations"] += [f"round {r}: {o}" for o in outcomes if o not in ("won", "refused")]
        if won == 0:
            stats["violations"].append(f"round {r}: nobody won")
        bad, left = leftovers(args.dir / "t", keep)
        stats["violations"] += [f"round {r}: {b}" for b in bad]
        stats["leftovers"] += [f"round {r}: {x}" for x in left]
        fresh()
    for w in workers:
        w.join(timeout=60)
    if seconds:
        bad, left = leftovers(args.dir / "t", keep)
        stats["violations"] += bad
        stats["leftovers"] += left
    return stats


def child_code(target: Path, links: bool, hold: bool) -> str:
    code = "import os, errno, sys\n" + ("" if links else "os.link = lambda *a, **k: (_ for _ in ()).throw("
                                                          "PermissionError(errno.EPERM, 'EPERM'))\n")  # fmt: skip
    body = "print('held', flush=True); sys.stdin.readline()" if hold else "pass"
    lock = f"output_lock({str(target)!r}, 'upload', remove={REMOVE['remove']})"
    return code + f"from preannotate.lock import output_lock\nwith {lock}: {body}\n"


class Warnings(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.said: list[str] = []

    def emit(self, record):
        self.said.append(record.getMessage())


def take_after_kill(args, target: Path, stats: dict, said: Warnings, expect_warning: bool) -> None:
    said.said.clear()
    outcome = attempt(target, args.check, 0)
    stats["rounds"] += 1
    stats["winners"] += outcome == "won"
    if outcome != "won":
        stats["violations"].append(f"after a kill: {outcome}")
    elif expect_warning and not any("taking over" in s for s in said.said):
        stats["violations"].append("a killed holder's lock taken over without a warning")
    stats["takeovers"] = stats.get("takeovers", 0) + any("taking over" in s for s in said.said)
    bad, left = leftovers(args.dir / "t", target if target.name == "existing" else None)
    stats["violations"] += bad
    stats["leftovers"] += left


def kills(args, name: str, _procs: int, target: Path, fresh) -> dict:
    stats = {"rounds": 0, "winners": 0, "refusals": 0, "violations": [], "leftovers": []}
    said = Warnings()
    logging.getLogger("preannotate.lock").addHandler(said)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    for _ in range(args.kills if name == "kill-random" else max(1, args.kills // 50)):
        fresh()
        if name == "kill-holder":
            holder = subprocess.Popen([sys.executable, "-c", child_code(target, not args.no_links, True)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip
            assert holder.stdout.readline().strip() == "held"
            stats["refusals"] += attempt(target, args.check, 0) == "refused"
            holder.send_signal(signal.SIGKILL)
            holder.wait()
            take_after_kill(args, target, stats, said, expect_warning=True)
            continue
        pid = os.fork()
        if pid == 0:  # the child: take the lock and hold it a little, unless killed first
            if args.no_links:
                no_links()
            with output_lock(target, "run", remove=REMOVE["remove"]):
                time.sleep(0.003)
            os._exit(0)
        time.sleep(random.uniform(0, 0.005))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        take_after_kill(args, target, stats, said, expect_warning=False)
    return stats


def threads(args, _name: str, _procs: int, target: Path, fresh) -> dict:
    stats = {"rounds": 0, "winners": 0, "refusals": 0, "violations": [], "leftovers": []}
    fresh()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}

    def probe() -> int:  # another process (not forked: a forked one inherits the holder's registry)
        code = child_code(target, not args.no_links, False)
        return subprocess.run([sys.executable, "-c", code], capture_output=True, env=env).returncode

    def enter(gate: threading.Barrier, out: list) -> None:
        with output_lock(target, "run"):
            gate.wait()
            out.append(probe())
            gate.wait()

    for _ in range(max(1, args.rounds // 20)):
        with output_lock(target, "run"), output_lock(target, "export"):  # nested in one process
            stats["refusals"] += probe() != 0
        stats["winners"] += probe() == 0  # released by the outer block
        gate, out = threading.Barrier(8), []
        pool = [threading.Thread(target=enter, args=(gate, out)) for _ in range(8)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        stats["rounds"] += 1
        stats["violations"] += [f"threads: another process got in ({c})" for c in out if c == 0]
        stats["winners"] += probe() == 0
        bad, left = leftovers(args.dir / "t", target)
        stats["violations"] += bad + ([] if stats["winners"] == 2 * stats["rounds"] else ["threads: not released"])
        stats["leftovers"] += left
    return stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0, help="continuous contention, per --procs")
    parser.add_argument("--kills", type=int, default=500, help="kill-random; kill-holder does kills/50")
    parser.add_argument("--hold-ms", type=float, default=0.5)
    parser.add_argument("--dir", type=Path, default=Path("runs/lock_stress"), help="created; emptied first")
    parser.add_argument("--no-links", action="store_true", help="os.link fails with EPERM in lockers")
    parser.add_argument("--strict", action="store_true", help="leftovers count as violations")
    parser.add_argument("--remove", action="store_true", help="lock as lock_beside does: nothing may stay")
    parser.add_argument("--scenarios", nargs="+", default=["existing", "nested", "continuous", "kill-holder",
                                                           "kill-random", "threads"])  # fmt: skip
    args = parser.parse_args()
    REMOVE["remove"] = args.remove
    args.dir.mkdir(parents=True, exist_ok=True)
    args.dir = args.dir.resolve()
    args.check = Path(tempfile.mkdtemp(prefix="lock_stress_check"))  # on the system's disk, whatever --dir is on
    failed = False
    for name in args.scenarios:
        existing = name in ("existing", "kill-holder", "threads")
        target = args.dir / "t" / ("existing" if existing else "new/a/b")

        def fresh(target=target, existing=existing) -> None:
            shutil.rmtree(args.dir / "t", ignore_errors=True)
            (target if existing else target.parent.parent.parent).mkdir(parents=True)

        for procs in args.procs if name in ("existing", "nested", "continuous") else [1]:
            started = time.monotonic()
            run = {"kill-holder": kills, "kill-random": kills, "threads": threads}.get(name, contend)
            stats = run(args, name, procs, target, fresh)
            v, lo = stats["violations"], stats["leftovers"]
            failed |= bool(v) or (args.strict and bool(lo))
            took = time.monotonic() - started
            print(f"{name:12} procs={procs:<3} rounds={stats['rounds']:<5} winners={stats['winners']:<6} "
                  f"refusals={stats['refusals']:<6} takeovers={stats.get('takeovers', '-')!s:<4} "
                  f"violations={len(v):<4} leftovers={len(lo):<4} {took:.1f}s", flush=True)  # fmt: skip
            for line in sorted(set(x.split(": ", 1)[-1].split(" /")[0] for x in v + lo)):
                print(f"    {line}: {sum(1 for x in v + lo if line in x)}  e.g. "
                      f"{next(x for x in v + lo if line in x)}")  # fmt: skip
    shutil.rmtree(args.dir / "t", ignore_errors=True)
    shutil.rmtree(args.check, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
