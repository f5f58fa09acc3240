"""The committed notebooks and reading what an executed one printed."""

from __future__ import annotations

from pathlib import Path

import nbformat

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
PREANNOTATE = NOTEBOOKS_DIR / "preannotate.ipynb"
CORRECTION = NOTEBOOKS_DIR / "correction_report.ipynb"


def outputs_text(path: Path) -> str:
    cells = nbformat.read(path, as_version=4).cells
    outputs = [o for cell in cells for o in cell.get("outputs", [])]
    return "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
