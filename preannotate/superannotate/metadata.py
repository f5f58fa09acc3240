"""Priority scores and item custom fields: which items annotators get first, what managers filter by.

Both come from the run's file records (`predicted_wer`, `duration`, `language`, `doubtful_share`), which
older runs lack: whatever is unknown is left out, with one warning. SuperAnnotate serves items with a
higher priority score first; the SDK clamps scores to [0, 1_000_000] and keeps five decimals, so scores
here are a percentage with three.

Why higher is first: the SDK (4.6.2, `services/project.py`) sends a priority score as the item's
`entropy_value` (`images/updateEntropy`); SuperAnnotate's docs call priority scores the active learning
feature that picks "the items that you need to annotate first", and say annotators who request tasks get
them "by priority score" (doc.superannotate.com/docs/data-entropy-values); its active learning article
(superannotate.com/blog/active-learning-classification-models, Fig. 1) sorts by these entropy values and
assigns "the images for annotation with the highest uncertainty". So `doubtful_first` gives the highest
predicted WER the highest score, and `easy_first` the lowest WER. tests/sa_metadata.py `served_order` models it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from ..errors import CredentialsError, UploadError
from ..journal import read_run
from ..options import SuperAnnotateOptions
from .client import ListedItem, UploadSession
from .field_specs import within_specs
from .guard import not_as_left
from .ledger import Ledger
from .plan import PlannedItem, _field
from .redact import get_logger
from .report import UNCHANGED, UploadReport

log = get_logger(__name__)

#: The custom fields items get, in SuperAnnotate's schema format.
FIELDS: dict[str, dict[str, Any]] = {
    "predicted_wer": {"type": "number", "minimum": 0},
    "duration_seconds": {"type": "number", "minimum": 0},
    "language": {"type": "string"},
    "doubtful_share": {"type": "number", "minimum": 0, "maximum": 1},
}
# Custom field -> the run.json file record key it is read from.
_RECORD_KEYS = {
    "predicted_wer": "predicted_wer",
    "duration_seconds": "duration",
    "language": "language",
    "doubtful_share": "doubtful_share",
}
VALUES_BATCH = 500  # items per custom values request: a failure costs one batch, not all
SCORES_BATCH = 100  # the SDK's own chunk: each call applies in full or not at all, so what was sent is known
SCORE_SCALE = 100.0  # a WER of 0.25 is priority 25.0: readable in the platform, and within the SDK's range


@dataclass
class MetadataPlan:
    """What to send for a run's items.

    Attributes:
        scores: `{"name", "priority"}` dicts for `upload_priority_scores`, highest first.
        values: `{item: {field: value}}` dicts for `upload_custom_values`, items with no known value left out.
        unknown: Record keys that some of the items lack (for the one warning).
    """

    scores: list[dict[str, Any]]
    values: list[dict[str, dict[str, Any]]]
    unknown: list[str]


def run_records(output_dir: Path, files: Sequence[Any] | None = None) -> dict[str, dict[str, Any]]:
    """The run's file records by item: from `files`, else `<output>/run.json`; {} when unreadable."""
    if files is None:
        data = read_run(output_dir)
        files = data.get("files") if isinstance(data, dict) else None
    records = {}
    for entry in files or []:
        item = _field(entry, "item")
        if isinstance(item, str) and item:
            records[item] = {key: _field(entry, key) for key in _RECORD_KEYS.values() if _has(entry, key)}
    return records


def _has(entry: Any, key: str) -> bool:
    """Whether a file record has the key at all: an older run's lacks it, a current run's holds None for no speech."""
    return key in entry if isinstance(entry, dict) else hasattr(entry, key)


def priority_score(predicted_wer: float | None, priority: str) -> float | None:
    """The priority score of an item, or None when it gets none.

    Args:
        predicted_wer: The file's predicted word error rate (values above 1 count as 1).
        priority: doubtful_first (the higher the WER, the higher the score), easy_first (the reverse) or none.
    """
    if priority == "none" or not _is_number(predicted_wer):
        return None
    wer = min(max(float(predicted_wer), 0.0), 1.0)  # type: ignore[arg-type]
    share = wer if priority == "doubtful_first" else 1.0 - wer
    return round(share * SCORE_SCALE, 3)


def custom_values(record: dict[str, Any]) -> dict[str, Any]:
    """An item's custom field values: the known ones only, each of the type its schema asks."""
    values: dict[str, Any] = {}
    for name, key in _RECORD_KEYS.items():
        value = record.get(key)
        if FIELDS[name]["type"] == "string" and isinstance(value, str) and value:
            values[name] = value
        elif FIELDS[name]["type"] == "number" and _is_number(value) and value >= FIELDS[name]["minimum"]:
            values[name] = round(float(value), 4)
    if "doubtful_share" in values and values["doubtful_share"] > 1:
        del values["doubtful_share"]
    return values


