"""The `preannotate` command line: parses arguments and calls the package.

Option flags take their help from the typed options (`options.catalog`) and hand typed values to
the configuration: `-i 2024-01-01`, `-i '~'` and `-i 'notes: draft'` are folder names.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from . import __version__, interrupts
from .config import load_config
from .errors import ConfigError, CredentialsError, DestinationError, InputError, LockError, ModelError, PreannotateError
from .locations import refuse_bucket
from .options.catalog import option_info

EXIT_OK, EXIT_FAILED_FILES, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_PIPE_CLOSED = 0, 1, 2, 130, 141
# Errors raised before any file is processed; every other package error comes during or after processing.
NOTHING_PROCESSED = (ConfigError, InputError, ModelError, CredentialsError, LockError, DestinationError)
EXIT_CODES = """exit codes:
  0    everything done
  1    some file, export or upload failed after processing began (run.json says which); run again to retry
  2    nothing processed: bad configuration or arguments, missing input, a model that cannot load,
       missing or rejected credentials, another process working on the output folder, an output
       folder holding files a run would overwrite that no run made, an export destination this tool
       did not make or that was changed since, a model file calibrate did not write, an output
       folder without a run (upload, pull, report, export), a damaged pulled.json, or a state
       file (run.json, journal.jsonl...) that is not a file: a named pipe, a folder
  130  interrupted (Ctrl-C); finished files are kept and a second run resumes
  141  the program reading the output stopped reading (`| head`); files already written are kept"""

log = logging.getLogger("preannotate")


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line and returns its exit code (see EXIT_CODES)."""
    args = _parse(build_parser(), argv)
    _setup_logging(args.verbose - args.quiet)
    interrupts.install()
    try:
        code = args.handler(args)
        sys.stdout.flush()  # a reader that left (`| head`) shows here, not as an error at the interpreter's exit
        return code
    except BrokenPipeError:  # what reaches here is the standard output's: the clients' own are wrapped
        _quiet_stdout()
        return EXIT_PIPE_CLOSED
    except PreannotateError as e:
        print(f"preannotate: error: {e}", file=sys.stderr)
        return exit_code(e)
    except KeyboardInterrupt:
        interrupts.pressed()
        if argv is None:  # the process's own command line: it ends next
            _ignore_ctrl_c()
        print("preannotate: interrupted; finished files are kept, run again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """The parsed arguments; `--help` written to a reader that left (`| head -1`) exits 141 as a command does."""
    try:
        try:
            return parser.parse_args(argv)
        finally:  # `--help` exits here: the reader's leaving shows at this flush, or at the help's own print
            sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
        raise SystemExit(EXIT_PIPE_CLOSED) from None


def _quiet_stdout() -> None:
    """Points standard output at /dev/null once its reader has left, for the interpreter's last flush.

    As Python's documentation advises (signal module, "Note on SIGPIPE"): otherwise that flush prints
    "Exception ignored ... BrokenPipeError" and the process exits 120.
    """
    with contextlib.suppress(OSError, ValueError):  # ValueError: no file descriptor (a test's StringIO)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _ignore_ctrl_c() -> None:
    """Ignores SIGINT from now on: the process is ending after a Ctrl-C and what is finished is kept.

    People press Ctrl-C twice; a second one would only break the interpreter's shutdown (the finalizers of
    torch, tqdm...) with a traceback and exit by the signal instead of with 130.
    """
    with contextlib.suppress(ValueError):  # not the main thread: signals are not this thread's to handle
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def exit_code(error: PreannotateError) -> int:
    """2 for an error raised before anything was processed, 1 for one during or after processing."""
    return EXIT_USAGE if isinstance(error, NOTHING_PROCESSED) else EXIT_FAILED_FILES


def option_help(key: str, text: str = "", value: str = "") -> str:
    """A flag's help: `text` (or the option's short help) and the option it sets (to `value`, if fixed)."""
    info = option_info(key)
    assert info is not None, key  # a flag naming no option is a programming error
    sets = f"{key}={value}" if value else key
    return f"{text or info.summary} [{sets}]".replace("%", "%%")


DESCRIPTION = (
    "Turns recordings into time-aligned transcript drafts for SuperAnnotate, so that annotators correct\n"
    "instead of typing; pulls their corrections back, reports how much they changed and exports the dataset.\n"
    "Start with: preannotate run -i RECORDINGS -o RUN   (see README.md)"
)


def build_parser() -> argparse.ArgumentParser:
    """Builds the argument parser with one sub-command per job."""
    parser = argparse.ArgumentParser(
        prog="preannotate",
        description=DESCRIPTION,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="less log output")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (add, handler, help_text) in COMMANDS.items():
        sub = commands.add_parser(
            name, help=help_text, description=help_text, epilog=EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )  # fmt: skip
        add(sub)
        sub.set_defaults(handler=handler)
    return parser


class _Once(argparse.Action):
    """A folder flag given at most once: argparse would keep the last (`report -o A -o B` would report B alone)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # noqa: D102
        if getattr(namespace, self.dest, None) is not None:
            parser.error(
                f"{option_string} given twice ({getattr(namespace, self.dest)} and {values}): this command takes one "
                "folder (`preannotate calibrate` takes several runs)"
            )
        setattr(namespace, self.dest, values)


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the options every configured command shares."""
    parser.add_argument(
        "config", nargs="?",
        help="YAML run configuration (default: built-in defaults); relative paths in it are relative to its folder",
    )  # fmt: skip
    parser.add_argument("--input", "-i", metavar="DIR", action=_Once, help=option_help("input.dir"))
    parser.add_argument("--output", "-o", metavar="DIR", action=_Once, help=option_help("output.dir"))
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override an option, e.g. --set transcribe.beam_size=5 (repeatable); the value is read as the "
        "option's type, `null` or nothing is None",
    )


def config_from_args(
    args: argparse.Namespace, values: dict[str, Any] | None = None, base: dict[str, Any] | None = None
):
    """Loads the configuration named by the arguments: `base`, the file, then `--set`, then the flags' typed values.

    Flag values are handed over as typed (no YAML): `-i 2024-01-01` is a folder name. Values that
    are None (a flag not given) are left out.
    """
    flags = {"input.dir": args.input, "output.dir": args.output, **(values or {})}
    return load_config(args.config, args.overrides, {k: v for k, v in flags.items() if v is not None}, base)


def _add_upload_flags(parser: argparse.ArgumentParser) -> None:
    texts = {"dry_run": "check everything, upload nothing (the default without a token)"}
    for name in UPLOAD_FLAGS:
        flag = "--" + name.replace("_", "-")
        parser.add_argument(
            flag, action="store_true", help=option_help(f"superannotate.{name}", texts.get(name, ""), "true")
        )


UPLOAD_FLAGS = ("dry_run", "force_upload", "overwrite_human_edits")


def _upload_values(args: argparse.Namespace) -> dict[str, Any]:
    return {f"superannotate.{name}": True for name in UPLOAD_FLAGS if getattr(args, name)}


def _add_run(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    _add_upload_flags(parser)
    parser.add_argument("--force", action="store_true", help=option_help("output.force", value="true"))
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _run(args: argparse.Namespace) -> int:
    from .report import summary_table
    from .run import run_pipeline

    config = config_from_args(args, {**({"output.force": True} if args.force else {}), **_upload_values(args)})
    report = run_pipeline(config, progress=not args.no_progress)
    print(summary_table(report.files))
    print(f"\n{report.upload_line()}")
    print(f"results in {report.output_dir} (run.json)")
    if report.failed:
        print(f"{len(report.failed)} of {len(report.files)} files failed; see run.json", file=sys.stderr)
    return EXIT_FAILED_FILES if report.failed or report.upload_failed else EXIT_OK


def _add_upload(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    _add_upload_flags(parser)


def _upload(args: argparse.Namespace) -> int:
    from .superannotate import recorded_options, upload_from_config, warn_run_only

    # The run's own upload options first (project, URLs, classes...), then the file, --set and flags.
    config = config_from_args(args, _upload_values(args))
    recorded = recorded_options(config.output.dir)
    if recorded:  # loaded again beneath them
        log.info("upload: starting from the options the run recorded (project %r)",
                 recorded.get("superannotate", {}).get("project", ""))  # fmt: skip
        config = config_from_args(args, _upload_values(args), recorded)
    warn_run_only(recorded, config)
    report = upload_from_config(config, force=args.force_upload)
    table = report.table()
    if table:
        print(table + "\n")
    print(report.summary_line())
    return EXIT_FAILED_FILES if report.failed else EXIT_OK


def _add_pull(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument(
        "--status", action="append", default=[], metavar="STATUS",
        help=option_help("correction.statuses", "pull only items in this status, e.g. Completed (repeatable)"),
    )  # fmt: skip


def _pull(args: argparse.Namespace) -> int:
    from .correction import pull_from_config

    values = {"correction.statuses": tuple(args.status)} if args.status else {}
    report = pull_from_config(config_from_args(args, values))
    print(report.summary_line())
    for item, problem in report.problems.items():
        print(f"  {item}: {problem}", file=sys.stderr)
    return EXIT_FAILED_FILES if report.problems else EXIT_OK


def _add_report(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument(
        "--work-times", metavar="CSV",
        help="per-item work times (columns item, seconds): hours per audio hour of drafts against the control arm",
    )  # fmt: skip


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .correction import compare_from_config
    from .correction.advice import review_advice
    from .correction.arms import check_work_times, read_work_times
    from .correction.report import REPORT_DIR, headline, summary_table, write_report
    from .correction.savings import effort_line, evidence
    from .lock import output_lock

    config = _with_recorded_annotation(args)
    work_times = read_work_times(args.work_times) if args.work_times else None  # bad rows stop before any work
    with output_lock(config.output.dir, "report", existing=True):  # the comparison and the files it writes, as one
        result = compare_from_config(config)
        if work_times is not None:  # another run's times: refused before the report is replaced
            check_work_times(args.work_times, work_times, result.items["item"])
        path = write_report(result, Path(config.output.dir) / REPORT_DIR, work_times)
    print(headline(result) + "\n")
    print(summary_table(result).to_string(index=False))
    shown = evidence(result, work_times)
    print("\n" + effort_line(shown.effort))
    if advice := review_advice(result.summary, str(config.output.dir)):
        print("\n" + advice)
    for warning in shown.arms.get("warnings") or ():
        print(f"  work times: {warning}", file=sys.stderr)
    for item, problem in result.problems.items():
        print(f"  {item}: {problem}", file=sys.stderr)
    for item, found in result.disagreements.items():  # read as the annotator left them, but worth a look
        print(f"  {item}: {len(found)} keyframe disagreement(s), e.g. {found[0]}", file=sys.stderr)
    print(f"\nreport: {path}")
    return EXIT_OK


def _add_calibrate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", help="YAML configuration for annotation and correction options")
    parser.add_argument(
        "--output", "-o", dest="runs", action="append", required=True, metavar="RUN",
        help="a pulled run's output folder (repeatable: the model is fitted on all of them)",
    )  # fmt: skip
    parser.add_argument("--out", help="model JSON to write (default <first run>/correction/review_model.json)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override an option, e.g. --set correction.language=en")  # fmt: skip


def _calibrate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .correction.calibrate import MODEL_DIR, calibrate_runs, check_same_names
    from .correction.calibrate_model import MODEL_FILE
    from .correction.calibrate_summary import calibration_summary

    refuse_bucket(args.out, "--out")
    out = Path(args.runs[0]) / MODEL_DIR / MODEL_FILE if args.out is None else args.out
    configs = [_config_of(args, run) for run in args.runs]
    config = configs[0]
    check_same_names(args.runs, [c.annotation for c in configs])
    found, path = calibrate_runs(args.runs, out, config.annotation, config.correction)
    print(calibration_summary(found, len(args.runs)))
    print(f"\nmodel: {path}\nuse it: preannotate run ... --set annotation.review_model={path}")
    return EXIT_OK


def _with_recorded_annotation(args: argparse.Namespace, values: dict[str, Any] | None = None) -> Any:
    """The configuration of a command that reads a run's annotations: on the annotation names it recorded."""
    from .superannotate.recorded import recorded_annotation

    return config_from_args(args, values, recorded_annotation(config_from_args(args, values).output.dir))


