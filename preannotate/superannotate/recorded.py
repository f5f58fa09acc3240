"""The options a run recorded in its run.json, as the base of `preannotate upload`'s configuration.

`upload` sends what `run` made, so by default it sends it the way `run` was told to: to the run's
project, with the run's URLs, classes, status, priority and control arm. A config file and `--set`
still replace any of them, key by key. The per-command flags (`dry_run`, `force_upload`,
`overwrite_human_edits`) are never inherited: a run made as a dry run is uploaded for real by
`upload` unless it says `--dry-run` again.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..config import config_from_dict
from ..errors import ConfigError
from ..journal import RUN_FILE, read_run
from ..options import RunConfig
from ..options.catalog import option_info

log = logging.getLogger(__name__)

# What upload reads: where the recordings are (URL prefixes and CSV paths), the class setup, the platform.
RECORDED_SECTIONS = ("input", "annotation", "superannotate")
PER_COMMAND = frozenset({"superannotate.dry_run", "superannotate.force_upload", "superannotate.overwrite_human_edits"})
# Options of these sections that `run` applies when it assesses and routes the chunks: the drafts upload sends
# were made with the run's values, so another value given to upload changes nothing.
RUN_ONLY = (
    "annotation.review_model", "annotation.review_threshold", "annotation.draft_max_wer", "annotation.cross_check",
    "annotation.slowed_check", "superannotate.control_share", "superannotate.control_seed",
)  # fmt: skip


def recorded_options(output_dir: str | Path) -> dict[str, Any]:
    """The upload-related options `<output>/run.json` recorded, as nested values for `load_config(base=...)`.

    Args:
        output_dir: The run's output folder.

    Returns:
        Sections `input`, `annotation` and `superannotate` with the options this version knows; empty
        when run.json is missing or recorded no configuration (a run written by an older version or by
        hand), or when its recorded values are no longer valid (then with a warning naming the problem).
    """
    record = read_run(output_dir)
    config = record.get("config") if isinstance(record, dict) else None
    if not isinstance(config, dict):
        return {}
    base = {section: _known(section, config.get(section)) for section in RECORDED_SECTIONS}
    base = {section: values for section, values in base.items() if values}
    try:
        config_from_dict(base)
    except ConfigError as e:
        log.warning(
            "%s: the run's recorded options are not used (%s); upload takes its own", Path(output_dir) / RUN_FILE, e
        )
        return {}
    return base


def recorded_annotation(output_dir: str | Path) -> dict[str, Any]:
    """The annotation options the run recorded, as a base for reading its corrections; {} without.

    A run made with another `annotation.text_group` or class name wrote its drafts so: `report`, `calibrate`
    and `export` read the corrections by the same names unless told otherwise (a file or `--set`).
    """
    annotation = recorded_options(output_dir).get("annotation")
    return {"annotation": annotation} if annotation else {}


def _known(section: str, values: Any) -> dict[str, Any]:
    """The recorded values of options this version has (older runs may hold renamed ones), flags left out."""
    if not isinstance(values, dict):
        return {}
    keys = {name: f"{section}.{name}" for name in values if isinstance(name, str)}
    return {
        name: values[name]
        for name, key in keys.items()
        if key not in PER_COMMAND and (info := option_info(key)) is not None and not info.is_section
    }


def warn_run_only(recorded: dict[str, Any], config: RunConfig) -> list[str]:
    """Warns of the run-only options (`RUN_ONLY`) given to `upload` with another value than the run's.

    Args:
        recorded: The run's recorded options (`recorded_options`); empty when it recorded none.
        config: The configuration upload runs with.

    Returns:
        The options named.
    """
    given = []
    for key in RUN_ONLY if recorded else ():
        section, _, name = key.partition(".")
        if name in recorded.get(section, {}):
            was, now = recorded[section][name], getattr(getattr(config, section), name)
            if _plain(now) != _plain(was):
                given.append(f"{key}={now!r} (the run's: {was!r})")
    if given:
        log.warning(
            "upload sends the drafts as `preannotate run` assessed and routed them; these options take effect when "
            "it does, so here they change nothing: %s. Run `preannotate run` again with them (it does not transcribe "
            "again), then upload", "; ".join(given),
        )  # fmt: skip
    return given


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
