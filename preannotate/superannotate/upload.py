"""The upload stage: preflight before transcription, then project setup, attaching, bulk upload.

The pipeline's order of calls: `preflight(config.superannotate)` before any transcription (it
fails fast on a bad token), then, once `<output>/superannotate/<item>.json` are written,
`upload_run(...)`, and the report's `to_dict()` goes under `upload` in run.json.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, CredentialsError, UploadError
from ..options import AnnotationOptions, RunConfig, SuperAnnotateOptions
from .client import UploadSession, connect
from .credentials import SETUP_HINT, find_credentials
from .ledger import Ledger
from .plan import PlannedItem, plan_items, run_files
from .redact import get_logger, redact
from .report import DRY_RUN, UNCHANGED, UploadReport, utc_now, write_upload_record
from .retry import RetryPolicy
from .setup import ensure_classes
from .urls import UrlMap
from .validate import annotation_essentials

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
        ConfigError: No project is named.
        UploadError: SuperAnnotate cannot be reached, or the project is not a Video project.
    """
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


def class_definitions(annotation: AnnotationOptions) -> list[dict]:
    """The annotation classes (with attribute groups) the exported JSON uses."""
    from ..exports import annotation_classes

    return annotation_classes(annotation)


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
        input_dir: The dataset folder (CSV paths and URL prefixes are relative to it).
        session: From `preflight`; None checks everything and uploads nothing.
        force: Upload items even when the ledger records the same content (also options.force_upload).
        classes: Class definitions; `preannotate.exports.annotation_classes(annotation)` when None.
        files: The run's files (item, source, status); `<output>/run.json`'s list when None.

    Returns:
        Per-item outcomes; items already uploaded unchanged are `skipped`.

    Raises:
        ConfigError: The URL CSV is unreadable or inconsistent.
        UploadError: No run.json, project or class setup failed, or SuperAnnotate is unreachable.
        CredentialsError: The token stopped being accepted.
    """
    if session is not None and not options.project:
        raise ConfigError("superannotate.project must name the Video project to upload to")
    output_dir = Path(output_dir)
    classes = class_definitions(annotation) if classes is None else classes
    urls = UrlMap.from_options(options.url_csv, options.url_prefix, Path(input_dir))
    planned = plan_items(output_dir, run_files(output_dir, files), urls, classes)
    report = UploadReport(options.project, dry_run=session is None)
    ready = [p for p in planned if p.status is None]
    for p in planned:
        if p.status is not None:
            report.add(p.item, p.source, p.status, p.reason, p.url)  # type: ignore[arg-type]
    if session is None:
        _dry_run(ready, report)
    else:
        _upload(session, options, classes, ready, report, output_dir, force or options.force_upload)
    report.finished_at = utc_now()
    log.info("SuperAnnotate: %s", report.summary_line())
    return report


def _dry_run(ready: list[PlannedItem], report: UploadReport) -> None:
    log.info("%s (%d annotation file(s) checked)", DRY_RUN_MESSAGE, len(ready))
    for p in ready:
        reason = DRY_RUN if p.url else f"{DRY_RUN}; no URL known (needed unless the item is already in the project)"
        report.add(p.item, p.source, "skipped", reason, p.url)


_NO_URL = "no URL: not in the project, and neither url_csv nor url_prefix gives one"


def _upload(
    session: UploadSession,
    options: SuperAnnotateOptions,
    classes: list[dict],
    ready: list[PlannedItem],
    report: UploadReport,
    output_dir: Path,
    force: bool,
) -> None:
    ledger = Ledger.load(output_dir)
    report.target = target = session.target(options.project)
    todo = []
    for p in ready:
        if not force and ledger.is_current(target, p.item, p.sha256 or ""):
            report.add(p.item, p.source, "skipped", UNCHANGED, p.url)
        else:
            todo.append(p)
    if not todo:
        return
    _, report.created_project = session.ensure_project(options.project, options.project_description)
    report.created_classes = ensure_classes(session, options.project, classes)
    uploadable = _attach(session, options.project, todo, report)
    meta = {"host": session.host, "team_id": session.team_id, "project": options.project}
    size = options.batch_size
    for batch in (uploadable[i : i + size] for i in range(0, len(uploadable), size)):
        outcomes = _upload_batch(session, options.project, batch, options.verify_upload)
        for p in batch:
            if outcomes[p.item] is None:
                ledger.record(target, meta, p.item, p.annotation or {}, p.file)
        ledger.save()  # after every batch, so an interrupted run resumes with the rest
        _set_status(session, options, [p.item for p in batch if outcomes[p.item] is None], report)
        for p in batch:
            reason = outcomes[p.item]
            report.add(p.item, p.source, "succeeded" if reason is None else "failed", reason, p.url)


def _attach(session: UploadSession, project: str, todo: list[PlannedItem], report: UploadReport) -> list[PlannedItem]:
    """Attaches items missing from the project; returns those that are in it afterwards."""
    present = set(session.existing_items(project, [p.item for p in todo]))
    missing = [p for p in todo if p.item not in present]
    for p in missing:
        if not p.url:
            report.add(p.item, p.source, "skipped", _NO_URL)
    wanted = [{"name": p.item, "url": p.url} for p in missing if p.url]
    if wanted:
        attached, _, duplicated = session.attach(project, wanted)
        report.attached = list(attached)
        present |= set(attached) | set(duplicated)
        for p in missing:
            if p.url and p.item not in present:
                report.add(p.item, p.source, "failed", f"attaching {p.url} failed", p.url)
        log.info("attached %d item(s) by URL to %r", len(attached), project)
    return [p for p in todo if p.item in present]


def _upload_batch(
    session: UploadSession, project: str, batch: list[PlannedItem], verify: bool
) -> dict[str, str | None]:
    """Uploads a batch, retrying the items SuperAnnotate reports failed; item -> None or failure reason."""
    pending = {p.item: p for p in batch}
    outcome: dict[str, str | None] = {}
    delays = session.policy.delays()
    while pending:
        try:
            result = session.upload(project, [p.annotation for p in pending.values()])
        except UploadError as e:
            outcome.update(dict.fromkeys(pending, redact(str(e))))
            break
        done = [n for n in result.get("succeeded", []) if n in pending]
        if verify and done:
            done = _verified(session, project, [pending[n] for n in done])
        for name in done:
            outcome[name] = None
            del pending[name]
        for name in result.get("skipped", []):
            outcome[name] = "SuperAnnotate did not find the item"
            pending.pop(name, None)
        delay = next(delays, None) if pending else None
        if pending and delay is None:
            outcome.update(dict.fromkeys(pending, "not uploaded: SuperAnnotate failed on every attempt"))
            break
        if pending:
            log.warning("%d annotation(s) not uploaded; retrying in %.1f s", len(pending), delay)
            session.policy.sleep(delay)  # type: ignore[arg-type]
    return outcome


def _verified(session: UploadSession, project: str, items: list[PlannedItem]) -> list[str]:
    """The items whose annotation SuperAnnotate now holds as sent.

    Why: superannotate 4.6.2 retries a dropped upload with an empty body and still reports the
    items as succeeded; reading them back is the only way to know.
    """
    try:
        held = {a["metadata"]["name"]: a for a in session.get_annotations(project, [p.item for p in items])}
    except UploadError as e:
        log.warning("cannot read uploaded annotations back (%s); uploading them again", e)
        return []
    ok = [p.item for p in items if annotation_essentials(held.get(p.item)) == annotation_essentials(p.annotation)]
    if len(ok) < len(items):
        log.warning("%d annotation(s) reported uploaded are not on SuperAnnotate", len(items) - len(ok))
    return ok


def _set_status(session: UploadSession, options: SuperAnnotateOptions, names: list[str], report: UploadReport) -> None:
    if options.keep_status or not names:
        return
    try:
        session.set_status(options.project, options.status, names)
    except UploadError as e:
        report.warnings.append(f"status {options.status} not set on {len(names)} item(s): {e}")
        log.warning("%s", report.warnings[-1])


def upload_from_config(config: RunConfig, force: bool = False) -> UploadReport:
    """`preannotate upload`: uploads an existing run's output, and records the outcome in its run.json.

    Args:
        config: The run configuration (output.dir, input.dir, annotation, superannotate).
        force: Re-upload unchanged items too (`--force-upload`).

    Returns:
        The upload report (also written under `upload` in run.json).
    """
    session = preflight(config.superannotate)
    out = Path(config.output.dir)
    report = upload_run(out, config.superannotate, config.annotation, Path(config.input.dir), session, force)
    write_upload_record(out, report)
    return report
