"""`preannotate batch`: one notebook executed with papermill over many parameter sets.

Runs come from a YAML file listing them, from config files (one run each) or from the
sub-folders of a datasets folder (one run each). Every run gets its own folder under the
batch folder, holding the executed notebook, its parameters, papermill's log and, for
notebooks/preannotate.ipynb, the run's outputs. A failing run does not stop the others.

Each run executes in its own papermill process (a fresh kernel), so runs are isolated and
can go in parallel; the SuperAnnotate token reaches the kernel through the environment only.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .config import (
    PARAMETER_RULE,
    SECRET_HINT,
    check_secrets,
    looks_like_token,
    read_yaml,
    resolve_path_value,
    resolve_paths,
    typed_text,
)
from .errors import ConfigError, InputError, PreannotateError
from .notebook import CORRECTION_PARAMETERS, OVERRIDES, PARAMETERS, PATH_KEYS, check_names, project_root
from .storage import read_json

DEFAULT_NOTEBOOK = "notebooks/preannotate.ipynb"
KERNEL = "python3"  # ipykernel's spec; jupyter_client starts it with this interpreter (sys.executable)
EXECUTED, PARAMETERS_FILE, LOG_FILE = "notebook.ipynb", "parameters.yaml", "papermill.log"
OUTPUT_PARAMETERS = ("output_dir", "run_dir")  # where a notebook's run.json is
# A run that finished with failed files is "partial": it runs again under --resume.
OK, PARTIAL, FAILED, SKIPPED = "ok", "partial", "failed", "skipped"


@dataclass(frozen=True)
class Run:
    """One execution of the notebook: its name, its parameters and its folder."""

    name: str
    parameters: dict[str, Any]
    folder: Path


@dataclass
class Outcome:
    """What became of one run."""

    run: Run
    status: str
    seconds: float = 0.0
    message: str = ""
    summary: dict[str, Any] | None = None
    upload: str = "-"


def notebook_parameters(notebook: str | Path) -> dict[str, dict[str, Any]]:
    """The notebook's parameters as papermill infers them: name -> {inferred_type_name, default, help}."""
    try:
        from papermill import inspect_notebook
    except ImportError as e:
        raise ConfigError("notebooks need papermill: pip install 'preannotate[notebooks]'") from e
    logging.getLogger("papermill").setLevel(logging.WARNING)  # not "Input Notebook: ..." at every start
    if not Path(notebook).is_file():
        raise InputError(f"notebook {notebook} does not exist")
    return inspect_notebook(str(notebook))


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
    runs = data.get("runs")
    if not isinstance(runs, list) or not all(isinstance(r, dict) and r.get("name") for r in runs):
        raise ConfigError(f"{path}: `runs:` must be a list of mappings, each with a `name`")
    check_names([k for k in data if k not in ("runs", "defaults")], ["runs", "defaults"], f"key in {path}:")
    folder = Path(path).parent  # relative paths in the file are relative to it
    base = {**_from_file(data.get("defaults") or {}, folder), **shared}
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
    from .config import load_config

    files = [
        f for p in map(Path, paths) for f in (sorted([*p.glob("*.yaml"), *p.glob("*.yml")]) if p.is_dir() else [p])
    ]
    if not files:
        raise InputError(f"no config files in {', '.join(paths)}")
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


def runs_from_datasets(folder: str | Path, shared: dict[str, Any], out: Path) -> list[Run]:
    """One run per (non-hidden) sub-folder of `folder`, named after it, with `input_dir` set to it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"datasets folder {folder} does not exist")
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
    run's outputs into the run's folder unless the run names another.

    Raises:
        ConfigError: A parameter the notebook does not have, two runs with the same name, or a secret: a
            parameter or override named like one (`token`, `superannotate.token`...) or a value that looks
            like a SuperAnnotate token (the message names the run and the key, never the value).
    """
    for run in runs:  # first, so that no message, printed plan or file can hold a secret
        check_secrets(run.parameters, f"run {run.name!r}: parameter ", PARAMETER_RULE)
    names = [r.name for r in runs]
    if len(set(names)) < len(names):
        raise ConfigError(f"run names must differ: {', '.join(sorted({n for n in names if names.count(n) > 1}))}")
    mapping = _mapping(known)
    ready = []
    for run in runs:
        check_names(run.parameters, known, f"parameter of run {run.name!r}:")
        params = {k: _absolute(mapping.get(k), v) for k, v in run.parameters.items()}
        if OVERRIDES in params:
            params[OVERRIDES] = {k: _absolute(k, v) for k, v in params[OVERRIDES].items()}
        if "output_dir" in known:
            params.setdefault("output_dir", str(run.folder.resolve()))
        ready.append(Run(run.name, params, run.folder))
    outputs = [r.parameters["output_dir"] for r in ready if r.parameters.get("output_dir")]
    if len(set(outputs)) < len(outputs):
        raise ConfigError(f"runs must not share an output_dir: {sorted({o for o in outputs if outputs.count(o) > 1})}")
    return ready


