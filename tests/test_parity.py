"""The notebooks' parameters, configs/default.yaml and the typed options agree: names, defaults and types."""

from __future__ import annotations

import ast
import dataclasses
import typing
from pathlib import Path
from typing import Any

import pytest
from papermill import inspect_notebook

from preannotate.config import FORBIDDEN_KEYS, config_to_dict, load_config, read_yaml
from preannotate.notebook import CORRECTION_PARAMETERS, NOT_PARAMETERS, OVERRIDES, PARAMETERS
from preannotate.options import RunConfig
from preannotate.options.catalog import notebook_type

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = {"preannotate": PARAMETERS, "correction_report": CORRECTION_PARAMETERS}


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


DEFAULTS = flatten(config_to_dict(RunConfig()))


def option_type(key: str) -> Any:
    """The annotated type of a dotted option key."""
    cls: Any = RunConfig
    for part in key.split("."):
        hint = typing.get_type_hints(cls)[part]
        cls = hint
    return hint


def covered(key: str) -> bool:
    return key in NOT_PARAMETERS or any(p.endswith(".") and key.startswith(p) for p in NOT_PARAMETERS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_parameters_are_the_mapping_in_order(name: str) -> None:
    found = inspect_notebook(str(ROOT / "notebooks" / f"{name}.ipynb"))
    assert list(found) == [*NOTEBOOKS[name], OVERRIDES]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_parameter_is_an_option_with_the_same_default_and_type(name: str) -> None:
    found = inspect_notebook(str(ROOT / "notebooks" / f"{name}.ipynb"))
    for parameter, key in NOTEBOOKS[name].items():
        assert key in DEFAULTS, f"{parameter} maps to {key}, which is not an option"
        p = found[parameter]
        assert ast.literal_eval(p["default"]) == DEFAULTS[key], f"{parameter}: default differs from {key}"
        assert p["inferred_type_name"] == notebook_type(option_type(key)), f"{parameter}: type differs from {key}"
        assert p["help"], f"{parameter} has no help comment"
    assert found[OVERRIDES]["inferred_type_name"] == "dict" and found[OVERRIDES]["default"] == "{}"


def test_every_option_has_a_parameter_or_is_deliberately_left_to_overrides() -> None:
    mapped = set(PARAMETERS.values())
    missing = [k for k in DEFAULTS if k not in mapped and not covered(k)]
    assert not missing, f"options with neither a notebook parameter nor a NOT_PARAMETERS entry: {missing}"
    both = [k for k in mapped if covered(k)]
    assert not both, f"options both mapped and listed in NOT_PARAMETERS: {both}"
    stale = [p for p in NOT_PARAMETERS if not any(k == p or (p.endswith(".") and k.startswith(p)) for k in DEFAULTS)]
    assert not stale, f"NOT_PARAMETERS entries that are no option: {stale}"


def test_the_important_options_are_parameters() -> None:
    important = {"input.dir", "output.dir", "model.name", "transcribe.language", "transcribe.task",
                 "transcribe.beam_size", "chunking.max_duration", "superannotate.project",
                 "superannotate.url_csv", "superannotate.url_prefix", "superannotate.dry_run"}  # fmt: skip
    assert important <= set(PARAMETERS.values())


def test_no_parameter_is_a_secret() -> None:
    for name in NOTEBOOKS:
        found = inspect_notebook(str(ROOT / "notebooks" / f"{name}.ipynb"))
        assert not [p for p in found if p.lower() in FORBIDDEN_KEYS or "token" in p.lower()]


def test_default_yaml_holds_every_option_with_its_default() -> None:
    path = ROOT / "configs" / "default.yaml"
    # Relative paths in a config file are relative to its folder: ../samples there is samples here.
    assert load_config(path) == load_config(None, values={"input.dir": str(ROOT / "samples"),
                                                          "output.dir": str(ROOT / "runs" / "latest")})  # fmt: skip
    assert list(flatten(read_yaml(path))) == list(DEFAULTS), "configs/default.yaml misses or reorders options"


def test_default_yaml_comments_every_option() -> None:
    lines = (ROOT / "configs" / "default.yaml").read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines):
        code = line.split("  #")[0].strip()
        if code and not code.startswith("#") and not code.endswith(":"):  # an option, not a section
            commented = "  # " in line or lines[n - 1].lstrip().startswith("#")
            assert commented, f"configs/default.yaml line {n + 1} has no comment: {line}"


def test_notebook_defaults_give_the_default_config_with_paths_from_the_project_root() -> None:
    from preannotate.notebook import config_from_parameters

    found = inspect_notebook(str(ROOT / "notebooks" / "preannotate.ipynb"))
    config = config_from_parameters({name: ast.literal_eval(p["default"]) for name, p in found.items()})
    expected = RunConfig()
    expected = dataclasses.replace(
        expected,
        input=dataclasses.replace(expected.input, dir=str(ROOT / "samples")),
        output=dataclasses.replace(expected.output, dir=str(ROOT / "runs" / "latest")),
    )
    assert config == expected
