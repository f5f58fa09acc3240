"""The loopback server's priority score and custom field endpoints (superannotate 4.6.2's requests).

- `upload_priority_scores`: `POST MAIN/images/updateEntropy?project_id=&folder_id=` with
  `{"image_entropies": [{"name", "entropy_value"}]}` (100 per request); answers `{"data": [{"name"}...]}`
  for the items it updated (the SDK reports the others as skipped).
- `get_custom_fields`: `GET EXPLORE/api/v1/custom/metadata/schema?project_id=`; answers the schema.
- `create_custom_fields`: `POST EXPLORE/api/v1/custom/metadata/schema?project_id=` with `{"data": schema}`;
  answers the whole schema.
- `upload_custom_values`: `POST EXPLORE/api/v1/custom/metadata/item?project_id=&folder_id=` with
  `{"data": {item: {field: value}}}` (5000 per request); answers `{"succeeded_items", "failed_items"}`.

Validation follows the platform: a schema field is number (minimum, maximum, enum) or string (format email
or date, enum), and a field that exists cannot be created again; an item's values fail when the item is not
in the folder, a field is not in the schema, or a value breaks its field's spec.
"""

from __future__ import annotations

import re
from typing import Any

SPEC_KEYS = {"number": {"type", "minimum", "maximum", "enum"}, "string": {"type", "format", "enum"}}
FORMATS = {"email": r"[^@\s]+@[^@\s]+\.[^@\s]+", "date": r"\d{4}-\d{2}-\d{2}"}
MAX_PRIORITY = 1_000_000

METADATA_ROUTES = [
    ("POST", r"/images/updateEntropy", "update_entropy"),
    ("GET", r"/__explore/api/v1/custom/metadata/schema", "get_schema"),
    ("POST", r"/__explore/api/v1/custom/metadata/schema", "create_schema"),
    ("POST", r"/__explore/api/v1/custom/metadata/item", "upload_values"),
]


class MetadataApi:
    """Handlers mixed into `sa_server.Api` (which provides state, json(), arg() and project_or_error())."""

    state: Any

    def _root_project(self) -> dict | None:
        project = self.project_or_error(self.arg("project_id"))  # type: ignore[attr-defined]
        folder = self.arg("folder_id")  # type: ignore[attr-defined]
        if project is None or (folder is not None and int(folder) != project["folder_id"]):
            return None
        return project

    def update_entropy(self) -> tuple[int, Any]:
        project = self._root_project()
        if project is None:
            return 404, {"error": "Project or folder not found"}
        entries = (self.json() or {}).get("image_entropies")  # type: ignore[attr-defined]
        if not isinstance(entries, list) or not all(_score_ok(e) for e in entries):
            return 400, {"error": "image_entropies must be a list of {name, entropy_value in [0, 1000000]}"}
        self.state.priority_requests.append([(project["name"], e["name"], e["entropy_value"]) for e in entries])
        items, updated = self.state.items[project["id"]], []
        for entry in entries:
            if entry["name"] in items:
                self.state.priorities[project["id"]][entry["name"]] = entry["entropy_value"]
                updated.append({"name": entry["name"]})
        return 200, {"data": updated}

    def get_schema(self) -> tuple[int, Any]:
        project = self._root_project()
        if project is None:
            return 404, {"error": "Project not found"}
        return 200, dict(self.state.custom_schema[project["id"]])

    def create_schema(self) -> tuple[int, Any]:
        project = self._root_project()
        if project is None:
            return 404, {"error": "Project not found"}
        schema = (self.json() or {}).get("data")  # type: ignore[attr-defined]
        current = self.state.custom_schema[project["id"]]
        if not isinstance(schema, dict) or not schema:
            return 400, {"error": "data must be a non-empty object of field specs"}
        errors = [e for name, spec in schema.items() for e in _spec_errors(name, spec, current)]
        if errors:
            return 400, {"error": errors}
        current.update(schema)
        self.state.schema_creations.append((project["name"], sorted(schema)))
        return 200, dict(current)

    def upload_values(self) -> tuple[int, Any]:
        project = self._root_project()
        if project is None:
            return 404, {"error": "Project or folder not found"}
        data = (self.json() or {}).get("data")  # type: ignore[attr-defined]
        if not isinstance(data, dict):
            return 400, {"error": "data must be an object of item name -> values"}
        schema, items = self.state.custom_schema[project["id"]], self.state.items[project["id"]]
        stored, succeeded, failed = self.state.custom_values[project["id"]], [], []
        for name, values in data.items():
            if name not in items or not isinstance(values, dict) or not _values_ok(values, schema):
                failed.append(name)
                continue
            stored.setdefault(name, {}).update(values)
            succeeded.append(name)
        return 200, {"succeeded_items": succeeded, "failed_items": failed}


def served_order(priorities: dict[str, float]) -> list[str]:
    """Items in the order the platform hands them to an annotator who requests tasks.

    Highest priority score first: the SDK stores the score as the item's `entropy_value`, and SuperAnnotate
    assigns the items of highest entropy (uncertainty) for annotation first (sources cited in
    preannotate/superannotate/metadata.py). Equal scores fall back to the platform's name order.
    """
    return sorted(priorities, key=lambda name: (-priorities[name], name))


def _score_ok(entry: Any) -> bool:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
        return False
    value = entry.get("entropy_value")
    return _is_number(value) and 0 <= value <= MAX_PRIORITY


def _spec_errors(name: Any, spec: Any, current: dict) -> list[str]:
    if not isinstance(name, str) or not name.strip():
        return [f"field name {name!r} must be a non-empty string"]
    if name in current:
        return [f"field {name!r} already exists"]
    kind = spec.get("type") if isinstance(spec, dict) else None
    if kind not in SPEC_KEYS:
        return [f"field {name!r}: type must be number or string"]
    unknown = set(spec) - SPEC_KEYS[kind]
    if unknown:
        return [f"field {name!r}: unknown spec keys {sorted(unknown)}"]
    if kind == "number" and not all(_is_number(spec[k]) for k in ("minimum", "maximum") if k in spec):
        return [f"field {name!r}: minimum and maximum must be numbers"]
    if kind == "string" and spec.get("format", "date") not in FORMATS:
        return [f"field {name!r}: format must be email or date"]
    return []


def _values_ok(values: dict, schema: dict) -> bool:
    return all(name in schema and _value_ok(value, schema[name]) for name, value in values.items())


def _value_ok(value: Any, spec: dict) -> bool:
    if "enum" in spec and value not in spec["enum"]:
        return False
    if spec["type"] == "string":
        return isinstance(value, str) and re.fullmatch(FORMATS.get(spec.get("format", ""), ".*"), value) is not None
    if not _is_number(value):
        return False
    return spec.get("minimum", value) <= value <= spec.get("maximum", value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
