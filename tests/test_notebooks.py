"""The notebooks: committed clean, thin, strict about parameters, and Run-all works with the defaults.

The Run-all test executes notebooks/preannotate.ipynb with papermill exactly as committed, only
the output folder moved to a temporary one, from the notebooks folder (where Jupyter starts the
kernel): the bundled base model on every sample, offline, as a dry run since no token is set.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import time
import types
from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest
import tomllib
from IPython.core.inputtransformer2 import TransformerManager
from support.notebooks import CORRECTION, PREANNOTATE, outputs_text

from preannotate import notebook
from preannotate.errors import ConfigError, InputError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SAMPLE_COUNT = len(list((ROOT / "samples").rglob("*.wav")))


# the committed notebooks


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; run `make strip`"
    assert "papermill" not in nb.metadata and "widgets" not in nb.metadata, f"{path.name}: run `make strip`"


def test_strip_tool_restores_an_executed_notebook(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import strip_notebooks
    finally:
        sys.path.remove(str(ROOT / "tools"))
    nb = nbformat.read(PREANNOTATE, as_version=4)
    injected = nbformat.v4.new_code_cell("# Parameters\nmodel = 'x'\n", metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(3, injected)
    nb.cells[5].outputs = [nbformat.v4.new_output("stream", text="hello")]
    nb.cells[5].execution_count = 3
    nb.cells[5].metadata["papermill"] = {"status": "completed"}
    nb.metadata["papermill"] = {"parameters": {"model": "x"}}
    for cell in nb.cells:  # as papermill leaves them
        cell.metadata.setdefault("tags", [])
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7", "mimetype": "text/x-python"}
    nbformat.write(nb, tmp_path / "executed.ipynb")
    assert strip_notebooks.main(["--check", str(tmp_path / "executed.ipynb")]) == 1
    assert strip_notebooks.main([str(tmp_path / "executed.ipynb")]) == 0
    assert (tmp_path / "executed.ipynb").read_text() == PREANNOTATE.read_text()


@pytest.mark.parametrize("path", [PREANNOTATE, CORRECTION], ids=lambda p: p.name)
def test_notebook_layout_explanation_colab_setup_parameters_then_package_calls(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert '"google.colab" in sys.modules' in nb.cells[1].source
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert tagged == [2]
    assert nb.metadata.kernelspec.name == "python3"
    for cell in nb.cells[3:]:
        if cell.cell_type == "code":  # no logic of their own: calls and displays only
            lines = [x.strip() for x in cell.source.splitlines() if x.strip()]
            assert not [x for x in lines if x.split()[0] in ("def", "class", "for", "while", "if", "with")]


def colab_setup_code(path: Path) -> str:
    return TransformerManager().transform_cell(nbformat.read(path, as_version=4).cells[1].source)


def test_setup_cell_installs_nothing_outside_colab(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    calls: list = []
    shell = types.SimpleNamespace(system=calls.append, run_line_magic=lambda *a: calls.append(a))
    exec(colab_setup_code(PREANNOTATE), {"get_ipython": lambda: shell})
    assert calls == [] and "preannotate 0.1.0 from " in capsys.readouterr().out


def run_setup_cell_in_colab(monkeypatch: pytest.MonkeyPatch, versions: list, pip_exit: int = 0) -> dict:
    """Runs the setup cell with Colab's module and IPython's shell stood in for; what it did, in a dict.

    `versions` is what importlib.metadata finds for preannotate, before and after `pip install` (None: none).
    """
    mounted: list = []
    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=mounted.append)
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", colab)

    def version(name: str) -> str:
        if (found := versions.pop(0)) is None:
            raise importlib.metadata.PackageNotFoundError(name)
        return found

    monkeypatch.setattr(importlib.metadata, "version", version)
    namespace: dict = {"_commands": [], "_mounted": mounted}

    def system(command: str) -> None:  # IPython expands {names} from the user's namespace, sets _exit_code
        namespace["_commands"].append(command.format_map(namespace))
        namespace["_exit_code"] = pip_exit

    namespace["get_ipython"] = lambda: types.SimpleNamespace(system=system)
    exec(colab_setup_code(PREANNOTATE), namespace)
    return namespace


@pytest.mark.parametrize("installed", ["0.1.0", None, "0.0.9"])
def test_setup_cell_in_colab_mounts_drive_and_installs_the_spec_unless_installed(
    installed, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = run_setup_cell_in_colab(monkeypatch, [installed, "0.1.0"])
    assert done["PREANNOTATE_SPEC"] == "preannotate[all]==0.1.0"
    assert done["_commands"] == ([] if installed == "0.1.0" else ['pip install --quiet "preannotate[all]==0.1.0"'])
    assert done["_mounted"] == ["/content/drive"] and done["_installed"] == "0.1.0"


def test_setup_cell_in_colab_says_where_to_look_when_pip_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RuntimeError, match=r"pip could not install preannotate\[all\]==0.1.0; README 'Install'"):
        run_setup_cell_in_colab(monkeypatch, ["0.0.9", "0.0.9"], pip_exit=1)


def test_both_notebooks_share_the_setup_cell_and_pin_the_package_version() -> None:
    cells = {nbformat.read(path, as_version=4).cells[1].source for path in (PREANNOTATE, CORRECTION)}
    assert len(cells) == 1
    pinned = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert f'PREANNOTATE_VERSION = "{pinned}"' in cells.pop()


def test_kernel_python3_is_this_interpreter() -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    # jupyter_client starts a spec whose argv[0] is `python` with the interpreter that starts it.
    assert spec.argv[0] in ("python", "python3", sys.executable)
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "jupyter"), "kernelspec", "list", "--json"], capture_output=True, text=True
    )
    resource_dir = json.loads(listed.stdout)["kernelspecs"]["python3"]["resource_dir"]
    assert Path(resource_dir).resolve().is_relative_to(Path(sys.prefix).resolve())


# helpers the notebooks call


def test_unknown_or_secret_parameters_and_shadowed_overrides_are_errors() -> None:
    with pytest.raises(ConfigError, match="unknown notebook parameter 'modle'; did you mean 'model'"):
        notebook.config_from_parameters({"modle": "tiny"})
    with pytest.raises(ConfigError, match="secrets are never parameters"):
        notebook.config_from_parameters({"token": "x"})
    with pytest.raises(ConfigError, match="has its own parameter, 'beam_size'"):
        notebook.config_from_parameters({"overrides": {"transcribe.beam_size": 5}})
    with pytest.raises(ConfigError, match="unknown option 'transcribe.patienc'"):
        notebook.config_from_parameters({"overrides": {"transcribe.patienc": 1.0}})
    config = notebook.config_from_parameters({"beam_size": 5, "overrides": {"transcribe.patience": 2.0}})
    assert (config.transcribe.beam_size, config.transcribe.patience) == (5, 2.0)


def test_injected_parameters_are_checked_against_the_notebook() -> None:
    namespace = {"In": ["", "# Parameters\nmodel = 'x'\nlenguage = 'en'\n"], "model": "x", "lenguage": "en"}
    with pytest.raises(ConfigError, match="'lenguage'; did you mean 'language'"):
        notebook.parameters_from_namespace(namespace)
    namespace = {"In": ["# Parameters\nrun_dir = 'r'\n"], "run_dir": "r", "model": "x", "report": object()}
    assert notebook.parameters_from_namespace(namespace, notebook.CORRECTION_PARAMETERS) == {"run_dir": "r"}


def test_relative_paths_are_taken_from_the_project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a kernel started outside the checkout
    config = notebook.config_from_parameters({"input_dir": "samples/en", "output_dir": str(tmp_path / "o")})
    assert (config.input.dir, config.output.dir) == (str(ROOT / "samples" / "en"), str(tmp_path / "o"))
    monkeypatch.chdir(ROOT / "notebooks")
    assert notebook.project_root() == ROOT


def test_chunk_table_puts_doubtful_chunks_first_and_keeps_texts(tmp_path: Path) -> None:
    rows = [
        ("b.wav", 0, 0.0, 1.0, "NA", "", False),
        ("a.wav", 1, 2.0, 3.0, "null", "0.3", True),
        ("a.wav", 0, 0.0, 1.0, "fine", "0.9", False),
    ]
    columns = ["item", "chunk", "start", "end", "text", "mean_word_probability", "needs_review"]
    frame = pd.DataFrame(rows, columns=columns)
    frame.to_csv(tmp_path / "chunks.csv", index=False)
    table = notebook.chunk_table(tmp_path)
    assert list(zip(table["item"], table["chunk"])) == [("a.wav", 1), ("a.wav", 0), ("b.wav", 0)]
    assert list(table["text"]) == ["null", "fine", "NA"] and table["mean_word_probability"].isna().tolist()[-1]
    with pytest.raises(InputError, match="chunks.csv is missing"):
        notebook.chunk_table(tmp_path / "nowhere")


# executing the notebooks


@pytest.fixture(scope="module")
def defaults_run(tmp_path_factory: pytest.TempPathFactory, runs_notebook: None):
    """Run-all of the committed notebook with its defaults, no token, from the notebooks folder; twice."""
    folder = tmp_path_factory.mktemp("defaults")
    params = {"output_dir": str(folder / "out")}
    timings = []
    with pytest.MonkeyPatch.context() as mp:
        for key in ("SA_TOKEN", "SA_URL", "PREANNOTATE_SA_HOSTS"):
            mp.delenv(key, raising=False)
        mp.setenv("HOME", str(folder))  # no ~/.superannotate token either
        for n in (1, 2):
            started = time.perf_counter()
            papermill.execute_notebook(
                str(PREANNOTATE), str(folder / f"run{n}.ipynb"), parameters=params, kernel_name="python3",
                cwd=str(ROOT / "notebooks"), progress_bar=False,
            )  # fmt: skip
            timings.append(time.perf_counter() - started)
    return folder, timings


@pytest.mark.slow
def test_run_all_with_defaults_transcribes_the_samples_offline_as_a_dry_run(defaults_run) -> None:
    folder, _ = defaults_run
    text = outputs_text(folder / "run1.ipynb")
    n = SAMPLE_COUNT
    assert f"{n} files ({n} transcribed, 0 already done, 0 failed)" in text
    assert f"upload: dry run, nothing uploaded, skipped {n}, failed 0, {n} without URL" in text
    cells = nbformat.read(folder / "run1.ipynb", as_version=4).cells
    assert sum("image/png" in o.get("data", {}) for c in cells for o in c.get("outputs", [])) == 1
    run = json.loads((folder / "out" / "run.json").read_text())
    assert run["config"]["input"]["dir"] == str(ROOT / "samples") and run["upload"]["dry_run"] is True


@pytest.mark.slow
def test_second_run_all_resumes_and_is_fast(defaults_run) -> None:
    folder, (first, second) = defaults_run
    n = SAMPLE_COUNT
    assert f"{n} files (0 transcribed, {n} already done, 0 failed)" in outputs_text(folder / "run2.ipynb")
    assert second < first / 2, (first, second)


def test_unknown_parameter_fails_the_notebook_not_just_a_warning(tmp_path: Path, runs_notebook: None) -> None:
    with pytest.raises(papermill.PapermillExecutionError, match="unknown notebook parameter 'modle'"):
        papermill.execute_notebook(
            str(PREANNOTATE), str(tmp_path / "out.ipynb"), kernel_name="python3", progress_bar=False,
            parameters={"modle": "tiny", "output_dir": str(tmp_path / "out")},
        )  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_the_timeline_of_a_run_without_chunks_is_a_line_not_an_error(tmp_path: Path, capsys) -> None:
    """Silence only (or every file failed): the plot cell raised, Run-all stopped before the upload cell, and a
    batch reported the finished run as failed ("the run has no chunks to draw")."""
    from support.correction_runs import ANNOTATION, make_run

    from preannotate.exports import ItemChunks, write_exports

    _, out = make_run(tmp_path)
    write_exports(out, [ItemChunks("talk.wav", "talk.wav", "en", 12.0, [])], ANNOTATION)
    assert notebook.plot_timeline(out) is None
    assert "nothing to draw: no file of the run" in capsys.readouterr().out
    assert notebook.plot_timeline(out, "talk.wav") is not None  # asked for by name: its waveform, without chunks
