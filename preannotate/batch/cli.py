"""`preannotate batch`'s command line: its arguments, `-p NAME VALUE` values and `main`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from ..config import PARAMETER_RULE, check_secrets, typed_text
from ..config_yaml import parse_yaml
from ..errors import ConfigError, PreannotateError
from ..locations import refuse_bucket
from ..lock import output_lock
from ..notebook import project_root
from .execution import PROBLEMS, BatchInterrupted, run_batch, summary_table
from .owner import EXECUTED, check_run_folders
from .plan import (
    _mapping,
    notebook_parameters,
    parameters_help,
    prepare,
    runs_from_configs,
    runs_from_datasets,
    runs_from_file,
)

DEFAULT_NOTEBOOK = "notebooks/preannotate.ipynb"
COMMAND = "batch"  # how the lock of `--out` names this command to a second process


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
    return parse_yaml(raw, f"-p {name}") if raw.strip() else None


def _notebook(path: str | None) -> Path:
    return Path(path) if path else project_root() / DEFAULT_NOTEBOOK


def main(args: argparse.Namespace) -> int:
    """`preannotate batch`: plans, checks and executes the runs, then prints the summary table.

    Returns:
        0 when every run succeeded (or was skipped as finished), 1 when any failed.

    Raises:
        ConfigError: An unknown parameter or a bad value, a malformed runs file, an `--out` that is
            a bucket URL, a file or cannot be written, a run folder (or output folder) holding files
            it would overwrite that are not shown to be a batch's (a run's), or a run whose output folder
            is `--out` itself, before anything runs.
        LockError: Another process (a batch, or a command with `-o` there) holds `--out`: the message names
            it; nothing was written.
        InputError: The notebook, runs file, config or datasets folder is missing.
        KeyboardInterrupt: Ctrl-C, after the summary table of the runs so far.
    """
    if args.jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    notebook = _notebook(args.notebook).resolve()
    known = notebook_parameters(notebook)
    shared = {name: parameter_value(name, value, _mapping(known)) for name, value in args.parameter}
    refuse_bucket(args.out, "--out")
    out = Path(args.out)
    if args.runs:
        runs = runs_from_file(args.runs, shared, out)
    elif args.configs:
        runs = runs_from_configs(args.configs, shared, out, known)
    else:
        runs = runs_from_datasets(args.datasets, shared, out)
    runs = prepare(runs, known)
    # Every run's, before any starts: a refused folder must not leave a batch half-run. Before the lock, as `run`
    # checks its folder: a batch refused there adds nothing to --out, not even a lock file.
    check_run_folders(runs)
    if args.dry_run:
        for run in runs:
            print(f"{run.name}: {run.folder / EXECUTED}")
            print("".join(f"    {k}: {v!r}\n" for k, v in run.parameters.items()), end="")
        return 0
    _refuse_a_file(out)
    # One batch at a time per --out, for the whole batch: a second one stops here (LockError, exit 2), naming this
    # one, before it writes anything. The runs lock their own folders, `<out>/<run name>` (or their output_dir,
    # never --out itself: check_run_folders), in their own kernel processes, so this lock never refuses them.
    with output_lock(out, COMMAND):
        check_run_folders(runs)  # again under the lock: a batch that held it may have changed the folders since
        _make_batch_folder(out)
        try:
            outcomes = run_batch(notebook, runs, args.jobs, args.resume)
        except BatchInterrupted as interrupted:
            print(summary_table(interrupted.outcomes), flush=True)
            print("interrupted: run the batch again with --resume to skip the finished runs", flush=True)
            raise KeyboardInterrupt from None  # the command line's exit code 130
    print(summary_table(outcomes))
    return 1 if any(o.status in PROBLEMS for o in outcomes) else 0


def _refuse_a_file(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder: name a folder for the batch")


def _make_batch_folder(out: Path) -> None:
    """Makes `--out`, so that a file or an unwritable place there stops the batch before any run starts.

    The lock usually made it already (and removes it again if the batch stops before any run).
    """
    _refuse_a_file(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out {out}: cannot make the batch folder: {e.strerror or e}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {out}: the batch folder is not writable")