def plan_metadata(records: dict[str, dict[str, Any]], names: list[str], priority: str, fields: bool) -> MetadataPlan:
    """The scores and custom values for the named items.

    Args:
        records: The run's file records by item (see `run_records`).
        names: The items to send them for.
        priority: The superannotate.priority option.
        fields: The superannotate.custom_fields option.
    """
    scores: list[dict[str, Any]] = []
    values: list[dict[str, dict[str, Any]]] = []
    unknown: set[str] = set()
    wanted = set(_RECORD_KEYS.values()) if fields else set()
    if priority != "none":
        wanted.add("predicted_wer")
    for name in names:
        record = records.get(name, {})
        score = priority_score(record.get("predicted_wer"), priority)
        if score is not None:
            scores.append({"name": name, "priority": score})
        item_values = custom_values(record) if fields else {}
        if item_values:
            values.append({name: item_values})
        unknown |= {key for key in wanted if key not in record}  # None: known to have none (no speech, failed)
    scores.sort(key=lambda s: -s["priority"])
    return MetadataPlan(scores, values, sorted(unknown))


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def send_for_run(
    session: UploadSession | None,
    options: SuperAnnotateOptions,
    report: UploadReport,
    records: dict[str, dict],
    ready: list[str],
) -> None:
    """Priority scores and custom values for the run's items that are in the project as this tool left them.

    Those are the items uploaded now and those skipped as unchanged (a new priority option then re-orders
    the queue without uploading again; completed items are not served anyway). Items kept because people
    work on them get nothing: their place in the queue is already the team's business.

    Args:
        session: The connected session; None lists what a dry run would send.
        options: The superannotate section (project, priority, custom_fields).
        report: Gets counts under `metadata`, and warnings.
        records: The run's file records by item (see `run_records`).
        ready: The items a dry run would upload.
    """
    report.metadata["priority"] = options.priority
    withheld = report.metadata.get("withheld") or {}
    unchanged = [i.item for i in report.items if i.reason == UNCHANGED and i.item not in withheld]
    names = ready if session is None else report.succeeded + unchanged
    plan = plan_metadata(records, names, options.priority, options.custom_fields)
    if session is None:
        dry_run_metadata(plan, report)
    else:
        send_metadata(session, options.project, plan, report)


def withhold_from_unchanged(
    options: SuperAnnotateOptions,
    unchanged: list[PlannedItem],
    listed: dict[str, ListedItem] | None,
    ledger: Ledger,
    own_status: str | None,
    report: UploadReport,
) -> None:
    """Withholds priority and custom values from unchanged items no longer as this folder left them.

    Those items are not uploaded, so the guard never looked at them: `listed` (their status and audio URL in the
    project; None when the listing failed) tells, and `report.metadata["withheld"]` names each one withheld,
    with why.
    """
    if not unchanged or (options.priority == "none" and not options.custom_fields):
        return
    if listed is None:  # nothing is sent to items not known to be as this folder left them
        report.warnings.append("listing the unchanged items failed, so they get no priority or custom values")
        withheld = dict.fromkeys((p.item for p in unchanged), "not listed (the listing failed)")
    else:
        withheld = not_as_left(unchanged, listed, ledger, report.target or "", own_status)
    if withheld:
        report.metadata["withheld"] = withheld
        count = len(withheld)
        report.warnings.append(f"{count} unchanged item(s) get no priority or custom values: {_first(withheld)}")
        log.warning("%s", report.warnings[-1])


def _first(reasons: dict[str, str]) -> str:
    name, reason = next(iter(reasons.items()))
    return f"{name}: {reason}" + (f" (and {len(reasons) - 1} more; run.json lists them)" if len(reasons) > 1 else "")


def dry_run_metadata(plan: MetadataPlan, report: UploadReport) -> None:
    """Lists what a real upload would send: a summary at INFO, each item at DEBUG, the counts in the report."""
    _warn_unknown(plan, report)
    for score in plan.scores:
        log.debug("dry run: would give %s priority %s", score["name"], score["priority"])
    for entry in plan.values:
        for name, values in entry.items():
            log.debug("dry run: would set custom fields of %s: %s", name, values)
    report.metadata.update(priority_scores=len(plan.scores), custom_values=len(plan.values))
    log.info("dry run: would send %s", _summary(report, _field_names(plan.values)))


def send_metadata(session: UploadSession, project: str, plan: MetadataPlan, report: UploadReport) -> None:
    """Sends priority scores and custom field values; a failure is a warning, never a failed upload."""
    _warn_unknown(plan, report)
    report.metadata.update(priority_scores=0, custom_values=0)
    if plan.scores:
        _send_scores(session, project, plan.scores, report)
    values: list[dict[str, dict]] = []
    if plan.values:
        fields = _ensure_fields(session, project, report)
        values, dropped = within_specs(_only(plan.values, set(fields)), fields) if fields else ([], {})
        if dropped:
            broken = ", ".join(f"{name} ({count} item(s): {fields[name]})" for name, count in sorted(dropped.items()))
            _warn(report, f"custom field values outside the specs of {project!r}'s own fields left out: {broken}")
        if values:
            _send_values(session, project, values, report)
    log.info("SuperAnnotate: sent %s", _summary(report, _field_names(values)))


