"""Which SuperAnnotate project a run may be pulled from: one its uploads went to, and the one of its last pull.

Another project can hold items of the same names. Pulling this run from it would replace the
annotators' corrections in `corrected/` with someone else's annotations, which `export` would then
publish, so such a pull is refused before anything is downloaded.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import CorrectionInputError
from ..storage import read_json
from ..superannotate import LEDGER_FILE, Ledger

CHOOSE = "choose one with --set superannotate.project=NAME (in a notebook, its `project` parameter)"


def uploaded_projects(output_dir: Path) -> list[str]:
    """The projects the run's upload ledger names, sorted; none for a run uploaded by hand or another tool."""
    targets = Ledger.load(output_dir).data["targets"].values()
    return sorted({t["project"] for t in targets if isinstance(t.get("project"), str) and t["project"]})


def previous_project(pulled_file: Path) -> str | None:
    """The project the last pull came from, or None.

    Read leniently: a damaged index must not block the pull that rewrites it.
    """
    data = read_json(pulled_file)
    project = data.get("project") if isinstance(data, dict) else None
    return project if isinstance(project, str) and project else None


def choose_project(configured: str | None, output_dir: Path, pulled_file: Path) -> str:
    """The configured project, else the only one the upload ledger names, else the last pull's.

    Raises:
        CorrectionInputError: None of them names exactly one project.
    """
    if configured:
        return configured
    uploaded = uploaded_projects(output_dir)
    if len(uploaded) == 1:
        return uploaded[0]
    if uploaded:
        raise CorrectionInputError(
            f"superannotate.project must name the project to pull from: the upload ledger names "
            f"{len(uploaded)}, {_listed(uploaded)}; {CHOOSE}"
        )
    previous = previous_project(pulled_file)
    if previous:
        return previous
    damaged = f", and {pulled_file} names none: it is damaged" if pulled_file.exists() else ""
    raise CorrectionInputError(
        f"superannotate.project must name the project to pull from (the upload ledger names none{damaged}); {CHOOSE}"
    )


def check_project(project: str, output_dir: Path, pulled_file: Path) -> None:
    """Refuses a project the run was not uploaded to, or other than the one its last pull came from.

    A run whose ledger names no project (uploaded by hand or by another tool) may be pulled from any
    project the first time.

    Raises:
        CorrectionInputError: The project is not one of the ledger's, or not the last pull's.
    """
    uploaded = uploaded_projects(output_dir)
    if uploaded and project not in uploaded:
        hint = f"give superannotate.project={uploaded[0]}" if len(uploaded) == 1 else CHOOSE
        raise CorrectionInputError(
            f"refusing to pull from {project!r}: this run was uploaded to {_listed(uploaded)} "
            f"(per {output_dir / LEDGER_FILE}), and another project's items of the same names are not its "
            f"corrections; {hint}"
        )
    previous = previous_project(pulled_file)
    if previous is not None and previous != project:
        raise CorrectionInputError(
            f"refusing to pull from {project!r}: {pulled_file} and corrected/ hold the corrections pulled "
            f"from {previous!r}, which this pull would replace; pull from {previous!r}, or move "
            f"{pulled_file.name} and corrected/ aside to start over from {project!r}"
        )


def check_target(target: str, project: str, ledger: Ledger) -> None:
    """Refuses the project of the run's name on a server or team its uploads did not go to.

    Project names are unique within a team only: another team, or another SuperAnnotate host, can hold
    a project of the same name with items of the same names.

    Args:
        target: The session's ledger key of the project (host, team and name; `UploadSession.target`).
        project: The project name.
        ledger: The run's upload ledger.

    Raises:
        CorrectionInputError: The ledger records uploads to a project of this name, none of them at `target`.
    """
    targets = ledger.data["targets"]
    uploaded = sorted(key for key, t in targets.items() if t.get("project") == project)
    if uploaded and target not in uploaded:
        raise CorrectionInputError(
            f"refusing to pull from {project!r} at {target}: this run was uploaded to the project of that name "
            f"at {', '.join(uploaded)} (another SuperAnnotate host or team); use that team's token (SA_TOKEN) "
            "and host (SA_URL)"
        )


def _listed(projects: list[str]) -> str:
    return ", ".join(repr(p) for p in projects)
