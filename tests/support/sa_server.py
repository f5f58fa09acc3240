"""A small SuperAnnotate-compatible HTTP server on loopback, for tests with the real SDK.

It answers the requests superannotate 4.6.2 makes for the calls this project uses (see
/work/shared/notes/superannotate.md), keeps projects, classes, items, annotations, statuses,
priority scores and custom fields (sa_api.py, sa_metadata.py) in memory, validates what it receives the
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

import collections
import contextlib
import copy
import json
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from .sa_api import (  # noqa: F401  (Api and PROJECT_TYPES are re-exported for tests)
    DEFAULT_TOKEN,
    INTEGRATION_TYPES,
    PROJECT_TYPES,
    SERVICES,
    STAMP,
    Api,
    State,
)


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
    def inject(
        self, path_substring: str, action: int | str, times: int = 1, method: str | None = None, after: int = 0
    ) -> None:
        """The next `times` requests whose path contains `path_substring` answer `action`.

        Args:
            path_substring: Matched against the request path (no query string).
            action: An HTTP status (429, 500, 503...), "drop" to close the connection unanswered, or "lost" to
                carry the request out and then close the connection unanswered (a response lost on the way).
            times: How many matching requests fail.
            method: Only requests with this method match, when given.
            after: How many matching requests are answered normally first (a failure half-way through).
        """
        with self.state.lock:
            self.state.faults.append([path_substring, action, times, method, after])

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
            items, names = self.state.items[self._project_id(project)], {v: k for k, v in self.state.statuses.items()}
            return {n: {**i, "status": names[i["annotation_status"]]} for n, i in items.items()}

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
            self.state.items[self._project_id(project)][item]["annotation_status"] = self.state.statuses[status]

    def add_item(self, project: str, item: str, url: str, status: str = "NotStarted") -> None:
        """An item someone else attached to the project (in the web app or with their own script)."""
        with self.state.lock:
            pid = self._project_id(project)
            folder = self.state.projects[pid]["folder_id"]
            self.state.items[pid][item] = {
                "id": next(self.state.ids), "name": item, "url": url, "folder_id": folder,
                "integration_id": None, "annotation_status": self.state.statuses[status],
            }  # fmt: skip

    def delete_item(self, project: str, item: str) -> None:
        """Deletes an item and its annotation, as someone would in the web app."""
        with self.state.lock:
            pid = self._project_id(project)
            del self.state.items[pid][item]
            self.state.annotations.pop((pid, item), None)

    def delete_project(self, project: str) -> None:
        """Deletes a project with its items, as someone would in the web app."""
        with self.state.lock:
            del self.state.projects[self._project_id(project)]

    def add_workflow_status(self, name: str, value: int) -> None:
        """A status of the team's own workflow (the SDK reads status names from the project's workflow)."""
        with self.state.lock:
            self.state.statuses[name] = value

    def omit_from_download(self, item: str) -> None:
        """Annotation downloads leave the item out from now on, as a partial answer of the platform would."""
        with self.state.lock:
            self.state.download_omits.add(item)

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
                substring, action, times, only, after = fault
                if substring in path and only in (None, method) and times > 0:
                    if after > 0:
                        fault[4] -= 1
                        continue
                    fault[2] -= 1
                    return action
        return None


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