def _send_scores(session: UploadSession, project: str, scores: list[dict], report: UploadReport) -> None:
    """Sends the scores in the SDK's chunks, one call each: one that fails leaves the others' counted as sent."""
    skipped: list[str] = []
    for start in range(0, len(scores), SCORES_BATCH):
        batch = scores[start : start + SCORES_BATCH]
        try:
            updated, left = session.upload_priorities(project, batch)
        except (UploadError, CredentialsError) as e:
            _warn(report, f"priority scores of {len(batch)} item(s) not sent: {e}")
            continue
        report.metadata["priority_scores"] += len(updated)
        skipped += left
    if skipped:
        _warn(report, f"SuperAnnotate skipped the priority scores of {len(skipped)} item(s): {_names(skipped)}")


def _ensure_fields(session: UploadSession, project: str, report: UploadReport) -> dict[str, dict[str, Any]]:
    """Creates the custom fields the project lacks; returns the specs of those whose values can be sent."""
    try:
        schema = session.custom_fields(project) or {}
        missing = {name: spec for name, spec in FIELDS.items() if name not in schema}
        if missing:  # only the missing ones: the SDK adds to a schema, and a field that exists is refused
            schema = _create_fields(session, project, schema, missing)
            report.metadata["custom_fields_created"] = sorted(missing)
            log.info("created custom fields %s in %r", ", ".join(missing), project)
    except (UploadError, CredentialsError) as e:
        _warn(report, f"custom field values not sent: {e}")
        return {}
    usable = {n: schema[n] for n in FIELDS if (schema.get(n) or {}).get("type") == FIELDS[n]["type"]}
    clashing = sorted(n for n in FIELDS if n in schema and n not in usable)
    if clashing:
        _warn(report, f"custom fields {', '.join(clashing)} exist in {project!r} with another type; not set")
    return usable


def _create_fields(session: UploadSession, project: str, schema: dict, missing: dict[str, dict]) -> dict:
    """Creates the missing fields; returns the schema. A retried call whose first answer was lost finds them made.

    Raises:
        UploadError: They could not be created, and are not in the schema read again.
    """
    try:
        return session.create_custom_fields(project, missing) or {**schema, **missing}
    except UploadError:
        again = session.custom_fields(project) or {}
        if all(name in again for name in missing):  # "already exists": the first attempt made them
            return again
        raise


def _send_values(session: UploadSession, project: str, values: list[dict], report: UploadReport) -> None:
    failed: list[str] = []
    for start in range(0, len(values), VALUES_BATCH):
        batch = values[start : start + VALUES_BATCH]
        try:
            result = session.upload_custom_values(project, batch)
        except (UploadError, CredentialsError) as e:
            _warn(report, f"custom field values of {len(batch)} item(s) not sent: {e}")
            continue
        report.metadata["custom_values"] += len(result.get("succeeded") or [])
        failed += result.get("failed") or []
    if failed:
        _warn(report, f"SuperAnnotate refused the custom field values of {len(failed)} item(s): {_names(failed)}")


def _summary(report: UploadReport, fields: list[str]) -> str:
    """One line for the log: how many items get scores (in which order) and values (of which fields)."""
    text = f"priority scores ({report.metadata['priority']}) for {report.metadata['priority_scores']} item(s)"
    named = f" ({', '.join(fields)})" if fields else ""
    return f"{text}, custom field values{named} for {report.metadata['custom_values']} item(s)"


def _field_names(values: list[dict[str, dict]]) -> list[str]:
    """The custom fields the plan has values for, in schema order."""
    present = {field for entry in values for vals in entry.values() for field in vals}
    return [name for name in FIELDS if name in present]


def _only(values: list[dict[str, dict]], fields: set[str]) -> list[dict[str, dict]]:
    kept = [{n: {k: v for k, v in vals.items() if k in fields}} for entry in values for n, vals in entry.items()]
    return [entry for entry in kept if next(iter(entry.values()))]


def _warn_unknown(plan: MetadataPlan, report: UploadReport) -> None:
    # Logged, and noted under metadata rather than warnings: a run made before these fields existed is
    # no upload problem, and its report should not look like one.
    if plan.unknown:
        report.metadata["unknown"] = plan.unknown
        log.warning("run.json lacks %s for some items (an older run?): those are not sent", ", ".join(plan.unknown))


def _warn(report: UploadReport, message: str) -> None:
    report.warnings.append(message)
    log.warning("%s", message)


def _names(names: list[str], limit: int = 10) -> str:
    return ", ".join(names[:limit]) + (" ..." if len(names) > limit else "")
