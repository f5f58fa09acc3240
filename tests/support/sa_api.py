"""The loopback server's answers: its routes and in-memory state.

`Api` answers one request from `State` the way superannotate 4.6.2's server does (see sa_server.py for
the server around it and /work/shared/notes/superannotate.md for the requests); uploads are checked
with `sa_schema.video_errors`, the platform's rules for Video projects.
"""

from __future__ import annotations

import base64
import collections
import copy
import email.parser
import email.policy
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from .sa_metadata import METADATA_ROUTES, MetadataApi
from .sa_schema import video_errors

TEAM_ID = 4242
#: A well-formed legacy team token (`<name>=<team id>`); the server accepts only its `tokens`.
DEFAULT_TOKEN = f"loopback-test-token-3f9c2a7e={TEAM_ID}"
STATUSES = {"NotStarted": 1, "InProgress": 2, "QualityCheck": 3, "Returned": 4, "Completed": 5, "Skipped": 6}
PROJECT_TYPES = {"Vector": 1, "Video": 3, "Document": 4, "Multimodal": 8}
INTEGRATION_TYPES = {"aws": 1, "gcp": 2, "azure": 3, "custom": 4, "databricks": 5, "snowflake": 6}
STAMP = "2025-01-01T00:00:00.000Z"
DELIMITER = "\\n;)\\n"  # the literal backslash-n the SDK's stream parser splits on
SERVICES = ("wm", "item", "assets", "explore", "telemetry")


@dataclass
class State:
    """Everything the server knows; guarded by `lock`."""

    tokens: set[str]
    projects: dict[int, dict] = field(default_factory=dict)
    classes: dict[int, list[dict]] = field(default_factory=lambda: collections.defaultdict(list))
    items: dict[int, dict[str, dict]] = field(default_factory=lambda: collections.defaultdict(dict))
    annotations: dict[tuple[int, str], dict] = field(default_factory=dict)
    upload_counts: collections.Counter = field(default_factory=collections.Counter)
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    unhandled: list[str] = field(default_factory=list)
    faults: list[list] = field(default_factory=list)
    integrations: list[dict] = field(default_factory=list)
    download_omits: set[str] = field(default_factory=set)  # items a download leaves out (a partial answer)
    statuses: dict[str, int] = field(default_factory=lambda: dict(STATUSES))  # the workflow's, by name
    priorities: dict[int, dict[str, float]] = field(default_factory=lambda: collections.defaultdict(dict))
    priority_requests: list[list[tuple[str, str, float]]] = field(default_factory=list)
    custom_schema: dict[int, dict] = field(default_factory=lambda: collections.defaultdict(dict))
    schema_creations: list[tuple[str, list[str]]] = field(default_factory=list)
    custom_values: dict[int, dict[str, dict]] = field(default_factory=lambda: collections.defaultdict(dict))
    ids: itertools.count = field(default_factory=lambda: itertools.count(100))
    lock: threading.RLock = field(default_factory=threading.RLock)


