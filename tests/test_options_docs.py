"""One vocabulary for options: help written once, generated docs not stale, values typed by the option, one path rule.

Also the public API: `import preannotate` is cheap and exports what a Python user needs.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from preannotate import batch, cli, notebook
from preannotate.config import load_config
from preannotate.errors import ConfigError
from preannotate.options.catalog import iter_options, option_info

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("gen_option_docs", ROOT / "tools" / "gen_option_docs.py")
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)


def test_every_option_and_section_has_help() -> None:
    missing = [o.key for o in iter_options() if len(o.help) < 10]
    assert not missing, f"options without help (option(default, help) in preannotate/options/): {missing}"


@pytest.mark.parametrize("path", sorted(gen.generated(), key=str), ids=lambda p: p.name)
def test_generated_option_docs_are_not_stale(path: Path) -> None:
    expected = gen.generated()[path]
    assert path.read_text(encoding="utf-8") == expected, f"{path.name} is stale: run `make options-docs`"


def test_default_yaml_and_notebooks_carry_the_help_from_the_options() -> None:
    text = " ".join(line.strip().lstrip("# ") for line in gen.DEFAULT_YAML.read_text().splitlines())
    for o in iter_options():
        assert " ".join(o.help.split()) in text, f"configs/default.yaml lacks the help of {o.key}"
    cell = (ROOT / "notebooks" / "preannotate.ipynb").read_text()
    for name, key in notebook.PARAMETERS.items():
        assert f"{name}: " in cell and option_info(key).summary.replace('"', '\\"') in cell, name


def test_a_changed_help_makes_the_files_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    info = option_info("input.dir")
    monkeypatch.setattr(gen, "option_info", lambda key: dataclasses.replace(info, help="New words.") if key ==
                        "input.dir" else option_info(key))  # fmt: skip
    path = ROOT / "notebooks" / "preannotate.ipynb"
    assert "# New words." in gen.render_notebook(path, notebook.PARAMETERS) != path.read_text()


def test_cli_flags_take_their_help_from_the_options() -> None:
    text = " ".join(cli.build_parser()._subparsers._group_actions[0].choices["run"].format_help().split())
    for key in ("input.dir", "output.dir", "output.force", "superannotate.force_upload"):
        assert " ".join(option_info(key).summary.split()) in text and key in text, key


@pytest.mark.parametrize(
    ("override", "key", "expected"),
    [
        ("input.dir=2024-01-01", "input.dir", "2024-01-01"),
        ("input.dir=notes: draft", "input.dir", "notes: draft"),
        ("input.dir=null", "input.dir", "null"),  # a path is never None
        ("chunking.max_duration=3", "chunking.max_duration", 3.0),
        ("chunking.word_stretch=null", "chunking.word_stretch", None),
        ("chunking.word_stretch=", "chunking.word_stretch", None),
        ("superannotate.dry_run=true", "superannotate.dry_run", True),
        ("transcribe.language=no", "transcribe.language", "no"),  # Norwegian, not false
        ("transcribe.temperature=0,0.5", "transcribe.temperature", (0.0, 0.5)),
        ("transcribe.temperature=[0.0, 0.5]", "transcribe.temperature", (0.0, 0.5)),
        ("transcribe.initial_prompt=Glossary: FFT, DFT", "transcribe.initial_prompt", "Glossary: FFT, DFT"),
        ("superannotate.project=2024-01-01", "superannotate.project", "2024-01-01"),
    ],
)
def test_set_values_are_typed_by_the_option(override: str, key: str, expected: object) -> None:
    config = load_config(None, [override])
    section, name = key.rsplit(".", 1)
    value = getattr(getattr(config, section.split(".")[0]), name)
    assert value == expected and type(value) is type(expected)


def test_wrong_text_for_a_typed_option_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="chunking.max_duration: 'long' is not a valid float"):
        load_config(None, ["chunking.max_duration=long"])
    with pytest.raises(ConfigError, match="transcribe.beam_size: '5.5' is not a valid int"):
        load_config(None, ["transcribe.beam_size=5.5"])


def test_paths_in_a_config_file_are_relative_to_it_and_on_the_command_line_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "models" / "ct2").mkdir(parents=True)
    config = project / "run.yaml"
    config.write_text("input: {dir: data}\noutput: {dir: ../out}\nmodel: {name: models/ct2}\n"
                      "annotation: {review_model: ~/review.json}\n")  # fmt: skip
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    found = load_config(Path("project/run.yaml"))
    assert found.input.dir == str(project / "data") and found.output.dir == str(tmp_path / "out")
    assert found.model.name == str(project / "models" / "ct2")  # a path that exists, from the file's folder
    assert found.annotation.review_model == str(tmp_path / "home" / "review.json")
    assert load_config(config, ["model.name=bundled:tiny.en"]).model.name == "bundled:tiny.en"
    flags = load_config(config, ["output.dir=runs/x"], {"input.dir": "~"})  # command line: as typed, `~` expanded
    assert (flags.input.dir, flags.output.dir) == (str(tmp_path / "home"), "runs/x")
    assert load_config(ROOT / "configs" / "demo.yaml").input.dir == str(ROOT / "samples")


def test_batch_parameters_are_typed_by_the_option_and_files_resolve_from_their_folder(tmp_path: Path) -> None:
    mapping = notebook.PARAMETERS
    assert batch.parameter_value("max_duration", "0.3", mapping) == 0.3
    assert batch.parameter_value("input_dir", "2024-01-01", mapping) == "2024-01-01"
    assert batch.parameter_value("language", "null", mapping) is None
    assert batch.parameter_value("overrides", "{transcribe.patience: 2}", mapping) == {"transcribe.patience": 2}
    with pytest.raises(ConfigError, match="beam_size: 'wide' is not a valid int"):
        batch.parameter_value("beam_size", "wide", mapping)
    (tmp_path / "sub").mkdir()
    runs = tmp_path / "sub" / "runs.yaml"
    runs.write_text(yaml.safe_dump({"defaults": {"url_csv": "urls.csv"}, "runs": [{"name": "a", "input_dir": "d"}]}))
    (run,) = batch.runs_from_file(runs, {"output_dir": "shared"}, tmp_path / "out")
    assert run.parameters == {"url_csv": str(tmp_path / "sub" / "urls.csv"), "output_dir": "shared",
                              "input_dir": str(tmp_path / "sub" / "d")}  # fmt: skip


def test_notebook_parameters_given_as_text_are_typed_by_the_option() -> None:
    config = notebook.config_from_parameters({"max_duration": "3", "language": "null", "input_dir": "2024-01-01"})
    assert (config.chunking.max_duration, config.transcribe.language) == (3.0, None)
    assert config.input.dir == str(ROOT / "2024-01-01")  # notebooks: relative to the project root


def test_import_preannotate_is_cheap_and_exports_the_api() -> None:
    code = ("import sys, preannotate; assert 'torch' not in sys.modules and 'preannotate.config' not in sys.modules;"
            "from preannotate import *; import preannotate as p;"
            "assert issubclass(p.ConfigError, p.PreannotateError) and callable(p.run_pipeline);"
            "print(p.__version__)")  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip(), proc.stderr
    import preannotate

    api = {"load_config", "run_pipeline", "RunConfig", "Transcript", "Chunk", "PreannotateError", "__version__"}
    assert api <= set(dir(preannotate)) and api <= set(preannotate.__all__)
    with pytest.raises(AttributeError):
        preannotate.no_such_name  # noqa: B018
