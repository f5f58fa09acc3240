"""Planning a batch: the notebook's parameters, the runs (from a runs file, configs or datasets) and their checks.

Nothing here executes anything: `prepare` returns the runs, their parameters checked against the
notebook's and their paths made absolute, for `execution` to run.
"""

from __future__ import annotations

import ast
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import (
    PARAMETER_RULE,
    SECRET_HINT,
    check_secrets,
    looks_like_token,
    read_yaml,
    resolve_path_value,
    resolve_paths,
)
from ..errors import ConfigError, InputError
from ..notebook import (
    CORRECTION_PARAMETERS,
    OVERRIDES,
    PARAMETERS,
    check_names,
    config_from_parameters,
    project_root,
)

OUTPUT_PARAMETERS = ("output_dir", "run_dir")  # where a notebook's run.json is (the folder its run locks)


@dataclass(frozen=True)
class Run:
    """One execution of the notebook: its name, its parameters and its folder."""

    name: str
    parameters: dict[str, Any]
    folder: Path


def notebook_parameters(notebook: str | Path) -> dict[str, dict[str, Any]]:
    """The notebook's parameters as papermill infers them: name -> {inferred_type_name, default, help}."""
    try:
        from papermill import inspect_notebook
    except ImportError as e:
        raise ConfigError("notebooks need papermill: pip install 'preannotate[notebooks]'") from e
    logging.getLogger("papermill").setLevel(logging.WARNING)  # not "Input Notebook: ..." at every start
    if not Path(notebook).exists():
        raise InputError(f"notebook {notebook} does not exist")
    if not Path(notebook).is_file():
        raise InputError(f"notebook {notebook} is not a file")
    try:
        return inspect_notebook(str(notebook))
    except Exception as e:  # nbformat's and papermill's many errors: not JSON, not a notebook, unreadable
        raise InputError(f"notebook {notebook} cannot be read as a notebook: {e}") from None


def parameters_help(notebook: str | Path) -> str:
    """The notebook's parameters, one per line with type, default and help, for `--help`."""
    lines = [f"parameters of {notebook} (set with -p NAME VALUE or in the runs file):"]
    for name, p in notebook_parameters(notebook).items():
        lines.append(f"  {name}: {p['inferred_type_name']} = {p['default']}")
        if p["help"]:
            lines.append(f"      {p['help']}")
    return "\n".join(lines)


def _mapping(known: dict[str, Any]) -> dict[str, str]:
    """The parameter -> config key table of the notebook whose parameters are `known`."""
    for mapping in (PARAMETERS, CORRECTION_PARAMETERS):
        if set(mapping) <= set(known):
            return mapping
    return {}


def runs_from_file(path: str | Path, shared: dict[str, Any], out: Path) -> list[Run]:
    """Runs listed in a YAML file: `runs:` (a list of mappings with `name` and parameters), optional `defaults:`."""
    data = read_yaml(Path(path))
    runs, defaults = data.get("runs"), data.get("defaults") or {}
    if not isinstance(runs, list) or not all(isinstance(r, dict) and r.get("name") not in (None, "") for r in runs):
        raise ConfigError(f"{path}: `runs:` must be a list of mappings, each with a `name`")
    if not runs:  # else the batch would do nothing and succeed
        raise ConfigError(f"{path}: `runs:` lists no run")
    check_names([k for k in data if k not in ("runs", "defaults")], ["runs", "defaults"], f"key in {path}:")
    if not isinstance(defaults, dict):
        raise ConfigError(f"{path}: `defaults:` must be a mapping of parameters, not {type(defaults).__name__}")
    for number, r in enumerate(runs, 1):
        if isinstance(r["name"], (bool, dict, list)):  # `name: yes` is YAML's true: the folder would be "True"
            raise ConfigError(f"{path}: run {number}: `name` must be text (quote it), not {r['name']!r}")
    folder = Path(path).parent  # relative paths in the file are relative to it
    base = {**_from_file(defaults, folder), **shared}
    own = [_from_file({k: v for k, v in r.items() if k != "name"}, folder) for r in runs]
    return [_run(str(r["name"]), {**base, **params}, out) for r, params in zip(runs, own)]


