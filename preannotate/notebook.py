"""What the notebooks call: parameters to a run configuration, the run, and (re-exported) the tables.

The tables and the timeline plot live in `notebook_tables`; they are imported here so that the
notebooks and `preannotate batch` need this one module.

The notebooks hold no logic of their own. Their `parameters` cell mirrors `PARAMETERS` below
(parameter name -> dotted config key, same defaults as the typed options); a test keeps the
notebook, this table, `configs/default.yaml` and `options.py` in step. Any other option is
reachable through the `overrides` parameter, by dotted key.

Relative paths in parameters are relative to the project root (the checkout holding
`pyproject.toml`), wherever the kernel was started: Jupyter starts it in `notebooks/`,
papermill in the caller's folder, Colab in `/content`. (`preannotate batch` makes the paths it
is given absolute first, from the current folder or the file they are written in.) Text given
for an option that is not text is read as the option's type, as on the command line.
"""

from __future__ import annotations

import ast
import difflib
import sys
import warnings
from typing import Any

from .cloud import is_bucket_url
from .config import (
    PARAMETER_RULE,
    SECRET_HINT,
    check_secrets,
    config_from_dict,
    is_secret_key,
    looks_like_token,
    set_dotted,
    typed_text,
)
from .errors import ConfigError, PreannotateError
from .notebook_tables import chunk_table as chunk_table
from .notebook_tables import plot_timeline as plot_timeline
from .notebook_tables import project_root as project_root
from .notebook_tables import resolve_path as resolve_path
from .notebook_tables import run_table as run_table
from .notebook_tables import summary_line as summary_line
from .notebook_tables import upload_table as upload_table
from .options import RunConfig
from .options.base import IF_EXISTS
from .options.catalog import path_options
from .report import RunReport

# Notebook parameter -> dotted config key. The notebook's defaults are these options' defaults.
PARAMETERS: dict[str, str] = {
    "input_dir": "input.dir",
    "output_dir": "output.dir",
    "force": "output.force",
    "model": "model.name",
    "device": "model.device",
    "engine": "model.engine",
    "language": "transcribe.language",
    "task": "transcribe.task",
    "temperature": "transcribe.temperature",
    "beam_size": "transcribe.beam_size",
    "best_of": "transcribe.best_of",
    "initial_prompt": "transcribe.initial_prompt",
    "condition_on_previous_text": "transcribe.condition_on_previous_text",
    "compression_ratio_threshold": "transcribe.compression_ratio_threshold",
    "logprob_threshold": "transcribe.logprob_threshold",
    "no_speech_threshold": "transcribe.no_speech_threshold",
    "hallucination_silence_threshold": "transcribe.hallucination_silence_threshold",
    "word_timestamps": "transcribe.word_timestamps",
    "fp16": "transcribe.fp16",
    "chunk_policy": "chunking.policy",
    "max_duration": "chunking.max_duration",
    "min_duration": "chunking.min_duration",
    "max_chars": "chunking.max_chars",
    "gap_threshold": "chunking.gap_threshold",
    "padding_before": "chunking.padding_before",
    "padding_after": "chunking.padding_after",
    "review_mean_word_probability": "chunking.review_mean_word_probability",
    "review_avg_logprob": "chunking.review_avg_logprob",
    "speakers_mode": "speakers.mode",
    "num_speakers": "speakers.num_speakers",
    "min_speakers": "speakers.min_speakers",
    "max_speakers": "speakers.max_speakers",
    "project": "superannotate.project",
    "url_csv": "superannotate.url_csv",
    "url_prefix": "superannotate.url_prefix",
    "dry_run": "superannotate.dry_run",
    "force_upload": "superannotate.force_upload",
    "upload_status": "superannotate.status",
}
# Parameters of notebooks/correction_report.ipynb -> dotted config key.
CORRECTION_PARAMETERS: dict[str, str] = {
    "run_dir": "output.dir",
    "project": "superannotate.project",
    "statuses": "correction.statuses",
    "normalizer_language": "correction.language",
}
# The one parameter of both notebooks that is not an option: other options by dotted key, like `--set`.
OVERRIDES = "overrides"
# Options of a run deliberately without a parameter in notebooks/preannotate.ipynb (set them through
# `overrides`); a key ending in "." stands for its whole section. Every option is either here or in
# PARAMETERS, so a new option cannot be forgotten (a test checks).
NOT_PARAMETERS = frozenset(
    {
        "input.extensions",
        "model.download_root",
        "model.faster_whisper.",
        *(f"transcribe.{k}" for k in ("carry_initial_prompt", "prepend_punctuations", "append_punctuations")),
        *(f"transcribe.{k}" for k in ("clip_timestamps", "patience", "length_penalty", "suppress_tokens")),
        "transcribe.suppress_blank",
        "chunking.word_stretch",
        *(f"chunking.review_{k}" for k in ("min_word_probability", "no_speech_prob", "compression_ratio")),
        "chunking.review_fallback_temperature",
        "annotation.",
        *(f"superannotate.{k}" for k in ("project_description", "keep_status", "batch_size", "max_attempts")),
        *(f"superannotate.{k}" for k in ("backoff_seconds", "verify_upload", "overwrite_human_edits", "integration")),
        "superannotate.control_share",
        "superannotate.control_seed",
        *(f"superannotate.{k}" for k in ("priority", "custom_fields")),
        *(f"superannotate.{k}" for k in ("urls", "url_expiry_hours")),  # bucket inputs: see README, "Buckets"
        "correction.",  # the correction notebook's business
        "dataset.",
        "run.",  # a notebook runs on the machine it is on; a cluster run is a CLI run
        "ray.",
        "speakers.channel_names",  # a list of names: through `overrides` (speakers_mode="channels" names ch1, ch2...)
        "silence.",  # on by default; tuning it (or turning it off) is rare: through `overrides`
    }
)
# Options holding paths (their fields say `path=`): relative ones are taken from the project root.
PATH_KEYS = frozenset(path_options())
_INJECTED_HEADER = "# Parameters\n"  # first line of the cell papermill injects