def _absolute(key: str | None, value: Any) -> Any:
    if key in PATH_KEYS and isinstance(value, str) and value:
        return str(Path(value).expanduser().resolve())
    return value


def run_batch(notebook: Path, runs: list[Run], jobs: int = 1, resume: bool = False) -> list[Outcome]:
    """Executes the runs, `jobs` at a time, and returns their outcomes in the runs' order."""

    def one(run: Run) -> Outcome:
        outcome = _finished(run) if resume else None
        outcome = outcome or execute(notebook, run)
        print(f"{run.name}: {outcome.status} ({outcome.seconds:.0f} s) {outcome.message}".rstrip(), flush=True)
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="batch") as pool:
        return list(pool.map(one, runs))


def execute(notebook: Path, run: Run) -> Outcome:
    """Executes one run in its own papermill process; its log goes to `<folder>/papermill.log`."""
    run.folder.mkdir(parents=True, exist_ok=True)
    (run.folder / PARAMETERS_FILE).write_text(yaml.safe_dump(run.parameters, sort_keys=False), encoding="utf-8")
    executed = run.folder / EXECUTED
    executed.unlink(missing_ok=True)  # a stale notebook must not pass for this run's
    command = [sys.executable, "-m", "papermill", str(notebook), str(executed), "-f", str(run.folder / PARAMETERS_FILE)]
    command += ["-k", KERNEL, "--cwd", str(project_root()), "--log-output", "--no-progress-bar"]
    started = time.perf_counter()
    with open(run.folder / LOG_FILE, "w", encoding="utf-8") as log:
        code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
    outcome = _outcome(run, code)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _outcome(run: Run, code: int) -> Outcome:
    nb = read_json(run.folder / EXECUTED)
    error = _error(nb) if isinstance(nb, dict) else None
    if code != 0 or error or not isinstance(nb, dict):
        return Outcome(run, FAILED, message=error or _log_tail(run.folder / LOG_FILE))
    return _with_results(Outcome(run, OK))


def _error(nb: dict[str, Any]) -> str | None:
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"{output.get('ename')}: {output.get('evalue')}"
    return None


def _log_tail(path: Path) -> str:
    lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "papermill failed without a message"


def _output_dir(run: Run) -> Path | None:
    folder = next((run.parameters[p] for p in OUTPUT_PARAMETERS if run.parameters.get(p)), None)
    return Path(folder) if folder else None


def _with_results(outcome: Outcome) -> Outcome:
    """Adds the run's figures from its run.json; failed files or uploads make the run partial."""
    folder = _output_dir(outcome.run)
    data = read_json(folder / "run.json") if folder else None
    if not isinstance(data, dict):
        return outcome
    outcome.summary = summary = data.get("summary") or {}
    upload = data.get("upload") or {}
    failed_uploads = (upload.get("summary") or {}).get("failed", 0)
    if upload:
        done = (upload.get("summary") or {}).get("succeeded", 0)
        outcome.upload = "error" if "error" in upload else "dry run" if upload.get("dry_run") else str(done)
    if summary.get("failed") or summary.get("interrupted") or failed_uploads:
        problems = f"{summary.get('failed', 0)} file(s) and {failed_uploads} upload(s) failed; see run.json"
        outcome.status, outcome.message = PARTIAL, problems
    return outcome


def _finished(run: Run) -> Outcome | None:
    """The outcome of an earlier, complete and successful execution with the same parameters, if any."""
    meta = (read_json(run.folder / EXECUTED) or {}).get("metadata", {}).get("papermill", {})
    if meta.get("exception") or not meta.get("end_time"):
        return None
    if json.loads(json.dumps(meta.get("parameters"))) != json.loads(json.dumps(run.parameters)):
        return None
    outcome = _with_results(Outcome(run, SKIPPED, message="finished earlier"))
    if outcome.status == PARTIAL or ("output_dir" in run.parameters and outcome.summary is None):
        return None
    return outcome


