"""notebooks/correction_report.ipynb runs end to end against the loopback server (pull, compare, report)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
from support.correction_runs import PROJECT, annotate, make_run, upload
from support.sa_server import SuperAnnotateServer

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "correction_report.ipynb"


def test_correction_notebook_pulls_compares_and_writes_the_report(
    sa_server: SuperAnnotateServer, tmp_path: Path, runs_notebook: None
) -> None:
    inp, out = make_run(tmp_path)
    upload(inp, out)
    annotate(sa_server)
    executed = tmp_path / "executed.ipynb"
    params = {"run_dir": str(out), "project": PROJECT, "statuses": ["Completed"]}
    papermill.execute_notebook(str(NOTEBOOK), str(executed), parameters=params, progress_bar=False, cwd=str(tmp_path))
    text = "\n".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
        for cell in nbformat.read(executed, as_version=4).cells
        for o in cell.get("outputs", [])
    )
    assert "pulled 2 annotation(s)" in text and "hello.wav: no longer in the SuperAnnotate project" in text
    # The two Completed items: 19 + 9 = 28 reference words, 5 errors (see test_correction.py).
    assert "17.9%" in text and (out / "correction" / "report.html").is_file()
    # Two corrected items are too few to refit the review model: the notebook says so and writes none.
    assert "review model not refitted: too few compared chunks to fit" in text, text[-2000:]
    assert not (out / "correction" / "review_model.json").exists()
    images = [o for c in nbformat.read(executed, as_version=4).cells for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]  # fmt: skip
    assert len(images) == 3