def parameters_from_namespace(namespace: dict[str, Any], mapping: dict[str, str] | None = None) -> dict[str, Any]:
    """The notebook's parameter values, from the kernel's globals.

    papermill only warns about a parameter the notebook does not declare; this makes it an
    error by reading the cell papermill injected (from IPython's input history, `In`). It is the
    notebooks' first call: it also makes the package's errors show as one line (`one_line_errors`).

    Args:
        namespace: The notebook's `globals()`.
        mapping: The notebook's parameters (name -> dotted key); PARAMETERS when None.

    Raises:
        ConfigError: papermill injected a parameter the notebook does not have.
    """
    one_line_errors()
    names = [*(PARAMETERS if mapping is None else mapping), OVERRIDES]
    history = [source for source in namespace.get("In") or [] if isinstance(source, str)]
    # Only what ran since the parameters cell last ran counts: a cell injected (or corrected) in an earlier
    # Run-all of the same kernel no longer sets anything.
    start = max((i for i, source in enumerate(history) if _declares_parameters(source)), default=0)
    for source in history[start:]:
        if source.startswith(_INJECTED_HEADER):
            check_names(_assigned_names(source), names)
    return {name: namespace[name] for name in names if name in namespace}


def one_line_errors() -> bool:
    """In an IPython kernel, shows the package's errors as their one-line message, not a traceback.

    A bad parameter, a missing input folder or a malformed token is named by its message, as on the
    command line; the cell still fails (Run-all stops there) and `%tb` shows the whole traceback.
    Other exceptions keep IPython's traceback.

    Returns:
        Whether an IPython shell was found (outside one nothing is done).
    """
    try:
        from IPython import get_ipython
    except ImportError:  # the notebooks extra is not installed: not in a kernel either
        return False
    shell = get_ipython()
    if shell is None:
        return False
    if not shell.custom_exceptions:  # a handler of the user's own stays
        shell.set_custom_exc((PreannotateError,), _show_message)
    return True


def _show_message(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None) -> None:
    shell.showtraceback((etype, value, tb), exception_only=True)


def _declares_parameters(source: str) -> bool:
    """Whether a cell is a notebook's `parameters` cell: it declares `overrides` with its type."""
    if OVERRIDES not in source:
        return False
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(
        isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and n.target.id == OVERRIDES for n in tree.body
    )


