"""A Ctrl-C that Python could not raise: one that came while a finalizer or a C callback ran.

Python reports an exception raised there as "Exception ignored in ..." and drops it. Ctrl-C pressed while
numba compiles the word timing, or while a regex is freed, was lost so: the run went on to its end and exited
0, and libraries torn down mid-compile printed tracebacks at exit. `install` routes such a KeyboardInterrupt to a
flag that the run checks before each file (`raise_if_pressed`).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

_pressed = threading.Event()
_installed: list[Any] = []  # the hook this module replaced, once installed


def install() -> None:
    """Takes over `sys.unraisablehook` (once per process) and clears the flag for a new command."""
    _pressed.clear()
    if _installed:
        return
    _installed.append(sys.unraisablehook)
    sys.unraisablehook = _hook


def pressed() -> None:
    """Records a Ctrl-C the command caught: what libraries print while they are torn down is not shown."""
    _pressed.set()


def raise_if_pressed() -> None:
    """Raises the KeyboardInterrupt a finalizer swallowed.

    Raises:
        KeyboardInterrupt: Ctrl-C came during this command and was not raised where it landed.
    """
    if _pressed.is_set():
        raise KeyboardInterrupt


def _hook(unraisable: Any) -> None:
    if issubclass(unraisable.exc_type, KeyboardInterrupt):
        _pressed.set()
        return
    if _pressed.is_set():  # a library stopped mid-work (llvmlite mid-compile) complains as it is freed
        return
    _installed[0](unraisable)
