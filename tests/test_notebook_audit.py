"""Audit of notebooks/preannotate.ipynb as a careless user runs it: errors, a second Run-all, odd parameters."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import papermill
import pytest
from support.notebooks import PREANNOTATE

from preannotate import notebook
from preannotate.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_a_package_error_is_its_one_line_message_not_a_traceback(tmp_path: Path, runs_notebook: None) -> None:
    """A bad input folder fails the Run cell with the package's message, as on the command line."""
    params = {"input_dir": str(tmp_path / "no such folder"), "output_dir": str(tmp_path / "out"),
              "model": "bundled:tiny.en", "language": "en", "beam_size": None}  # fmt: skip
    with pytest.raises(papermill.PapermillExecutionError, match="InputError"):
        papermill.execute_notebook(
            str(PREANNOTATE), str(tmp_path / "run.ipynb"), parameters=params, kernel_name="python3",
            cwd=str(ROOT / "notebooks"), progress_bar=False,
        )  # fmt: skip
    cells = nbformat.read(tmp_path / "run.ipynb", as_version=4).cells
    errors = [o for c in cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "InputError"
    shown = [ANSI.sub("", line) for line in errors[0].traceback]
    lines = [x for line in shown for x in line.splitlines() if x.strip()]
    assert any("no such folder does not exist" in x for x in lines), lines
    assert not [x for x in lines if "Traceback" in x or x.lstrip().startswith(("File ", "---->", "Cell In"))], lines
    assert len(lines) <= 2, lines  # IPython's "use %tb to see the full traceback" and the message
    assert not (tmp_path / "out").exists()


def history(*injected: str) -> list[str]:
    """IPython's `In` after one Run-all of the committed notebook per injected (or edited) parameter cell."""
    cells = nbformat.read(PREANNOTATE, as_version=4).cells
    runs = [["", cells[1].source, cells[2].source, source, cells[4].source] for source in injected]
    return [source for run in runs for source in run]


def test_a_corrected_parameter_cell_counts_on_the_next_run_all_in_the_same_kernel() -> None:
    """The executed notebook opened in Jupyter: `modle` fixed to `model` in its cell, then Run-all again."""
    runs = history("# Parameters\nmodle = 'tiny'\n", "# Parameters\nmodel = 'tiny'\n")
    with pytest.raises(ConfigError, match="'modle'"):
        notebook.parameters_from_namespace({"In": runs[:5], "modle": "tiny"})
    assert notebook.parameters_from_namespace({"In": runs, "model": "tiny", "modle": "tiny"}) == {"model": "tiny"}
    # The injected cell deleted instead: the notebook's own values, no error.
    deleted = [*runs[:5], "", runs[1], runs[2], runs[4]]
    assert notebook.parameters_from_namespace({"In": deleted, "model": "bundled:base"}) == {"model": "bundled:base"}
    # A typo injected in the latest Run-all is still an error.
    with pytest.raises(ConfigError, match="'lenguage'"):
        notebook.parameters_from_namespace(
            {"In": history("# Parameters\nmodel = 'x'\n", "# Parameters\nlenguage = 'en'\n")}
        )


@pytest.mark.parametrize("overrides", [{1: 2.0}, {None: 2.0}, {("transcribe", "patience"): 2.0}, [], 0, ""])
def test_overrides_that_are_not_a_mapping_of_dotted_names_are_a_clear_error(overrides) -> None:
    with pytest.raises(ConfigError, match="overrides"):
        notebook.config_from_parameters({"overrides": overrides})


def test_overrides_none_or_empty_keep_the_defaults() -> None:
    for overrides in (None, {}):
        assert notebook.config_from_parameters({"overrides": overrides}).transcribe.patience is None
