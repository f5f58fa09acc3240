"""The `preannotate` command line: parses arguments and calls the package.

Exit codes: 0 success, 1 some files failed, 2 bad configuration or input (nothing processed),
another process working on the output folder, or a full disk (the run stopped), 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from .config import load_config
from .errors import PreannotateError

EXIT_OK, EXIT_FAILED_FILES, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

log = logging.getLogger("preannotate")


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line and returns its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose - args.quiet)
    try:
        return args.handler(args)
    except PreannotateError as e:
        print(f"preannotate: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("preannotate: interrupted; finished files are kept, run again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    """Builds the argument parser with one sub-command per job."""
    parser = argparse.ArgumentParser(prog="preannotate", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="less log output")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (add, handler, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        add(sub)
        sub.set_defaults(handler=handler)
    return parser


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the options every configured command shares."""
    parser.add_argument("config", nargs="?", help="YAML run configuration (default: built-in defaults)")
    parser.add_argument("--input", "-i", help="dataset folder (overrides input.dir)")
    parser.add_argument("--output", "-o", help="output folder (overrides output.dir)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override an option, e.g. --set transcribe.beam_size=5 (repeatable)",
    )


def config_from_args(args: argparse.Namespace, extra: Sequence[str] = ()):
    """Loads the configuration named by the arguments, with overrides applied."""
    overrides = list(args.overrides)
    if args.input:
        overrides.append(f"input.dir={args.input}")
    if args.output:
        overrides.append(f"output.dir={args.output}")
    return load_config(args.config, [*overrides, *extra])


def _add_upload_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="build and check everything, upload nothing (default without a token)"
    )
    parser.add_argument(
        "--force-upload", action="store_true", help="upload again items already uploaded unchanged (not human-edited)"
    )
    parser.add_argument(
        "--overwrite-human-edits",
        action="store_true",
        help="also replace items people have worked on (their state is saved under <output>/backups first)",
    )


def _upload_overrides(args: argparse.Namespace) -> list[str]:
    flags = {"dry_run": args.dry_run, "force_upload": args.force_upload}
    flags["overwrite_human_edits"] = args.overwrite_human_edits
    return [f"superannotate.{key}=true" for key, on in flags.items() if on]


def _add_run(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    _add_upload_flags(parser)
    parser.add_argument("--force", action="store_true", help="transcribe again even what is finished")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _run(args: argparse.Namespace) -> int:
    from .report import summary_table
    from .run import run_pipeline

    config = config_from_args(args, [*(["output.force=true"] if args.force else []), *_upload_overrides(args)])
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
    from .superannotate import upload_from_config

    report = upload_from_config(config_from_args(args, _upload_overrides(args)), force=args.force_upload)
    table = report.table()
    if table:
        print(table + "\n")
    print(report.summary_line())
    return EXIT_FAILED_FILES if report.failed else EXIT_OK


def _add_pull(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument(
        "--status", action="append", default=[], metavar="STATUS",
        help="pull only items in this SuperAnnotate status, e.g. Completed (repeatable; default: all)",
    )  # fmt: skip


def _pull(args: argparse.Namespace) -> int:
    from .correction import pull_from_config

    extra = [f"correction.statuses=[{','.join(args.status)}]"] if args.status else []
    report = pull_from_config(config_from_args(args, extra))
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
    from .correction.arms import read_work_times
    from .correction.report import REPORT_DIR, headline, summary_table, write_report
    from .correction.savings import effort_line, evidence
    from .lock import output_lock

    config = config_from_args(args)
    work_times = read_work_times(args.work_times) if args.work_times else None  # bad rows stop before any work
    with output_lock(config.output.dir, "report"):  # the comparison and the files it writes, as one
        result = compare_from_config(config)
        path = write_report(result, Path(config.output.dir) / REPORT_DIR, work_times)
    print(headline(result) + "\n")
    print(summary_table(result).to_string(index=False))
    print("\n" + effort_line(evidence(result, work_times).effort))
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

    from .correction.calibrate import MODEL_FILE, calibrate, write_model
    from .correction.report import REPORT_DIR

    config = load_config(args.config, [*args.overrides, f"output.dir={args.runs[0]}"])
    found = calibrate(args.runs, config.annotation, config.correction)
    path = write_model(found, args.out or Path(args.runs[0]) / REPORT_DIR / MODEL_FILE)
    rows = found.rows
    print(f"fitted on {rows['chunks']} chunk(s) from {len(args.runs)} run(s), {rows['with_error']} with errors", end="")
    print(f" ({rows['left_out']} left out: no chunks.jsonl record or measured WER)" if rows["left_out"] else "")
    print("\nneeds_review on chunks with errors (5-fold cross-validation for the refitted model):")
    print(f"  {'flags':<28}{'flagged':>8}{'precision':>11}{'recall':>8}")
    names = {"uploaded": "as uploaded", "shipped": "shipped model", "refitted": "refitted (held out)"}
    for key, name in names.items():
        m = found.metrics.get(key)
        cells = ("n/a",) * 3 if m is None else (m["flagged"], _share(m["precision"]), _share(m["recall"]))
        print(f"  {name:<28}{cells[0]:>8}{cells[1]:>11}{cells[2]:>8}")
    print(f"\nmodel: {path}\nuse it: preannotate run ... --set annotation.review_model={path}")
    return EXIT_OK


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _add_export(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--dest", help="dataset folder (overrides dataset.dir; default <output>/dataset)")
    parser.add_argument("--all-statuses", action="store_true", help="export every pulled item, not only Completed")
    parser.add_argument("--sample-rate", type=int, help="clip sample rate in Hz (overrides dataset.sample_rate)")
    parser.add_argument("--min-duration", type=float, help="shortest segment in seconds (dataset.min_duration)")
    parser.add_argument("--max-duration", type=float, help="longest segment in seconds (dataset.max_duration)")


def _export(args: argparse.Namespace) -> int:
    from .correction.dataset import export_from_config

    flags = {"dir": args.dest, "sample_rate": args.sample_rate, "min_duration": args.min_duration}
    flags.update(max_duration=args.max_duration, only_completed=False if args.all_statuses else None)
    extra = [f"dataset.{key}={value}" for key, value in flags.items() if value is not None]
    report = export_from_config(config_from_args(args, extra), input_dir=args.input)
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
    "upload": (_add_upload, _upload, "upload (again) the annotations of a finished run"),
    "pull": (_add_pull, _pull, "download the annotators' corrected annotations and statuses of a run"),
    "report": (_add_report, _report, "compare corrections with the drafts: tables, plots, report.html"),
    "calibrate": (_add_calibrate, _calibrate, "refit the review model on the pulled corrections of one or more runs"),
    "export": (_add_export, _export, "export the corrected dataset: audiofolder, NeMo manifest, segments CSV"),
    "batch": (_add_batch, _batch, "run a notebook with papermill over many parameter sets"),
}


def _setup_logging(level: int) -> None:
    levels = {-2: logging.ERROR, -1: logging.WARNING, 0: logging.INFO, 1: logging.DEBUG}
    logging.basicConfig(
        level=levels[max(-2, min(1, level))], format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