class Api(MetadataApi):
    """One request's routing and answers; every handler returns (status, JSON or text body)."""

    ROUTES = [
        ("GET", r"/user/ME", "user"),
        ("GET", r"/api/v1/team/(\d+)", "team"),
        ("POST", r"/__wm/api/v1/users/me", "api_key"),
        ("GET", r"/api/v1/projects", "list_projects"),
        ("GET", r"/api/v1/project/(\d+)", "get_project"),
        ("POST", r"/project", "create_project"),
        ("GET", r"/classes", "list_classes"),
        ("POST", r"/classes", "create_classes"),
        ("GET", r"/folder/getFolderByName", "folder"),
        ("GET", r"/project/(\d+)/limitationDetails", "limits"),
        ("GET", r"/integrations", "list_integrations"),
        ("POST", r"/__item/api/v1/items/search", "search_items"),
        ("POST", r"/image/ext-create", "attach"),
        ("PUT", r"/image/updateAnnotationStatusBulk", "set_statuses"),
        ("GET", r"/__wm/api/v1/workflows", "workflows"),
        ("GET", r"/__wm/api/v1/workflows/(\d+)/workflowstatuses", "workflow_statuses"),
        ("GET", r"/__wm/api/v1/workflows/(\d+)/workflowroles", "workflow_roles"),
        ("POST", r"/__assets/api/v4/items/annotations/upload", "upload"),
        ("POST", r"/__assets/api/v4/items/annotations/download/method", "download_method"),
        ("POST", r"/__assets/api/v4/items/annotations/download", "download"),
        *METADATA_ROUTES,
    ]

    def __init__(self, state: State, method: str, path: str, query: dict, headers: Any, body: bytes) -> None:
        self.state, self.method, self.path = state, method, path
        self.query, self.headers, self.body = query, headers, body

    def dispatch(self) -> tuple[int, Any]:
        if self.headers.get("Authorization") not in self.state.tokens:
            return 401, {"error": "Not authorized"}
        for method, pattern, name in self.ROUTES:
            match = re.fullmatch(pattern, self.path)
            if match and method == self.method:
                with self.state.lock:
                    return getattr(self, name)(*match.groups())
        self.state.unhandled.append(f"{self.method} {self.path}")
        return 404, {"error": "Not found"}

    # helpers
    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def arg(self, name: str) -> str | None:
        return self.query.get(name, [None])[0]

    def context(self) -> dict:
        raw = self.headers.get("x-sa-entity-context")
        return json.loads(base64.b64decode(raw)) if raw else {}

    def project_or_error(self, pid: Any) -> dict | None:
        return self.state.projects.get(int(pid)) if pid is not None else None

    # identity
    def user(self) -> tuple[int, Any]:
        return 200, {"id": "loopback-user", "email": "annotator@example.com", "first_name": "Loop", "user_role": 2}

    def team(self, team_id: str) -> tuple[int, Any]:
        if int(team_id) != TEAM_ID:
            return 403, {"error": "Forbidden"}
        return 200, {"id": TEAM_ID, "name": "Loopback team", "owner_id": "org-1", "creator_id": "loopback-user"}

    def api_key(self) -> tuple[int, Any]:
        token = {"scope_type": "team", "scope": {"team_id": TEAM_ID}, "created_by": "annotator@example.com"}
        return 200, {"token": token, "user": None}

    # projects, classes, folders
    def list_projects(self) -> tuple[int, Any]:
        name = self.arg("name") or ""
        found = [p for p in self.state.projects.values() if name.lower() in p["name"].lower()]
        return 200, {"data": found, "count": len(found)}

    def get_project(self, pid: str) -> tuple[int, Any]:
        project = self.project_or_error(pid)
        return (200, project) if project else (404, {"error": "Project not found"})

    def create_project(self) -> tuple[int, Any]:
        body = self.json()
        name, ptype = body.get("name"), body.get("type")
        if not name or any(p["name"] == name for p in self.state.projects.values()):
            return 400, {"error": "Project name must be unique and not empty"}
        if ptype not in PROJECT_TYPES.values():
            return 400, {"error": f"Unknown project type {ptype!r}"}
        pid, folder_id, workflow_id = next(self.state.ids), next(self.state.ids), 7
        self.state.projects[pid] = {
            "id": pid, "team_id": TEAM_ID, "name": name, "type": ptype, "description": body.get("description"),
            "status": 1, "folder_id": folder_id, "workflow_id": workflow_id, "upload_state": 1,
            "imageCount": 0, "createdAt": STAMP, "updatedAt": STAMP,
        }  # fmt: skip
        return 200, self.state.projects[pid]

    def list_classes(self) -> tuple[int, Any]:
        classes = self.state.classes[int(self.arg("project_id"))]
        name = self.arg("name")
        found = [c for c in classes if not name or name.lower() in c["name"].lower()]
        return 200, {"data": found, "count": len(found)}

    def create_classes(self) -> tuple[int, Any]:
        pid = int(self.arg("project_id"))
        if pid not in self.state.projects:
            return 404, {"error": "Project not found"}
        created = []
        for raw in self.json()["classes"]:
            if not raw.get("name") or any(c["name"] == raw["name"] for c in self.state.classes[pid]):
                return 400, {"error": f"Class {raw.get('name')!r} exists or has no name"}
            cid = next(self.state.ids)
            groups = [self._group(g, cid) for g in raw.get("attribute_groups") or []]
            cls = {"id": cid, "project_id": pid, "name": raw["name"], "color": raw["color"], "type": raw.get("type", 1)}
            cls.update(attribute_groups=groups, createdAt=STAMP, updatedAt=STAMP)
            self.state.classes[pid].append(cls)
            created.append(cls)
        return 200, created

    def _group(self, group: dict, class_id: int) -> dict:
        gid = next(self.state.ids)
        raw = group.get("attributes") or []
        attrs = [{"id": next(self.state.ids), "group_id": gid, "name": a["name"]} for a in raw]
        return {"id": gid, "class_id": class_id, "name": group["name"], "group_type": group.get("group_type"),
                "isRequired": bool(group.get("isRequired")), "attributes": attrs}  # fmt: skip

    def folder(self) -> tuple[int, Any]:
        project = self.project_or_error(self.arg("project_id"))
        if not project or self.arg("name") != "root":
            return 404, {"error": "Folder not found"}
        return 200, {"id": project["folder_id"], "name": "root", "project_id": project["id"],
                     "team_id": TEAM_ID, "is_root": True, "status": 1}  # fmt: skip

    def limits(self, pid: str) -> tuple[int, Any]:
        remaining = 50_000 - len(self.state.items[int(pid)])
        limit = {"max_image_count": 50_000, "remaining_image_count": remaining}
        return 200, {"folder_limit": limit, "project_limit": limit, "user_limit": None}

    def list_integrations(self) -> tuple[int, Any]:
        return 200, {"integrations": copy.deepcopy(self.state.integrations)}

    # items
    def search_items(self) -> tuple[int, Any]:
        query = self.json()["query"]
        items = list(self.state.items[int(self.context()["project_id"])].values())
        for condition in query.get("search", {}).get("$and", []):
            condition = {key: {op: _lookup(op, v) for op, v in ops.items()} for key, ops in condition.items()}
            items = [i for i in items if _matches(i, condition)]
        page = items[query.get("offset", 0) : query.get("offset", 0) + query.get("limit", 2000)]
        return 200, {"data": [_item_view(i) for i in page], "count": len(items)}

    def attach(self) -> tuple[int, Any]:
        body = self.json()
        project = self.project_or_error(body.get("project_id"))
        if not project or body.get("folder_id") != project["folder_id"]:
            return 400, {"error": "Unknown project or folder"}
        items, meta = self.state.items[project["id"]], body.get("meta") or {}
        known = {i["id"] for i in self.state.integrations}
        for image in body["images"]:
            # Plain attachments must be web URLs; through a known integration the platform resolves any path.
            integration = (meta.get(image.get("name")) or {}).get("integration_id")
            web = re.match(r"https?://", image.get("path") or "")
            if not image.get("name") or not image.get("path") or not (web or integration in known):
                return 400, {"error": f"Invalid attachment {image!r}"}
        for image in body["images"]:
            if image["name"] not in items:
                items[image["name"]] = {"id": next(self.state.ids), "name": image["name"], "url": image["path"],
                                        "folder_id": project["folder_id"],
                                        "integration_id": (meta.get(image["name"]) or {}).get("integration_id"),
                                        "annotation_status": body.get("annotation_status") or 1}  # fmt: skip
        project.update(upload_state=3, imageCount=len(items))
        return 200, {"success": True}

    def set_statuses(self) -> tuple[int, Any]:
        body = self.json()
        items = self.state.items[int(self.arg("project_id"))]
        if body["annotation_status"] not in self.state.statuses.values():
            return 400, {"error": "Invalid status"}
        for name in body["image_names"]:
            if name in items:
                items[name]["annotation_status"] = body["annotation_status"]
        return 200, {"success": True}

    # work management
    def workflows(self) -> tuple[int, Any]:
        return 200, {"data": [{"id": 7, "name": "System workflow", "type": "system"}], "count": 1}

    def workflow_statuses(self, workflow_id: str) -> tuple[int, Any]:
        statuses = [{"value": v, "status": {"name": n}} for n, v in self.state.statuses.items()]
        return 200, {"data": statuses, "count": len(statuses)}

    def workflow_roles(self, workflow_id: str) -> tuple[int, Any]:
        roles = [{"role_id": 4, "role": {"name": "Annotator"}}, {"role_id": 5, "role": {"name": "QA"}}]
        return 200, {"data": roles, "count": 2}

    # annotations
    def upload(self) -> tuple[int, Any]:
        project = self.project_or_error(self.arg("project_id"))
        if not project:
            return 404, {"error": "Project not found"}
        parts = _multipart(self.headers.get("Content-Type", ""), self.body)
        # Names listed in image_names[] without a part are neither stored nor reported failed: that is
        # what lets the SDK's retry of a dropped upload (sent with an empty body) pass for a success.
        failed, missing = [], collections.defaultdict(set)
        for name, data in parts.items():
            annotation = data.get("data") if isinstance(data, dict) else None
            errors = video_errors(annotation, name, self.state.items[project["id"]], self.state.classes[project["id"]])
            for kind, value in errors:
                if kind != "error":
                    missing[kind].add(value)
            if errors:
                failed.append(name)
                continue
            self.state.annotations[(project["id"], name)] = annotation
            self.state.upload_counts[(project["id"], name)] += 1
        resources = {k: sorted(missing[k]) for k in ("class", "template", "attribute", "attributeGroup")}
        return 200, {"failedItems": failed, "missingResources": resources}

    def download_method(self) -> tuple[int, Any]:
        ids = self.json()["item_ids"]
        return 200, {"small": {"0": {"data": [{"id": i} for i in ids]}}, "large": []}

    def download(self) -> tuple[int, Any]:
        pid = int(self.arg("project_id"))
        wanted = set(self.json()["image_ids"])
        chunks, names = [], {v: k for k, v in self.state.statuses.items()}
        for name, item in self.state.items[pid].items():
            annotation = self.state.annotations.get((pid, name))
            if item["id"] in wanted and annotation is not None and name not in self.state.download_omits:
                extra = {"id": item["id"], "url": item["url"], "status": names[item["annotation_status"]]}
                chunks.append(json.dumps({**annotation, "metadata": {**annotation["metadata"], **extra}}))
        return 200, DELIMITER.join(chunks)


def _lookup(op: str, expected: Any) -> Any:
    """`$in` and `$notin` lists as sets: a listing of thousands of names, item by item, is quadratic otherwise."""
    return set(expected) if op in ("$in", "$notin") and isinstance(expected, list) else expected


def _matches(item: dict, condition: dict) -> bool:
    for key, ops in condition.items():
        value = item.get(key)
        for op, expected in ops.items():
            ok = {"$eq": value == expected, "$ne": value != expected, "$in": value in expected,
                  "$notin": value not in expected}.get(op)  # fmt: skip
            if not ok:
                return False
    return True


def _item_view(item: dict) -> dict:
    view = {k: v for k, v in item.items() if k not in ("url", "integration_id")}
    return {**view, "metadata": {"path": item["url"]}, "assignments": [], "createdAt": STAMP, "updatedAt": STAMP}


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """The parts of a multipart/form-data body, by field name, JSON-decoded."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        try:
            parts[name] = json.loads(part.get_payload(decode=True))
        except ValueError:
            parts[name] = None
    return parts