def summary_table(outcomes: list[Outcome]) -> str:
    """The batch as a plain-text table, then one line per failed run with its reason."""
    header = ("run", "status", "files", "audio h", "chunks", "uploaded", "time", "notebook")
    rows: list[tuple[str, ...]] = [header]
    for o in outcomes:
        s = o.summary or {}
        hours = f"{s['audio_seconds'] / 3600:.4f}" if "audio_seconds" in s else "-"
        rows.append((o.run.name, o.status, str(s.get("files", "-")), hours, str(s.get("chunks", "-")), o.upload))
        rows[-1] += (f"{o.seconds:.0f} s", str(o.run.folder / EXECUTED))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    problems = [f"{o.run.name}: {o.message}" for o in outcomes if o.status in (FAILED, PARTIAL)]
    return "\n".join(lines + ([""] + problems if problems else []))


class _HelpWithParameters(argparse.Action):
    """`--help`: the usual help, then the parameters of the notebook named before it (or the default one)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, help=kwargs.get("help"))

    def __call__(self, parser: argparse.ArgumentParser, namespace: Any, values: Any, option: Any = None) -> None:
        parser.print_help()
        try:
            print("\n" + parameters_help(_notebook(getattr(namespace, "notebook", None))))
        except PreannotateError as e:
            print(f"\n(no parameters to list: {e})")
        parser.exit()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds `preannotate batch`'s arguments to its sub-parser."""
    helps = parser.add_argument_group("help", conflict_handler="resolve")  # replaces argparse's own --help
    helps.add_argument("-h", "--help", action=_HelpWithParameters, help="show this help and the notebook's parameters")
    parser.add_argument("notebook", nargs="?", help=f"the notebook to run (default: {DEFAULT_NOTEBOOK})")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--runs", metavar="FILE", help="YAML: `runs:` list of {name, PARAMETER: value}, `defaults:`")
    source.add_argument("--configs", nargs="+", metavar="PATH", help="config files, or folders of them: a run each")
    source.add_argument("--datasets", metavar="DIR", help="a folder of datasets: a run per sub-folder (its input_dir)")
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a parameter for every run that does not set it, read as its option's type (null: None); repeatable",
    )
    parser.add_argument("--out", default="runs/batch", help="batch folder, a sub-folder per run (default: %(default)s)")
    parser.add_argument("--jobs", "-j", type=int, default=1, help="runs at a time (default 1: a run uses every core)")
    parser.add_argument("--dry-run", action="store_true", help="list the runs and their parameters; run nothing")
    parser.add_argument("--resume", action="store_true", help="skip runs already finished with the same parameters")


def parameter_value(name: str, raw: str, mapping: dict[str, str]) -> Any:
    """`-p NAME VALUE`: the text read as the type of the option the parameter sets.

    `0.3` is a float for a float option, `2024-01-01` text for a text one; `overrides` and
    parameters that set no option are read as YAML.
    """
    check_secrets({name: raw}, "parameter ", PARAMETER_RULE)  # before any message could quote the value
    if name in mapping:
        return typed_text(mapping[name], raw)
    return yaml.safe_load(raw) if raw.strip() else None


def _notebook(path: str | None) -> Path:
    return Path(path) if path else project_root() / DEFAULT_NOTEBOOK


def main(args: argparse.Namespace) -> int:
    """`preannotate batch`: plans, checks and executes the runs, then prints the summary table.

    Returns:
        0 when every run succeeded (or was skipped as finished), 1 when any failed.

    Raises:
        ConfigError: An unknown parameter or a malformed runs file, before anything runs.
        InputError: The notebook, runs file, config or datasets folder is missing.
    """
    if args.jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    notebook = _notebook(args.notebook).resolve()
    known = notebook_parameters(notebook)
    shared = {name: parameter_value(name, value, _mapping(known)) for name, value in args.parameter}
    out = Path(args.out)
    if args.runs:
        runs = runs_from_file(args.runs, shared, out)
    elif args.configs:
        runs = runs_from_configs(args.configs, shared, out, known)
    else:
        runs = runs_from_datasets(args.datasets, shared, out)
    runs = prepare(runs, known)
    if args.dry_run:
        for run in runs:
            print(f"{run.name}: {run.folder / EXECUTED}")
            print("".join(f"    {k}: {v!r}\n" for k, v in run.parameters.items()), end="")
        return 0
    outcomes = run_batch(notebook, runs, args.jobs, args.resume)
    print(summary_table(outcomes))
    return 1 if any(o.status in (FAILED, PARTIAL) for o in outcomes) else 0
