"""Strips outputs, execution counts and run metadata from notebooks, so they are committed clean.

    python tools/strip_notebooks.py [NOTEBOOK ...]    # default: notebooks/*.ipynb
    python tools/strip_notebooks.py --check           # exit 1 if any notebook has outputs

Cell tags (the `parameters` tag) and the kernelspec are kept; cells papermill injected, the empty tag lists it
leaves and the kernel's version details in `language_info` are removed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
CELL_KEYS = ("papermill", "execution", "ExecuteTime", "collapsed", "scrolled")  # added by running, not authored
NOTEBOOK_KEYS = ("papermill", "widgets")


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Returns the notebook without outputs, execution counts and run metadata (changed in place)."""
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]  # papermill's
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        for key in CELL_KEYS:
            cell.metadata.pop(key, None)
        if cell.metadata.get("tags") == []:  # papermill leaves every cell an empty list
            del cell.metadata["tags"]
    for key in NOTEBOOK_KEYS:
        nb.metadata.pop(key, None)
    if "language_info" in nb.metadata:  # the kernel fills in its version, mimetype...: the one who ran it
        nb.metadata.language_info = {"name": nb.metadata.language_info.get("name", "python")}
    return nb


def main(argv: list[str] | None = None) -> int:
    """Strips the notebooks given (or notebooks/*.ipynb); with --check only reports which need it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook needs stripping")
    args = parser.parse_args(argv)
    dirty = []
    for path in args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb")):
        before = path.read_text(encoding="utf-8")
        after = nbformat.writes(strip(nbformat.reads(before, as_version=4))) + "\n"
        if after != before:
            dirty.append(path)
            if not args.check:
                path.write_text(after, encoding="utf-8")
    for path in dirty:
        print(f"{'has outputs' if args.check else 'stripped'}: {path}")
    return 1 if dirty and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