def _config_of(args: argparse.Namespace, run: str) -> Any:
    """The configuration for one run: its recorded annotation names, the file, then `--set`."""
    from .superannotate.recorded import recorded_annotation

    return load_config(args.config, args.overrides, {"output.dir": run}, recorded_annotation(run))


def _add_export(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--dest", metavar="DIR", help=option_help("dataset.dir"))
    parser.add_argument(
        "--all-statuses", action="store_true",
        help=option_help("dataset.only_completed", "export every pulled item, not only Completed", "false"),
    )  # fmt: skip
    for name in EXPORT_FLAGS:  # text read as the option's type, as --set reads it: `--max-duration null` keeps all
        parser.add_argument("--" + name.replace("_", "-"), metavar=name.upper(), help=option_help(f"dataset.{name}"))


EXPORT_FLAGS = ("sample_rate", "min_duration", "max_duration")


def _export(args: argparse.Namespace) -> int:
    from .correction.dataset import export_from_config

    flags = {"dir": args.dest, "only_completed": False if args.all_statuses else None}
    given = [f"dataset.{name}={getattr(args, name)}" for name in EXPORT_FLAGS if getattr(args, name) is not None]
    args.overrides = [*args.overrides, *given]  # after --set, as every flag's value is
    config = _with_recorded_annotation(args, {f"dataset.{k}": v for k, v in flags.items()})
    report = export_from_config(config, input_dir=args.input)
    print(report.summary_line())
    for item, problem in report.problems.items():
        print(f"  {item}: {problem}", file=sys.stderr)
    return EXIT_FAILED_FILES if report.problems else EXIT_OK


def _add_batch(parser: argparse.ArgumentParser) -> None:
    from .batch import add_arguments

    add_arguments(parser)


def _batch(args: argparse.Namespace) -> int:
    from .batch import main as batch_main

    return batch_main(args)


COMMANDS: dict[str, tuple[Callable, Callable, str]] = {
    "run": (_add_run, _run, "transcribe a dataset folder, chunk, export and upload"),
    "upload": (_add_upload, _upload, "upload (again) a finished run's annotations, with the options the run recorded"),
    "pull": (_add_pull, _pull, "download the annotators' corrected annotations and statuses of a run"),
    "report": (_add_report, _report, "compare corrections with the drafts: tables, plots, report.html"),
    "calibrate": (_add_calibrate, _calibrate, "refit the review model on the pulled corrections of one or more runs"),
    "export": (_add_export, _export, "export the corrected dataset: audiofolder, NeMo manifest, segments CSV"),
    "batch": (_add_batch, _batch, "run a notebook with papermill over many parameter sets"),
}


# Libraries that log at INFO on import, on every command (gcsfs: "experimental features enabled"), or a dozen
# lines per request (azure-core's request log): -v shows them.
QUIET_LIBRARIES = ("gcsfs", "azure.core.pipeline.policies.http_logging_policy")
# HTTP clients whose DEBUG lines hold request headers and signed URLs (an AWS session token, a SAS token):
# never below INFO, even with -v, since secrets never reach a log line.
WIRE_LOGGERS = ("botocore", "aiobotocore", "boto3", "s3transfer", "urllib3", "azure", "google.auth")


def _setup_logging(level: int) -> None:
    levels = {-2: logging.ERROR, -1: logging.WARNING, 0: logging.INFO, 1: logging.DEBUG}
    chosen = levels[max(-2, min(1, level))]
    logging.basicConfig(level=chosen, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from .superannotate.redact import RedactingFilter

    for handler in logging.getLogger().handlers:  # every library's lines too: a URL's password or signature
        handler.addFilter(RedactingFilter())
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(chosen, logging.WARNING) if chosen > logging.DEBUG else chosen)
    for name in WIRE_LOGGERS:
        logging.getLogger(name).setLevel(max(chosen, logging.INFO))