def _assigned_names(source: str) -> list[str]:
    tree = ast.parse(source)
    return [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)]


def check_names(given: Any, known: Any, what: str = "notebook parameter") -> None:
    """Raises ConfigError naming the first of `given` not in `known`, with a suggestion."""
    known = list(known)
    for name in given:
        if looks_like_token(name):
            raise ConfigError(f"a name ({what}) looks like a SuperAnnotate token: {PARAMETER_RULE}; {SECRET_HINT}")
        if is_secret_key(name):
            raise ConfigError(f"{name}: {PARAMETER_RULE}; {SECRET_HINT}")
        if name not in known:
            close = difflib.get_close_matches(str(name), known, n=1)  # a YAML key may be a number
            hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known)}"
            raise ConfigError(f"unknown {what} {name!r}{hint}")


def config_from_parameters(params: dict[str, Any], mapping: dict[str, str] | None = None) -> RunConfig:
    """Maps notebook parameters onto a validated RunConfig.

    Args:
        params: Parameter values by name (missing ones keep their defaults), and `overrides`,
            a dict of other options by dotted key.
        mapping: The notebook's parameters (name -> dotted key); PARAMETERS when None.

    Raises:
        ConfigError: An unknown parameter, `overrides` not a mapping, an override of a key that has a
            parameter, or a bad value.
    """
    mapping = PARAMETERS if mapping is None else mapping
    check_secrets(params, "parameter ", PARAMETER_RULE)  # before any message could quote a value
    check_names(params, [*mapping, OVERRIDES])
    overrides = params.get(OVERRIDES)
    overrides = {} if overrides is None else overrides
    if not isinstance(overrides, dict):
        kind = type(overrides).__name__
        raise ConfigError(f"{OVERRIDES} must be a mapping of dotted option keys to values, not {kind}")
    for key in overrides:
        if not isinstance(key, str):
            raise ConfigError(f"{OVERRIDES}: keys are dotted option names such as 'transcribe.patience', not {key!r}")
    values = {mapping[name]: value for name, value in params.items() if name != OVERRIDES}
    by_key = {key: name for name, key in mapping.items()}
    for key, value in overrides.items():
        if key in by_key:
            raise ConfigError(f"overrides: {key!r} has its own parameter, {by_key[key]!r}; set that instead")
        values[key] = value
    data: dict[str, Any] = {}
    for key, value in values.items():
        set_dotted(data, key, _resolved(key, value))
    return config_from_dict(data)


def _resolved(key: str, value: Any) -> Any:
    """A parameter's value typed as its option (when given as text), its path taken from the project root."""
    if isinstance(value, str):
        value = typed_text(key, value)
    if key not in PATH_KEYS or not isinstance(value, str) or not value or is_bucket_url(value):
        return value
    if path_options()[key] == IF_EXISTS and not resolve_path(value).exists():
        return value  # a model name, not a path
    return str(resolve_path(value))


def run_from_parameters(**params: Any) -> RunReport:
    """Runs the pipeline as notebooks/preannotate.ipynb's parameters describe.

    Raises:
        ConfigError: An unknown parameter or a bad value (see `config_from_parameters`).
    """
    config = config_from_parameters(params)
    colab_bucket_auth(config.input.dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tqdm.auto's "IProgress not found" where ipywidgets is missing
        from .run import run_pipeline

    return run_pipeline(config, progress=True)


def correction_config(**params: Any) -> RunConfig:
    """The configuration notebooks/correction_report.ipynb's parameters describe."""
    return config_from_parameters(params, CORRECTION_PARAMETERS)


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules


def colab_bucket_auth(input_dir: str) -> bool:
    """Inside Colab, signs in to Google Cloud for a `gs://` input (Colab asks for permission).

    `google.colab.auth.authenticate_user()` sets the application default credentials gcsfs reads;
    elsewhere (and for other inputs) the cloud's usual credential chain applies and nothing is done.

    Returns:
        Whether Colab's sign-in was called.
    """
    if not (in_colab() and str(input_dir).lower().startswith(("gs://", "gcs://"))):
        return False
    from google.colab import auth  # only importable inside Colab

    auth.authenticate_user()
    return True
