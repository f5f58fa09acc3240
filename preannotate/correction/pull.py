"""`preannotate pull`: download the annotators' current annotations and statuses next to the run.

Writes, each file atomically and the index last::

    <output>/corrected/<item>.json   the annotation as SuperAnnotate holds it now
    <output>/pulled.json             what was pulled, when, from where, with each item's status
                                     or the reason it could not be pulled

Nothing in `corrected/` changes until every annotation of the pull is downloaded (into a hidden
staging folder inside it): a pull that SuperAnnotate fails half-way, or that is stopped, leaves the
previous pull's files and index as they were, each file with the status it was pulled in (an item whose
status moves while its batch is downloaded is left to the next pull: `_download`). A file it
replaces must be the last pull's own, unchanged (its SHA-256 in pulled.json): any other, a correction
made by hand since, is moved to `corrected-kept/` first (`pull_kept`). An item the project no longer
holds (or gives to another item of its name, playing other audio), or whose annotation SuperAnnotate no
longer gives, keeps its last pulled correction listed, marked `missing` (`pull_gone`); a damaged pulled.json
is kept beside the new one, and those corrections are recovered from `corrected/` (`pull_recovered`).

Only the run's own items are asked for (those in run.json that were transcribed): the
drafts to compare with exist for no others; an item of the same name that plays other audio than any
of the run's uploads, unconfirmed ones too, gave it (someone else's, which the upload kept) is not
pulled. Only from a project the run was uploaded to, and the one its last pull came from (see
`pull_project`): another project's same-named items are not its corrections.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import CorrectionError, CorrectionInputError, CredentialsError, UploadError
from ..lock import locked
from ..options import RunConfig, SuperAnnotateOptions
from ..storage import STALE_TEMP_S, raise_if_unwritable, read_json, write_json_atomic
from ..superannotate import Ledger, find_credentials
from ..superannotate.client import UploadSession, connect
from ..superannotate.credentials import SETUP_HINT
from ..superannotate.guard import read_annotations
from ..superannotate.plan import run_files
from ..superannotate.redact import redact
from ..superannotate.report import recorded_urls, utc_now
from ..superannotate.upload import retry_policy
from ..superannotate.urls import not_ours
from .pull_fields import CORRECTED_DIR, FORMAT, INTERRUPTED, PULLED_FILE, PulledItem, parse_index
from .pull_gone import NO_ANNOTATION, NOT_IN_PROJECT, keep_missing, kept_phrase, status_changed
from .pull_kept import file_sha256, keep_changed, stored_hashes, vouched_hash
from .pull_project import check_project, check_target, choose_project
from .pull_recovered import keep_original, read_last_pull, recovered, unvouched

log = logging.getLogger(__name__)

BATCH = 100  # items per download request
STAGING_PREFIX = ".pull-"  # corrected/.pull-<random>/ (mkdtemp): one pull's downloads until all are in
_STAGING_NAME = re.compile(re.escape(STAGING_PREFIX) + r"[a-z0-9_]{8}")  # tempfile's 8 random characters


@dataclass
class PullReport:
    """What one pull did: the content of pulled.json."""

    project: str
    target: str
    statuses: list[str] = field(default_factory=list)
    items: list[PulledItem] = field(default_factory=list)
    pulled_at: str = field(default_factory=utc_now)

    @property
    def pulled(self) -> list[str]:
        """Items whose annotation this pull stored."""
        return [i.item for i in self.items if _downloaded(i)]

    @property
    def corrections(self) -> list[str]:
        """Items whose correction the index lists: pulled now, or kept from an earlier pull (`missing`)."""
        return [i.item for i in self.items if i.file]

    @property
    def missing(self) -> dict[str, str]:
        """Item -> why SuperAnnotate no longer gives it, for the items whose earlier correction is kept."""
        return {i.item: i.missing for i in self.items if i.missing}

    @property
    def problems(self) -> dict[str, str]:
        """Item -> why it could not be pulled."""
        return {i.item: i.problem for i in self.items if i.problem}

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to pulled.json (`sha256_moving` only where set: other indexes stay as before)."""
        data = asdict(self)
        for item in data["items"]:
            if item["sha256_moving"] is None:
                del item["sha256_moving"]
        return {"format": FORMAT, **data}

    @classmethod
    def from_dict(cls, data: Any, source: str | Path = PULLED_FILE) -> PullReport:
        """Reads pulled.json's content, checking the type of every field.

        Args:
            data: The parsed JSON; None when the file is not valid JSON.
            source: The file it was read from, for the message.

        Raises:
            CorrectionInputError: It is not a pull index of this format (the message names the problem).
        """
        try:
            return cls(**parse_index(data))
        except ValueError as e:
            raise CorrectionInputError(
                f"{source} is not a pull index of format {FORMAT} ({e}): run `preannotate pull` to pull again"
            ) from None

    def describe(self) -> str:
        """The summary line, then one line per item that could not be pulled."""
        return "\n".join([self.summary_line(), *(f"  {item}: {why}" for item, why in self.problems.items())])

    def summary_line(self) -> str:
        """One line for people."""
        left_out = sum(not i.selected and not i.problem for i in self.items)  # a problem is counted once
        return (
            f"pulled {len(self.pulled)} annotation(s) from {self.project!r}, {kept_phrase(self.items)}"
            f"{left_out} left out by status, {len(self.problems)} with problems"
        )


