"""The upload stage: preflight before transcription, then project setup, attaching, bulk upload.

The pipeline's order of calls: `preflight(config.superannotate)` before any transcription (it
fails fast on a bad token), then, once `<output>/superannotate/<item>.json` are written,
`upload_run(...)`, and the report's `to_dict()` goes under `upload` in run.json.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, CredentialsError, UploadError, UploadInputError
from ..journal import stopped_before_exports
from ..lock import locked
from ..options import AnnotationOptions, RunConfig, SuperAnnotateOptions
from .client import UploadSession, connect
from .credentials import SETUP_HINT, find_credentials
from .guard import HumanEdit, backup_folder, changed_since, find_human_edits, write_backups
from .ledger import Ledger
from .metadata import run_records, send_for_run, withhold_from_unchanged
from .plan import PlannedItem, as_attached, group_values, plan_items, recorded_audio, run_files
from .redact import get_logger
from .report import DRY_RUN, UploadReport, utc_now, write_upload_record
from .retry import RetryPolicy
from .send import send_batches
from .setup import ensure_classes
from .unchanged import list_unchanged, report_unchanged
from .urls import UrlMap, without_query

log = get_logger(__name__)
DRY_RUN_MESSAGE = "dry run: nothing will be uploaded"


def retry_policy(options: SuperAnnotateOptions) -> RetryPolicy:
    """The retry policy the options ask for."""
    return RetryPolicy(options.max_attempts, options.backoff_seconds)


def preflight(options: SuperAnnotateOptions, policy: RetryPolicy | None = None) -> UploadSession | None:
    """Checks credentials and the project before any work starts; call it before transcribing.

    Args:
        options: The superannotate section of the configuration.
        policy: Retries for transient failures; from the options when None.

    Returns:
        A connected session, or None for a dry run (dry_run true, or no token with dry_run unset).

    Raises:
        CredentialsError: The token is malformed or rejected, or dry_run is false and there is no token.
        ConfigError: No project is named, or the URL CSV is unreadable or names a URL that cannot be
            attached (not http(s), and no storage integration named); checked in dry runs too.
        UploadError: SuperAnnotate cannot be reached, or the project is not a Video project.
    """
    UrlMap.from_options(options.url_csv, options.url_prefix, None, options.integration)  # fails before any work
    if options.dry_run:
        _warn_if_token_malformed()
        log.info(DRY_RUN_MESSAGE)
        return None
    credentials = find_credentials()
    if credentials is None:
        if options.dry_run is False:
            raise CredentialsError(f"superannotate.dry_run is false but no SuperAnnotate token was found: {SETUP_HINT}")
        log.warning("no SuperAnnotate token found (SA_TOKEN); %s", DRY_RUN_MESSAGE)
        return None
    if not options.project:
        raise ConfigError("superannotate.project must name the Video project to upload to (or set dry_run: true)")
    session = connect(credentials, policy or retry_policy(options))
    session.check_project(options.project)
    log.info("SuperAnnotate token from %s accepted; uploading to project %r", credentials.source, options.project)
    return session


def _warn_if_token_malformed() -> None:
    try:
        find_credentials()
    except CredentialsError as e:
        log.warning("%s (ignored in a dry run)", e)


def class_definitions(annotation: AnnotationOptions, speakers: Iterable[str] = ()) -> list[dict]:
    """The annotation classes (with attribute groups) the exported JSON uses, for a run with these speakers."""
    from ..exports import annotation_classes

    return annotation_classes(annotation, speakers)


def upload_run(
    output_dir: str | Path,
    options: SuperAnnotateOptions,
    annotation: AnnotationOptions,
    input_dir: str | Path,
    session: UploadSession | None,
    force: bool = False,
    *,
    classes: list[dict] | None = None,
    files: Sequence[Any] | None = None,
) -> UploadReport:
    """Uploads a run's `<output>/superannotate/<item>.json` files; with no session, a dry run.

    Args:
        output_dir: The run's output folder.
        options: The superannotate section of the configuration.
        annotation: The annotation section (class and group names).
        input_dir: The dataset folder (CSV paths and URL prefixes are relative to it), or bucket URL.
        session: From `preflight`; None checks everything and uploads nothing.
        force: Upload items even when the ledger records the same content (also options.force_upload);
            items people have worked on are still kept unless options.overwrite_human_edits.
        classes: Class definitions; when None, `preannotate.exports.annotation_classes(annotation, speakers)`
            with the speakers the run's annotation files carry.
        files: The run's files (item, source, status); `<output>/run.json`'s list when None.

    Returns:
        Per-item outcomes; items already uploaded unchanged, and items people have worked on on
        SuperAnnotate (see `guard`), are `skipped` with the reason.

    Raises:
        ConfigError: The URL CSV is unreadable or inconsistent.
        UploadError: No run.json, project or class setup failed, or SuperAnnotate is unreachable.
        CredentialsError: The token stopped being accepted.
    """
    if session is not None and not options.project:
        raise ConfigError("superannotate.project must name the Video project to upload to")
    output_dir = Path(output_dir)
    listed = run_files(output_dir, files)
    if classes is None:
        classes = class_definitions(annotation, group_values(output_dir, listed, annotation.speaker_group))
    urls = UrlMap.for_run(options, input_dir)
    planned = plan_items(output_dir, listed, urls, classes)
    report = UploadReport(options.project, dry_run=session is None)
    ready = [p for p in planned if p.status is None]
    for p in planned:
        if p.status is not None:
            report.add(p.item, p.source, p.status, p.reason, p.url)  # type: ignore[arg-type]
    if session is None:
        _dry_run(ready, report)
    else:
        _upload(session, options, classes, ready, report, output_dir, force or options.force_upload)
    send_for_run(session, options, report, run_records(output_dir, files), [p.item for p in ready])
    report.finished_at = utc_now()
    if report.kept_human_edits:
        names = ", ".join(report.kept_human_edits[:10]) + (" ..." if len(report.kept_human_edits) > 10 else "")
        log.warning("not uploaded, people have worked on them: %s (see run.json for why)", names)
    log.info("SuperAnnotate: %s", report.summary_line())
    return report


def _dry_run(ready: list[PlannedItem], report: UploadReport) -> None:
    log.info("%s (%d annotation file(s) checked)", DRY_RUN_MESSAGE, len(ready))
    for p in ready:
        reason = DRY_RUN if p.url else f"{DRY_RUN}; no URL known (needed unless the item is already in the project)"
        report.add(p.item, p.source, "skipped", reason, p.url)


_NO_URL = "no URL: not in the project, and neither url_csv nor url_prefix gives one"
_KEEP_HINT = "kept; --overwrite-human-edits replaces it (after a backup)"
_FOREIGN_HINT = "kept (never overwritten); rename this run's file or remove that item to upload it"
_UNCHECKED = "not uploaded: SuperAnnotate could not be read to check for people's work just before sending"
_UNSAVED_HINT = "SuperAnnotate did not return its annotation, so it could not be backed up first: kept"


def _upload(
    session: UploadSession,
    options: SuperAnnotateOptions,
    classes: list[dict],
    ready: list[PlannedItem],
    report: UploadReport,
    output_dir: Path,
    force: bool,
) -> None:
    ledger = _load_ledger(output_dir, report)
    report.target = target = session.target(options.project)
    todo, unchanged = _changed(ready, ledger, target, force)
    found = list_unchanged(session, options, unchanged, ledger, target)  # removed from the project since?
    report_unchanged(report, unchanged, found)
    todo += found.again
    for p in todo:  # a transcript read per item sent, none per item unchanged
        p.audio = recorded_audio(output_dir, p.item)
    own_status = None if options.keep_status else options.status  # the status its own uploads give items
    staying = [p for p in unchanged if p not in found.again]
    withhold_from_unchanged(options, staying, found.listed, ledger, own_status, report)
    if not todo:
        return
    _, report.created_project = session.ensure_project(options.project, options.project_description)
    report.created_classes = ensure_classes(session, options.project, classes)
    # Statuses and annotations are read before anything is written: the server, not the ledger, knows
    # whether someone worked on an item (a new output folder has no ledger at all).
    listed, seen = session.listed_items(options.project, [p.item for p in todo]), dict[str, tuple]()
    edits = find_human_edits(
        session, options.project, todo, listed, ledger, target, options.overwrite_human_edits, own_status, seen
    )
    todo, notes = _spare_human_work(options, todo, edits, report, output_dir)
    uploadable = as_attached(_attach(session, options.project, todo, set(listed), report), listed)
    check = functools.partial(_recheck, session, options, seen, report, output_dir, notes)
    send_batches(session, options, uploadable, ledger, report, notes, check)
    if notes:
        report.overwritten_human_edits = [n for n in report.succeeded if n in notes]


def _recheck(
    session: UploadSession,
    options: SuperAnnotateOptions,
    seen: dict[str, tuple],
    report: UploadReport,
    output_dir: Path,
    notes: dict[str, str],
    batch: list[PlannedItem],
) -> list[PlannedItem]:
    """The batch's items still free to upload, read again from SuperAnnotate just before the batch is sent.

    Why: an upload of thousands of items takes minutes to hours, and the items it attached are open to
    annotators from the start; work saved meanwhile (or an item of the name someone else attached after the
    first listing) must be kept as work found before the first batch is (`guard.changed_since`). Those are
    kept, or with overwrite_human_edits backed up first (their notes added to `notes`); a batch that cannot be
    read is not sent.
    """
    try:
        edits = changed_since(session, options.project, batch, seen)
    except UploadError as e:
        for p in batch:
            report.add(p.item, p.source, "failed", f"{_UNCHECKED}: {e}", p.url)
        return []
    sending, more = _spare_human_work(options, batch, edits, report, output_dir)
    notes.update(more)
    return sending


def _load_ledger(output_dir: Path, report: UploadReport) -> Ledger:
    ledger = Ledger.load(output_dir)
    for problem in ledger.problems:  # a broken record costs its items their ledger entry, never the run
        report.warnings.append(problem)
        log.warning("%s", problem)
    return ledger


def _changed(
    ready: list[PlannedItem], ledger: Ledger, target: str, force: bool
) -> tuple[list[PlannedItem], list[PlannedItem]]:
    """The items to upload (all with force, else those the ledger does not record as on the target), and the rest."""
    todo: list[PlannedItem] = []
    unchanged: list[PlannedItem] = []
    for p in ready:
        (unchanged if not force and ledger.is_current(target, p.item, p.sha256 or "") else todo).append(p)
    return todo, unchanged


def _spare_human_work(
    options: SuperAnnotateOptions,
    todo: list[PlannedItem],
    edits: dict[str, HumanEdit],
    report: UploadReport,
    output_dir: Path,
) -> tuple[list[PlannedItem], dict[str, str]]:
    """Skips human-touched items, or (overwrite_human_edits) backs them up; returns what to upload and notes."""
    todo, edits = _keep(todo, edits, report, lambda e: e.foreign, _FOREIGN_HINT)
    if not edits:
        return todo, {}
    if not options.overwrite_human_edits:
        return _keep(todo, edits, report, lambda e: True, _KEEP_HINT)[0], {}
    # An item whose annotation SuperAnnotate did not return cannot be backed up: replacing it could lose work.
    todo, edits = _keep(todo, edits, report, lambda e: e.annotation is None, _UNSAVED_HINT)
    if not edits:
        return todo, {}
    folder = output_dir / report.backups if report.backups else backup_folder(output_dir)
    write_backups(folder, options.project, list(edits.values()))  # before any upload can replace them
    report.backups = folder.relative_to(output_dir).as_posix()
    notes = {n: f"{e.reason}; overwritten, backup in {report.backups}/{n}.json" for n, e in edits.items()}
    return todo, notes


def _keep(
    todo: list[PlannedItem],
    edits: dict[str, HumanEdit],
    report: UploadReport,
    which: Callable[[HumanEdit], bool],
    hint: str,
) -> tuple[list[PlannedItem], dict[str, HumanEdit]]:
    """Skips the human-edited items `which` selects, reporting them kept with `hint`.

    Returns:
        The items left to upload, and the human edits among them.
    """
    kept = {name for name, e in edits.items() if which(e)}
    for p in todo:
        if p.item in kept:
            report.add(p.item, p.source, "skipped", f"{edits[p.item].reason}; {hint}", p.url)
            report.kept_human_edits.append(p.item)
    return [p for p in todo if p.item not in kept], {n: e for n, e in edits.items() if n not in kept}


def _attach(
    session: UploadSession,
    project: str,
    todo: list[PlannedItem],
    present: set[str],
    report: UploadReport,
) -> list[PlannedItem]:
    """Attaches items missing from the project (`present`: those in it); returns those in it afterwards."""
    missing = [p for p in todo if p.item not in present]
    for p in missing:
        if not p.url:
            report.add(p.item, p.source, "skipped", _NO_URL)
    wanted = [_attachment(p) for p in missing if p.url]
    if wanted:
        attached, _, duplicated = session.attach(project, wanted)
        report.attached = list(attached)
        present = present | set(attached) | set(duplicated)
        for p in missing:
            if p.url and p.item not in present:
                report.add(p.item, p.source, "failed", _attach_failure(p), p.url)
        log.info("attached %d item(s) by URL to %r", len(attached), project)
    return [p for p in todo if p.item in present]


def _attachment(p: PlannedItem) -> dict[str, str]:
    attachment = {"name": p.item, "url": p.url or ""}
    if p.integration:
        attachment["integration"] = p.integration
    return attachment


def _attach_failure(p: PlannedItem) -> str:
    url = without_query(p.url or "")  # a presigned URL's signature stays out of the record
    if not p.integration:
        return f"attaching {url} failed"
    return (
        f"attaching {url} through integration {p.integration!r} failed (SuperAnnotate attaches by URL only "
        "through a custom storage integration of that name in the team)"
    )


@locked("upload", existing=True)
def upload_from_config(config: RunConfig, force: bool = False) -> UploadReport:
    """`preannotate upload`: uploads an existing run's output, and records the outcome in its run.json.

    Args:
        config: The run configuration (output.dir, input.dir, annotation, superannotate).
        force: Re-upload unchanged items too (`--force-upload`).

    Returns:
        The upload report (also written under `upload` in run.json).
    """
    out = Path(config.output.dir)
    if stopped_before_exports(out):
        raise UploadInputError(
            f"{out}: its last run stopped before it wrote its exports, so superannotate/ may hold drafts of "
            "transcripts made before it: nothing was uploaded. Run `preannotate run` again on the same input "
            "(it resumes where it stopped), then upload"
        )
    session = preflight(config.superannotate)
    report = upload_run(out, config.superannotate, config.annotation, config.input.dir, session, force)
    write_upload_record(out, report)
    return report