def _from_file(params: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Parameters written in a file in `folder`, their relative paths made absolute from it."""
    keys = {**PARAMETERS, **CORRECTION_PARAMETERS}
    found = {name: resolve_path_value(keys.get(name, ""), value, folder) for name, value in params.items()}
    if isinstance(found.get(OVERRIDES), dict):
        found[OVERRIDES] = {k: resolve_path_value(k, v, folder) for k, v in found[OVERRIDES].items()}
    return found


def runs_from_configs(paths: list[str], shared: dict[str, Any], out: Path, known: dict[str, Any]) -> list[Run]:
    """One run per config file (folders give their *.yaml and *.yml files), named after the file.

    A config's output.dir is left out: each run writes into its own folder of the batch, so that
    configs derived from one another never share (and overwrite) an output folder.
    """
    from ..config import load_config

    files = [f for p in map(Path, paths) for f in _config_files(p)]
    mapping = _mapping(known)
    by_key = {key: name for name, key in mapping.items()}
    runs = []
    for file in files:
        try:
            load_config(file)  # a bad config stops the batch before anything runs
        except ConfigError as e:
            raise ConfigError(f"{file}: {e}") from None
        params: dict[str, Any] = {OVERRIDES: {}}
        for key, value in _flatten(resolve_paths(read_yaml(file), file.parent)).items():
            if key == "output.dir":
                continue
            if key in by_key:
                params[by_key[key]] = value
            else:
                params[OVERRIDES][key] = value
        runs.append(_run(file.stem, {**shared, **{k: v for k, v in params.items() if v != {}}}, out))
    return runs


def _config_files(path: Path) -> list[Path]:
    """`path`, or the YAML files of the folder `path`: a folder without any is a mistake, not nothing to do."""
    if not path.is_dir():
        return [path]
    files = sorted(f for f in [*path.glob("*.yaml"), *path.glob("*.yml")] if f.is_file())
    if not files:
        raise InputError(f"no config files (*.yaml, *.yml) in {path}")
    return files


def runs_from_datasets(folder: str | Path, shared: dict[str, Any], out: Path) -> list[Run]:
    """One run per (non-hidden) sub-folder of `folder`, named after it, with `input_dir` set to it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"datasets folder {folder} {'is not a folder' if folder.exists() else 'does not exist'}")
    subs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subs:
        raise InputError(f"datasets folder {folder} has no sub-folders")
    return [_run(p.name, {**shared, "input_dir": str(p)}, out) for p in subs]


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _run(name: str, parameters: dict[str, Any], out: Path) -> Run:
    if looks_like_token(name):  # it would name a folder
        raise ConfigError(f"a run name looks like a SuperAnnotate token: {PARAMETER_RULE}; {SECRET_HINT}")
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name).strip(".") or "run"
    return Run(safe, parameters, out / safe)


def prepare(runs: list[Run], known: dict[str, Any]) -> list[Run]:
    """Checks every run's parameters against the notebook's and fills in paths and output folders.

    Relative paths become absolute (from the current folder); a notebook with `output_dir` writes each
    run's outputs into the run's folder unless the run names another. Values become what papermill
    hands the notebook (a YAML date is text), so that `--resume` compares like with like.

    Raises:
        ConfigError: A parameter the notebook does not have or (for this package's notebooks) a bad
            value, two runs with the same name or output_dir, or a secret: a parameter or override named
            like one (`token`, `superannotate.token`...), a value that looks like a SuperAnnotate token
            or a URL holding a password (the message names the run and the key, never the value).
    """
    for run in runs:  # first, so that no message, printed plan or file can hold a secret
        check_secrets(run.parameters, f"run {run.name!r}: parameter ", PARAMETER_RULE)
    _check_distinct_names([r.name for r in runs])
    mapping = _mapping(known)
    ready = []
    for run in runs:
        check_names(run.parameters, known, f"parameter of run {run.name!r}:")
        if not isinstance(run.parameters.get(OVERRIDES) or {}, dict):
            raise ConfigError(f"run {run.name!r}: `{OVERRIDES}` must be a mapping of dotted option keys to values")
        params = {k: _absolute(mapping.get(k), v) for k, v in _as_papermill_sends(run.parameters).items()}
        if params.get(OVERRIDES):
            params[OVERRIDES] = {k: _absolute(k, v) for k, v in params[OVERRIDES].items()}
        if "output_dir" in known:
            params.setdefault("output_dir", str(run.folder.resolve()))
        _check_values(run.name, params, mapping)
        ready.append(Run(run.name, params, run.folder))
    for name in (n for n in OUTPUT_PARAMETERS if n in known):
        _check_distinct_folders(ready, name, known[name].get("default"))
    return ready


def _check_distinct_folders(runs: list[Run], name: str, default: str | None) -> None:
    """Refuses runs that would write one folder: the second's results would replace the first's.

    `run_dir` (the correction notebook's run, where it pulls and reports) as well as `output_dir`; a run that
    sets neither gets the notebook's default, relative to the project's root, where papermill runs it.
    """
    try:
        fallback = ast.literal_eval(default) if default else None
    except (ValueError, SyntaxError):
        fallback = None
    given = [r.parameters.get(name) or fallback for r in runs]
    folders = [os.path.realpath(project_root() / f) for f in given if isinstance(f, str) and f]
    if len(set(folders)) < len(folders):  # `/data/x/` and `/data/./x` are one folder
        shared = sorted({f for f in folders if folders.count(f) > 1})
        raise ConfigError(f"runs must not share {'an' if name[0] in 'aeiou' else 'a'} {name}: {shared}")


def _check_distinct_names(names: list[str]) -> None:
    # Case too: on macOS and Windows `En` and `en` are one folder, and the second run would overwrite the first.
    folded = [n.casefold() for n in names]
    same = sorted({n for n, f in zip(names, folded) if folded.count(f) > 1})
    if same:
        raise ConfigError(
            f"run names must differ: {', '.join(same)} (a name becomes a folder, where case may not count and "
            "characters other than letters, digits, `.`, `_` and `-` become `_`)"
        )


def _as_papermill_sends(params: dict[str, Any]) -> dict[str, Any]:
    # papermill passes what JSON holds and other values (YAML's dates) as their text; so does the batch.
    return json.loads(json.dumps(params, default=str))


def _check_values(name: str, params: dict[str, Any], mapping: dict[str, str]) -> None:
    """For this package's notebooks, the run's values as the notebook will check them, before anything runs."""
    if not mapping:
        return
    try:
        config_from_parameters(params, mapping)
    except ConfigError as e:
        raise ConfigError(f"run {name!r}: {e}") from None


def _absolute(key: str | None, value: Any) -> Any:
    # The command line's rule: relative to the current folder; a model name stays a name unless it is a path here.
    return resolve_path_value(key or "", value, Path.cwd())
