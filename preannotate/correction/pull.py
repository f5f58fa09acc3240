"""`preannotate pull`: download the annotators' current annotations and statuses next to the run.

Writes, each file atomically and the index last::

    <output>/corrected/<item>.json   the annotation as SuperAnnotate holds it now
    <output>/pulled.json             what was pulled, when, from where, with each item's status
                                     or the reason it could not be pulled

Only the run's own items are asked for (those in run.json that were transcribed): the
drafts to compare with exist for no others.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CorrectionError, CorrectionInputError, CredentialsError, UploadError
from ..lock import locked
from ..naming import plain_item_problem
from ..options import RunConfig, SuperAnnotateOptions
from ..storage import read_json, write_json_atomic
from ..superannotate import Ledger, find_credentials
from ..superannotate.client import UploadSession, connect
from ..superannotate.credentials import SETUP_HINT
from ..superannotate.plan import run_files
from ..superannotate.report import utc_now
from ..superannotate.upload import retry_policy

log = logging.getLogger(__name__)

CORRECTED_DIR = "corrected"
PULLED_FILE = "pulled.json"
FORMAT = 1
BATCH = 100  # items per download request
NOT_IN_PROJECT = "no longer in the SuperAnnotate project"
NO_ANNOTATION = "SuperAnnotate holds no annotation for it"


@dataclass
class PulledItem:
    """One item's pull.

    Attributes:
        item: The item name.
        status: Its SuperAnnotate status, when it is in the project.
        file: The stored annotation, relative to the output folder; None when not pulled.
        problem: Why it was not pulled; None when it was, or when the status filter left it out.
        selected: False when the status filter left it out.
    """

    item: str
    status: str | None = None
    file: str | None = None
    problem: str | None = None
    selected: bool = True


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
        """Items whose annotation was stored."""
        return [i.item for i in self.items if i.file]

    @property
    def problems(self) -> dict[str, str]:
        """Item -> why it could not be pulled."""
        return {i.item: i.problem for i in self.items if i.problem}

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to pulled.json."""
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_dict(cls, data: Any) -> PullReport:
        """Reads pulled.json's content.

        Raises:
            CorrectionError: It is not a pull index of this format.
        """
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("items"), list):
            raise CorrectionError(f"{PULLED_FILE} is not a pull index of format {FORMAT}: run `preannotate pull`")
        items = [_pulled_item(i) for i in data["items"]]
        fields = {k: data[k] for k in ("project", "target", "statuses", "pulled_at")}
        return cls(**fields, items=items)

    def describe(self) -> str:
        """The summary line, then one line per item that could not be pulled."""
        return "\n".join([self.summary_line(), *(f"  {item}: {why}" for item, why in self.problems.items())])

    def summary_line(self) -> str:
        """One line for people."""
        left_out = sum(not i.selected for i in self.items)
        return (
            f"pulled {len(self.pulled)} annotation(s) from {self.project!r}, {left_out} left out by status, "
            f"{len(self.problems)} with problems"
        )


def _pulled_item(data: Any) -> PulledItem:
    """One item of pulled.json; a name that is not plain, or a file not its `corrected/<item>.json`, is a problem.

    pulled.json may have been edited: what it names is read back, so nothing outside the
    output folder may be reached through it.
    """
    if not isinstance(data, dict) or "item" not in data or not set(data) <= set(PulledItem.__dataclass_fields__):
        raise CorrectionError(f"{PULLED_FILE} is not a pull index of format {FORMAT}: run `preannotate pull`")
    item = PulledItem(**data)
    problem = plain_item_problem(item.item)
    if not problem and item.file is not None and item.file != f"{CORRECTED_DIR}/{item.item}.json":
        problem = f"its file {item.file!r} is not {CORRECTED_DIR}/{item.item}.json"
    if problem:
        item = PulledItem(str(item.item), item.status, None, item.problem or f"{PULLED_FILE} {problem}", False)
    return item


def load_pull(output_dir: str | Path) -> PullReport:
    """Reads `<output>/pulled.json`.

    Raises:
        CorrectionError: There is none (nothing was pulled yet) or it is not a pull index.
    """
    path = Path(output_dir) / PULLED_FILE
    if not Path(output_dir).is_dir():  # calibrate reads runs without locking them
        raise CorrectionInputError("no such output folder: give the -o of a `preannotate run`")
    if not path.is_file():
        raise CorrectionInputError(f"{path} not found: run `preannotate pull` first")
    return PullReport.from_dict(read_json(path))


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


def project_name(options: SuperAnnotateOptions, output_dir: Path) -> str:
    """The configured project, else the only project the run's upload ledger names.

    Raises:
        CorrectionError: Neither names exactly one project.
    """
    if options.project:
        return options.project
    projects = {t.get("project") for t in Ledger.load(output_dir).data["targets"].values()}
    if len(projects) == 1:
        return str(projects.pop())
    raise CorrectionError("superannotate.project must name the project to pull from (the upload ledger names none)")


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
    project = project_name(config.superannotate, out)
    session = session or open_session(config.superannotate)
    return pull_run(out, project, session, config.correction.statuses)


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
        CorrectionError: No run.json, or the project does not exist.
        UploadError, CredentialsError: SuperAnnotate failed or stopped accepting the token.
    """
    out = Path(output_dir)
    try:
        files = [f for f in run_files(out) if f["status"] != "failed"]
    except UploadError as e:
        raise CorrectionError(str(e)) from e
    names = [f["item"] for f in files if not f["problem"]]
    if session.find_project(project) is None:
        raise CorrectionError(f"SuperAnnotate project {project!r} not found")
    report = PullReport(project, session.target(project), list(statuses))
    report.items.extend(PulledItem(f["item"], problem=f["problem"], selected=False) for f in files if f["problem"])
    held = session.existing_items(project, names)
    for name in names:
        entry = PulledItem(name, status=held.get(name))
        entry.problem = NOT_IN_PROJECT if name not in held else None
        entry.selected = name in held and (not statuses or held[name] in statuses)
        report.items.append(entry)
    wanted = [i for i in report.items if i.selected]
    for start in range(0, len(wanted), BATCH):
        _download(session, project, wanted[start : start + BATCH], out)
    write_json_atomic(out / PULLED_FILE, report.to_dict())
    log.info("%s", report.summary_line())
    return report


def _download(session: UploadSession, project: str, batch: list[PulledItem], out: Path) -> None:
    found = {}
    for annotation in session.get_annotations(project, [i.item for i in batch]):
        name = annotation.get("metadata", {}).get("name") if isinstance(annotation, dict) else None
        found[name] = annotation
    for entry in batch:
        held = found.get(entry.item)
        if held is None:
            entry.problem = NO_ANNOTATION
            continue
        path = Path(CORRECTED_DIR) / f"{entry.item}.json"
        write_json_atomic(out / path, held)
        entry.file = path.as_posix()
