"""What the batch tests share: the notebook they plan runs for, its parameters, and runs files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from preannotate import batch

ROOT = Path(__file__).resolve().parent.parent.parent
NOTEBOOK = ROOT / "notebooks" / "preannotate.ipynb"


@pytest.fixture(scope="module")
def known() -> dict:
    """The notebook's parameters, as `preannotate batch` reads them."""
    return batch.notebook_parameters(NOTEBOOK)


def write_yaml(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path
