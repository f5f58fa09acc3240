"""`preannotate batch`: one notebook executed with papermill over many parameter sets.

Runs come from a YAML file listing them, from config files (one run each) or from the
sub-folders of a datasets folder (one run each). Every run gets its own folder under the
batch folder, holding the executed notebook, its parameters, papermill's log and, for
notebooks/preannotate.ipynb, the run's outputs. A failing run does not stop the others.

Each run executes in its own papermill process (a fresh kernel), so runs are isolated and
can go in parallel; the SuperAnnotate token reaches the kernel through the environment only.
A batch holds the lock of its batch folder (`preannotate.lock`) from its checks to its last run,
so that a second batch there stops at once; each run locks its own folder inside it (see owner).

    plan        the notebook's parameters, the runs and their checks (Run, prepare)
    owner       whether a run may write its folder: the names a batch writes there and its marker
    execution   the runs executed with papermill, their outcomes and the summary table (Outcome, run_batch)
    cli         the command line: add_arguments, parameter_value, main

Imports go one way: cli -> execution -> owner -> plan.
"""

from .cli import DEFAULT_NOTEBOOK, add_arguments, main, parameter_value
from .execution import (
    FAILED,
    INTERRUPTED,
    KERNEL,
    NOT_STARTED,
    OK,
    PARTIAL,
    SKIPPED,
    BatchInterrupted,
    Outcome,
    _with_results,  # tests/test_batch.py reads a run.json through it
    execute,
    run_batch,
    summary_table,
)
from .owner import EXECUTED, LOG_FILE, MARKER, OUTPUT_PARAMETERS, PARAMETERS_FILE, check_run_folders
from .plan import (
    Run,
    notebook_parameters,
    parameters_help,
    prepare,
    runs_from_configs,
    runs_from_datasets,
    runs_from_file,
)

__all__ = [
    "DEFAULT_NOTEBOOK",
    "EXECUTED",
    "FAILED",
    "INTERRUPTED",
    "KERNEL",
    "LOG_FILE",
    "MARKER",
    "NOT_STARTED",
    "OK",
    "OUTPUT_PARAMETERS",
    "PARAMETERS_FILE",
    "PARTIAL",
    "SKIPPED",
    "BatchInterrupted",
    "Outcome",
    "Run",
    "_with_results",
    "add_arguments",
    "check_run_folders",
    "execute",
    "main",
    "notebook_parameters",
    "parameter_value",
    "parameters_help",
    "prepare",
    "run_batch",
    "runs_from_configs",
    "runs_from_datasets",
    "runs_from_file",
    "summary_table",
]