def _downloaded(item: PulledItem) -> bool:
    """Whether this pull stored the item's annotation (a `missing` item's file is an earlier pull's)."""
    return item.file is not None and item.missing is None


def load_pull(output_dir: str | Path) -> PullReport:
    """Reads `<output>/pulled.json`.

    Raises:
        CorrectionInputError: There is none (nothing was pulled yet) or it is not a pull index.
    """
    path = Path(output_dir) / PULLED_FILE
    if not Path(output_dir).is_dir():  # calibrate reads runs without locking them
        raise CorrectionInputError("no such output folder: give the -o of a `preannotate run`")
    if not path.is_file():
        raise CorrectionInputError(f"{path} not found: run `preannotate pull` first")
    return PullReport.from_dict(read_json(path), path)


def open_session(options: SuperAnnotateOptions) -> UploadSession:
    """Connects with the token from the environment (see `find_credentials`).

    Raises:
        CredentialsError: There is no token or it is rejected.
        UploadError: SuperAnnotate cannot be reached.
    """
    credentials = find_credentials()
    if credentials is None:
        raise CredentialsError(f"pulling annotations needs a SuperAnnotate token: {SETUP_HINT}")
    return connect(credentials, retry_policy(options))


@locked("pull", existing=True)
def pull_from_config(config: RunConfig, session: UploadSession | None = None) -> PullReport:
    """`preannotate pull`: pulls the run in output.dir from superannotate.project.

    Args:
        config: The run configuration (output.dir, superannotate, correction.statuses).
        session: A connected session; one is opened from the environment's token when None.

    Returns:
        The pull's report, also written to `<output>/pulled.json`.
    """
    out = Path(config.output.dir)
    project = choose_project(config.superannotate.project, out, out / PULLED_FILE)
    check_project(project, out, out / PULLED_FILE)  # before asking for a token
    session = session or open_session(config.superannotate)
    return _pull(out, project, session, config.correction.statuses)


def pull_run(output_dir: str | Path, project: str, session: UploadSession, statuses: Sequence[str] = ()) -> PullReport:
    """Downloads the current annotations of the run's items and stores them with their statuses.

    Args:
        output_dir: The run's output folder (with run.json).
        project: The SuperAnnotate project the run was uploaded to.
        session: A connected session.
        statuses: Only items in these statuses are downloaded; all when empty.

    Returns:
        Per item: status and stored file, or why it was not pulled.

    Raises:
        CorrectionInputError: The run was not uploaded to the project, a previous pull came from another
            one (see `check_project`), or the project does not exist.
        CorrectionError: No run.json.
        UploadError, CredentialsError: SuperAnnotate failed or stopped accepting the token.
    """
    out = Path(output_dir)
    check_project(project, out, out / PULLED_FILE)
    return _pull(out, project, session, statuses)


def _pull(out: Path, project: str, session: UploadSession, statuses: Sequence[str]) -> PullReport:
    """`pull_run` once the project is checked."""
    target, ledger, last = session.target(project), Ledger.load(out), read_last_pull(out)
    check_target(target, project, ledger)
    files = _run_files(out)
    names = [f["item"] for f in files if not f["problem"]]
    if session.find_project(project) is None:
        raise CorrectionInputError(f"SuperAnnotate project {project!r} not found")
    report = PullReport(project, target, list(statuses))
    report.items.extend(PulledItem(f["item"], problem=f["problem"], selected=False) for f in files if f["problem"])
    listed, recorded, uploaded = session.listed_items(project, names), recorded_urls(out), ledger.urls()
    foreign: set[str] = set()  # items of our names that play other audio: someone else's, never our corrections
    for name in names:
        held = listed.get(name)
        entry = PulledItem(name, status=held.status if held else None)
        ours = [url for url in (*uploaded.get(name, []), recorded.get(name)) if url]  # unconfirmed sends' too
        entry.problem = not_ours(ours, held.url) if held else NOT_IN_PROJECT  # someone else's: no correction
        entry.selected = entry.problem is None and (not statuses or entry.status in statuses)
        if held and entry.problem:
            foreign.add(name)
        report.items.append(entry)
    wanted = [i for i in report.items if i.selected]
    with _staging(out / CORRECTED_DIR) as staging:
        for start in range(0, len(wanted), BATCH):
            _download(session, project, wanted[start : start + BATCH], staging)
        before = last.items
        if last.problem:  # a damaged index, kept aside, names no earlier correction: corrected/'s files stand in
            keep_original(out, last, report.pulled_at)
            before = recovered(out, report.items, foreign)
        keep_missing(out, report.items, before, statuses, report.pulled_at, foreign)
        _commit(out, staging, report, unvouched(last))
    log.info("%s", report.summary_line())
    return report


