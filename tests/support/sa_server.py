"""A small SuperAnnotate-compatible HTTP server on loopback, for tests with the real SDK.

It answers the requests superannotate 4.6.2 makes for the calls this project uses (see
/work/shared/notes/superannotate.md), keeps projects, classes, items, annotations, statuses,
priority scores and custom fields (see sa_metadata.py) in memory, validates what it receives the
way the platform does for Video projects, and can be told to fail: `inject("annotations/upload", 429, times=2)`.

All services share one port: the main API at the root, the hosts the SDK hard-codes under
`/__wm`, `/__item`, `/__assets`, `/__explore` and `/__telemetry` (see `hosts`).

    with SuperAnnotateServer() as server:
        server.url, server.token, server.hosts      # what a client needs
        server.items("Podcasts"), server.annotation("Podcasts", "a.mp3")
        server.set_annotation("Podcasts", "a.mp3", corrected_json)   # as an annotator would
        server.upload_counts[("Podcasts", "a.mp3")]                   # successful stores

Fixtures (conftest.py makes them available to every test): `sa_clean_env` (no credentials from
the developer's machine, HOME in a temporary folder), `sa_server` (a running server with SA_URL,
SA_TOKEN and the SDK's hosts pointed at it, also for subprocesses via PREANNOTATE_SA_HOSTS) and
`sa_module_server` (the same, shared by a module's tests).
"""

from __future__ import annotations

import base64
import collections
import contextlib
import copy
import email.parser
import email.policy
import itertools
import json
import re
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from .sa_metadata import METADATA_ROUTES, MetadataApi
from .sa_schema import schema_problems

TEAM_ID = 4242
#: A well-formed legacy team token (`<name>=<team id>`); the server accepts only its `tokens`.
DEFAULT_TOKEN = f"loopback-test-token-3f9c2a7e={TEAM_ID}"
STATUSES = {"NotStarted": 1, "InProgress": 2, "QualityCheck": 3, "Returned": 4, "Completed": 5, "Skipped": 6}
STATUS_NAMES = {v: k for k, v in STATUSES.items()}
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
    priorities: dict[int, dict[str, float]] = field(default_factory=lambda: collections.defaultdict(dict))
    priority_requests: list[list[tuple[str, str, float]]] = field(default_factory=list)
    custom_schema: dict[int, dict] = field(default_factory=lambda: collections.defaultdict(dict))
    schema_creations: list[tuple[str, list[str]]] = field(default_factory=list)
    custom_values: dict[int, dict[str, dict]] = field(default_factory=lambda: collections.defaultdict(dict))
    ids: itertools.count = field(default_factory=lambda: itertools.count(100))
    lock: threading.RLock = field(default_factory=threading.RLock)


