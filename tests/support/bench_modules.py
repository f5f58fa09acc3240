"""Benchmark scripts imported by tests, with benchmarks/ on sys.path while in use, as when the scripts run."""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@contextlib.contextmanager
def benchmark_module(name: str) -> Iterator[ModuleType]:
    """benchmarks/<name>.py as a module; it and the benchmark modules it imported are forgotten afterwards."""
    before = set(sys.modules)
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCHMARKS))
        for added in set(sys.modules) - before:
            if str(BENCHMARKS) in (getattr(sys.modules[added], "__file__", None) or ""):
                del sys.modules[added]