def _run_files(out: Path) -> list[dict[str, str]]:
    """The run's transcribed files, each item once: pulled.json lists no item twice."""
    try:
        files = [f for f in run_files(out) if f["status"] != "failed"]
    except UploadError as e:
        raise CorrectionError(str(e)) from e
    unique: dict[str, dict[str, str]] = {}
    for f in files:
        if f["item"] in unique:  # only an edited run.json repeats a name
            log.warning("run.json lists item %r twice: pulled once", f["item"])
        unique.setdefault(f["item"], f)
    return list(unique.values())


def _download(session: UploadSession, project: str, batch: list[PulledItem], staging: Path) -> None:
    """Stores the batch's annotations in `staging` as `<item>.json`, naming in each entry its final file.

    The batch's statuses are listed again after its download: an item whose status moved since the pull's
    listing (a Completed item reopened, its rework half done) may have been downloaded in either state, so it
    is not stored with the status listed first (`status_changed`; an earlier pull's file stays: `pull_gone`).
    """
    names = [i.item for i in batch]
    found = read_annotations(session, project, names)
    now = session.listed_items(project, names)
    for entry in batch:
        held, after = found.get(entry.item), now.get(entry.item)
        if after is None:  # deleted (or moved out) while pulled
            entry.problem = NOT_IN_PROJECT
            continue
        if after.status != entry.status:
            entry.problem = status_changed(entry.status, after.status)
            continue
        if held is None:
            entry.problem = NO_ANNOTATION
            continue
        write_json_atomic(staging / f"{entry.item}.json", _without_signature(held))
        entry.file = f"{CORRECTED_DIR}/{entry.item}.json"


def _without_signature(annotation: dict) -> dict:
    """The annotation with its item URL's signature masked (a presigned URL's): corrected files are kept."""
    metadata = annotation.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("url"), str):
        return annotation
    return {**annotation, "metadata": {**metadata, "url": redact(metadata["url"])}}


@contextlib.contextmanager
def _staging(corrected: Path) -> Iterator[Path]:
    """A new hidden folder in `corrected/` for one pull's downloads, removed when the pull ends.

    One left by a killed pull is removed by a later pull once an hour old (the folder may be shared
    by machines whose pulls this one cannot see).
    """
    try:
        corrected.mkdir(parents=True, exist_ok=True)
        for old in corrected.glob(f"{STAGING_PREFIX}*"):  # mkdtemp's names only: a `.pull-notes` is not one
            if _STAGING_NAME.fullmatch(old.name) and old.is_dir() and time.time() - old.stat().st_mtime > STALE_TEMP_S:
                shutil.rmtree(old, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=corrected))
    except OSError as e:
        raise_if_unwritable(e, corrected)
        raise
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _commit(out: Path, staging: Path, report: PullReport, unvouched: Sequence[str] = ()) -> None:
    """Moves the pull's downloads into `corrected/` and writes the index that lists them.

    While files are moved, the index lists the items being replaced as not pulled (INTERRUPTED):
    a stop even then leaves no file paired with a status it was not pulled in (export would
    publish an annotator's half-done rework of a Completed item as Completed). A file the last pull
    did not store as it is now (edited by hand, or not a pull's, as are the `unvouched` items' files recovered
    from a damaged index: `pull_recovered`) is kept aside first (`keep_changed`).
    """
    stored = stored_hashes(out)  # what vouches for the files now in corrected/, before a new index replaces it
    for name in unvouched:
        stored.pop(name, None)
    for entry in report.items:  # a file this pull does not replace stays, vouched for as before
        if _downloaded(entry):
            entry.sha256 = file_sha256(staging / f"{entry.item}.json")
        elif not entry.missing:  # a kept correction's hash is set (`keep_missing`): perhaps the file's, recovered
            entry.sha256 = _vouching(out, entry.item, stored)
    moving = [i for i in report.items if _downloaded(i)]
    if moving:
        # The files not yet replaced when a stop comes are still vouched for by their old hash. Written before
        # anything moves: an index that cannot be written (a full disk) leaves corrected/ as it was.
        interim = [
            replace(i, file=None, problem=INTERRUPTED, sha256=_vouching(out, i.item, stored), sha256_moving=i.sha256)
            if _downloaded(i)
            else i
            for i in report.items
        ]
        write_json_atomic(out / PULLED_FILE, replace(report, items=interim).to_dict())
    keep_changed(out, [i.item for i in moving], stored, report.pulled_at)
    for entry in moving:
        target = out / CORRECTED_DIR / f"{entry.item}.json"
        try:
            os.replace(staging / target.name, target)
        except OSError as e:
            raise_if_unwritable(e, target)
            raise
    write_json_atomic(out / PULLED_FILE, report.to_dict())


def _vouching(out: Path, item: str, stored: dict[str, tuple[str, ...]]) -> str | None:
    """The hash that vouches for the item's file in `corrected/` as it is now (`vouched_hash`)."""
    return vouched_hash(out / CORRECTED_DIR / f"{item}.json", stored.get(item, ()))