class SuperAnnotateServer:
    """The loopback server and its Python API for tests."""

    def __init__(self, token: str = DEFAULT_TOKEN) -> None:
        self.token = token
        self.state = State(tokens={token})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    # lifecycle
    def start(self) -> SuperAnnotateServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> SuperAnnotateServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The main API's base URL, for SA_URL."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def hosts(self) -> dict[str, str]:
        """Base URLs of the hard-coded services, as `preannotate.superannotate.sdk.redirect_hosts` takes them."""
        names = {"wm": "work_management"}
        return {names.get(s, s): f"{self.url}/__{s}" for s in SERVICES}

    # faults and inspection
    def inject(self, path_substring: str, action: int | str, times: int = 1, method: str | None = None) -> None:
        """The next `times` requests whose path contains `path_substring` answer `action`.

        Args:
            path_substring: Matched against the request path (no query string).
            action: An HTTP status (429, 500, 503...), "drop" to close the connection unanswered, or "lost" to
                carry the request out and then close the connection unanswered (a response lost on the way).
            times: How many matching requests fail.
            method: Only requests with this method match, when given.
        """
        with self.state.lock:
            self.state.faults.append([path_substring, action, times, method])

    def project(self, name: str) -> dict | None:
        with self.state.lock:
            return next((p for p in self.state.projects.values() if p["name"] == name), None)

    def _project_id(self, name: str) -> int:
        project = self.project(name)
        if project is None:
            raise KeyError(f"no project {name!r}")
        return project["id"]

    def classes(self, project: str) -> list[dict]:
        with self.state.lock:
            return copy.deepcopy(self.state.classes[self._project_id(project)])

    def items(self, project: str) -> dict[str, dict]:
        """Items by name, with `url` and `status` (a status name)."""
        with self.state.lock:
            items = self.state.items[self._project_id(project)]
            return {n: {**i, "status": STATUS_NAMES[i["annotation_status"]]} for n, i in items.items()}

    def annotation(self, project: str, item: str) -> dict | None:
        with self.state.lock:
            return copy.deepcopy(self.state.annotations.get((self._project_id(project), item)))

    def set_annotation(self, project: str, item: str, annotation: dict) -> None:
        """Replaces an item's annotation, as an annotator's edit in the editor would."""
        with self.state.lock:
            pid = self._project_id(project)
            if item not in self.state.items[pid]:
                raise KeyError(f"no item {item!r} in {project!r}")
            self.state.annotations[(pid, item)] = copy.deepcopy(annotation)

    def set_status(self, project: str, item: str, status: str) -> None:
        with self.state.lock:
            self.state.items[self._project_id(project)][item]["annotation_status"] = STATUSES[status]

    def add_integration(self, name: str, source: str = "custom", bucket: str = "audio-bucket") -> int:
        """A storage integration of the team (source: aws, gcp, azure, custom...); returns its id."""
        with self.state.lock:
            iid = next(self.state.ids)
            self.state.integrations.append({"id": iid, "name": name, "source": INTEGRATION_TYPES[source],
                                            "bucket_name": bucket, "createdAt": STAMP, "updatedAt": STAMP})  # fmt: skip
            return iid

    def priorities(self, project: str) -> dict[str, float]:
        """Items' priority scores as stored (see also `state.priority_requests`, in the order sent)."""
        with self.state.lock:
            return dict(self.state.priorities[self._project_id(project)])

    def custom_schema(self, project: str) -> dict[str, dict]:
        with self.state.lock:
            return copy.deepcopy(self.state.custom_schema[self._project_id(project)])

    def custom_values(self, project: str) -> dict[str, dict]:
        """Items' custom field values as stored."""
        with self.state.lock:
            return copy.deepcopy(self.state.custom_values[self._project_id(project)])

    @property
    def upload_counts(self) -> collections.Counter:
        """Successful annotation stores per (project name, item name)."""
        with self.state.lock:
            names = {pid: p["name"] for pid, p in self.state.projects.items()}
            return collections.Counter({(names[p], i): n for (p, i), n in self.state.upload_counts.items()})

    def paths(self, method: str | None = None) -> list[str]:
        """Paths of the requests received so far (answered or not), oldest first."""
        with self.state.lock:
            return [p for m, p, _ in self.state.requests if method in (None, m)]

    def take_fault(self, method: str, path: str) -> int | str | None:
        with self.state.lock:
            for fault in self.state.faults:
                substring, action, times, only = fault
                if substring in path and only in (None, method) and times > 0:
                    fault[2] -= 1
                    return action
        return None


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
        if body["annotation_status"] not in STATUS_NAMES:
            return 400, {"error": "Invalid status"}
        for name in body["image_names"]:
            if name in items:
                items[name]["annotation_status"] = body["annotation_status"]
        return 200, {"success": True}

    # work management
    def workflows(self) -> tuple[int, Any]:
        return 200, {"data": [{"id": 7, "name": "System workflow", "type": "system"}], "count": 1}

    def workflow_statuses(self, workflow_id: str) -> tuple[int, Any]:
        return 200, {"data": [{"value": v, "status": {"name": n}} for n, v in STATUSES.items()], "count": 6}

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
        chunks = []
        for name, item in self.state.items[pid].items():
            annotation = self.state.annotations.get((pid, name))
            if item["id"] in wanted and annotation is not None:
                extra = {"id": item["id"], "url": item["url"], "status": STATUS_NAMES[item["annotation_status"]]}
                chunks.append(json.dumps({**annotation, "metadata": {**annotation["metadata"], **extra}}))
        return 200, DELIMITER.join(chunks)


def video_errors(annotation: Any, name: str, items: dict, classes: list[dict]) -> list[tuple[str, str]]:
    """What the platform rejects in a Video annotation: ("error", why) or (missing resource kind, name).

    Shapes and types are the shared schema's (sa_schema.py); what refers to the project (the item, classes,
    attribute groups) and how spans nest are checked here.
    """
    shape = schema_problems(annotation)
    if shape:
        return [("error", problem) for problem in shape]
    errors = []
    if annotation["metadata"]["name"] != name or name not in items:
        errors.append(("error", "metadata.name must be the name of an item in the folder"))
    by_name = {c["name"]: c for c in classes}
    for instance in annotation["instances"]:
        errors.extend(_instance_errors(instance, by_name))
    return errors


