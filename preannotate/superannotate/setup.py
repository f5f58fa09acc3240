"""Making the project ready: the Video project and the annotation classes the JSON refers to."""

from __future__ import annotations

from ..errors import UploadError
from .client import UploadSession
from .redact import get_logger

log = get_logger(__name__)


def ensure_classes(session: UploadSession, project: str, classes: list[dict]) -> list[str]:
    """Creates the classes the project lacks; checks that existing ones have every group and value.

    Args:
        session: A connected session.
        project: The project name.
        classes: Class definitions (name, color, type, attribute_groups with group_type and attributes).

    Returns:
        The names of the classes created.

    Raises:
        UploadError: An existing class of the same name lacks a group or value the annotations use
            (uploading would lose that text), or a call fails.
    """
    existing = {c["name"]: c for c in session.list_classes(project)}
    created, problems = [], []
    for definition in classes:
        present = existing.get(definition["name"])
        if present is None:
            session.create_class(project, definition)
            created.append(definition["name"])
            log.info("created class %r in project %r", definition["name"], project)
        else:
            problems.extend(class_mismatches(definition, present))
    if problems:
        raise UploadError(
            f"the classes of project {project!r} do not fit the annotations: {'; '.join(problems)}. "
            "Add what is missing in SuperAnnotate (project setup, classes; values missing from the speaker group are "
            "speakers this run found), or change the annotation.* options"
        )
    return created


def class_mismatches(wanted: dict, present: dict) -> list[str]:
    """What an existing class lacks compared with the definition (groups, group types, values)."""
    name = wanted["name"]
    groups = {g.get("name"): g for g in present.get("attribute_groups") or []}
    problems = []
    for group in wanted.get("attribute_groups") or []:
        have = groups.get(group["name"])
        if have is None:
            problems.append(f"class {name!r} has no attribute group {group['name']!r} ({group.get('group_type')})")
            continue
        if group.get("group_type") and have.get("group_type") and group["group_type"] != have["group_type"]:
            kind = f"{have['group_type']}, not {group['group_type']}"
            problems.append(f"attribute group {group['name']!r} of class {name!r} is {kind}")
        values = {a["name"] for a in group.get("attributes") or []} - {
            a.get("name") for a in have.get("attributes") or []
        }
        if values:
            problems.append(f"attribute group {group['name']!r} of class {name!r} lacks {', '.join(sorted(values))}")
    return problems