def _instance_errors(instance: dict, classes: dict[str, dict]) -> list[tuple[str, str]]:
    meta = instance["meta"]
    cls = classes.get(meta["className"])
    if cls is None:
        return [("class", meta["className"])]
    if not meta["start"] <= meta["end"]:
        return [("error", "meta.start must not be after meta.end")]
    groups = {g["name"] for g in cls["attribute_groups"]}
    errors = []
    for parameter in instance["parameters"]:
        errors.extend(_parameter_errors(parameter, (meta["start"], meta["end"]), groups))
    return errors


def _parameter_errors(parameter: dict, bounds: tuple[int, int], groups: set[str]) -> list[tuple[str, str]]:
    if not bounds[0] <= parameter["start"] <= parameter["end"] <= bounds[1]:
        return [("error", "a parameter's start/end must lie inside its event")]
    errors = []
    for stamp in parameter["timestamps"]:
        if not parameter["start"] <= stamp["timestamp"] <= parameter["end"]:
            errors.append(("error", "timestamps must lie inside their parameter"))
        errors.extend(("attributeGroup", a["groupName"]) for a in stamp["attributes"] if a["groupName"] not in groups)
    return errors


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


def _handler_for(server: SuperAnnotateServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stalls

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read server.paths()
            pass

        def handle_any(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            fault = server.take_fault(self.command, url.path)
            if fault == "drop":
                self._record(url.path, 0)
                self.close_connection = True
                return
            if fault is not None and fault != "lost":
                status, payload = int(fault), {"error": "Too many requests" if fault == 429 else "Server error"}
            else:
                query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
                status, payload = Api(server.state, self.command, url.path, query, self.headers, body).dispatch()
            if fault == "lost":  # done, but the client never hears of it
                self._record(url.path, 0)
                self.close_connection = True
                return
            self._record(url.path, status)
            self._send(status, payload)

        def _record(self, path: str, status: int) -> None:
            with server.state.lock:
                server.state.requests.append((self.command, path, status))

        def _send(self, status: int, payload: Any) -> None:
            text = payload if isinstance(payload, str) else json.dumps(payload)
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if isinstance(payload, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 429:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = handle_any

    return Handler


def clean_sa_environment(mp: pytest.MonkeyPatch, home: Path) -> None:
    """No SuperAnnotate settings from the environment or ~/.superannotate of the machine running tests."""
    for key in ("SA_TOKEN", "SA_URL", "VERIFY_SSL", "PREANNOTATE_SA_HOSTS"):
        mp.delenv(key, raising=False)
    mp.setenv("HOME", str(home))
    mp.delitem(sys.modules, "google.colab", raising=False)


@contextlib.contextmanager
def pointed_at_server(mp: pytest.MonkeyPatch) -> Iterator[SuperAnnotateServer]:
    """A running loopback server; SA_URL, SA_TOKEN and the SDK's hard-coded hosts point at it."""
    from preannotate.superannotate.sdk import HOSTS_ENV, load_sdk, redirect_hosts

    with SuperAnnotateServer() as server:
        load_sdk()
        restore = redirect_hosts(server.hosts)
        mp.setenv("SA_URL", server.url)
        mp.setenv("SA_TOKEN", server.token)
        mp.setenv(HOSTS_ENV, json.dumps(server.hosts))  # for notebooks and other subprocesses
        try:
            yield server
        finally:
            restore()


@pytest.fixture
def sa_clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No SuperAnnotate settings from the environment or ~/.superannotate of the machine running tests."""
    clean_sa_environment(monkeypatch, tmp_path_factory.mktemp("home"))


@pytest.fixture
def sa_server(sa_clean_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[SuperAnnotateServer]:
    """A running loopback server for one test; SA_URL, SA_TOKEN and the SDK's hard-coded hosts point at it."""
    with pointed_at_server(monkeypatch) as server:
        yield server


@pytest.fixture(scope="module")
def sa_module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SuperAnnotateServer]:
    """One loopback server for a module's tests (work shared by several tests, e.g. a batch of notebooks)."""
    with pytest.MonkeyPatch.context() as mp:
        clean_sa_environment(mp, tmp_path_factory.mktemp("home"))
        with pointed_at_server(mp) as server:
            yield server
