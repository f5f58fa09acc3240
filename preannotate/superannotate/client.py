"""The project's wrapper over `SAClient`: retries, error translation, and only the calls it needs.

Every SDK call goes through `UploadSession._call`, which retries transient failures and
turns SDK exceptions into `UploadError` / `CredentialsError` with the token scrubbed.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlsplit

from ..errors import CredentialsError, UploadError
from .credentials import SETUP_HINT, Credentials
from .redact import clean_cause, get_logger, protect_sdk_logger, redact
from .retry import RetryPolicy, call_with_retry, is_transient
from .sdk import load_sdk

log = get_logger(__name__)
T = TypeVar("T")

DEFAULT_HOST = "api.superannotate.com"
LIST_CHUNK = 500  # item names per list request, well under URL and body limits
# What the SDK says when the server rejects a token (its SAAuthError or a failed user/team lookup).
_REJECTED = ("invalid credentials", "invalid token", "verify your credentials", "not authorized", "unauthorized")


def connect(credentials: Credentials, policy: RetryPolicy) -> UploadSession:
    """Builds an SDK client, which checks the token against the server.

    Args:
        credentials: The token and API URL to use.
        policy: Retries for transient failures, here and in every later call.

    Returns:
        A session ready for uploads.

    Raises:
        CredentialsError: The server rejects the token.
        UploadError: The SDK is missing or the server cannot be reached.
    """
    sdk = load_sdk()
    protect_sdk_logger()
    config = {**credentials.sdk_config(), "LOGGING_LEVEL": "WARNING"}  # our own log lines say what happens
    try:
        client = call_with_retry(lambda: sdk.SAClient(config=config), "connecting to SuperAnnotate", policy)
    except Exception as e:
        raise _translate(e, f"connecting to SuperAnnotate with the token from {credentials.source}") from clean_cause(e)
    return UploadSession(client, credentials, policy)


def _translate(error: BaseException, what: str) -> Exception:
    """An UploadError or CredentialsError for an SDK failure, its message scrubbed of secrets."""
    message = redact(str(error)) or type(error).__name__
    if type(error).__name__ == "SAAuthError" or any(s in message.lower() for s in _REJECTED):
        # The SDK says "verify your credentials" for a server error on /user/ME too: both are named.
        return CredentialsError(
            f"SuperAnnotate rejected the token, or failed to answer ({what}): {message}; {SETUP_HINT}; "
            "if the token is right, try again later"
        )
    hint = " (gave up after retrying)" if is_transient(error) else ""
    return UploadError(f"{what} failed{hint}: {message}")


class ListedItem(NamedTuple):
    """An item already in the project, as the SDK lists it.

    Attributes:
        status: Its annotation status (None when the listing lacks it).
        url: The audio URL it was attached with (None when the listing lacks it).
    """

    status: str | None
    url: str | None


class UploadSession:
    """A connected SDK client plus the retry policy; one per run."""

    def __init__(self, client: Any, credentials: Credentials, policy: RetryPolicy) -> None:
        self.client = client
        self.credentials = credentials
        self.policy = policy

    def __repr__(self) -> str:
        return f"UploadSession(host={self.host!r}, team_id={self.team_id!r}, token from {self.credentials.source})"

    @property
    def host(self) -> str:
        """The main API host, for records (SuperAnnotate's own unless SA_URL says otherwise).

        Without the URL's user name and password (`https://user:password@gateway`): this lands in
        run.json, uploads.json and messages.
        """
        if not self.credentials.url:
            return DEFAULT_HOST
        return urlsplit(self.credentials.url).netloc.rpartition("@")[2]

    @property
    def team_id(self) -> int | None:
        """The team the token acts in."""
        return getattr(getattr(self.client, "controller", None), "team_id", None)

    def target(self, project: str) -> str:
        """A key naming one project on one server and team, for the upload ledger."""
        return f"{self.host}/team/{self.team_id}/{project}"

    def _call(self, what: str, call: Callable[[], T]) -> T:
        try:
            return call_with_retry(call, what, self.policy)
        except Exception as e:
            raise _translate(e, what) from clean_cause(e)

    # projects and classes
    def find_project(self, name: str) -> dict | None:
        """The project's metadata, or None when the team has no project of that exact name."""

        def lookup() -> dict | None:
            try:
                return self.client.get_project_metadata(name)
            except Exception as e:  # the SDK's AppException, imported only with the SDK
                if "project not found" in str(e).lower():
                    return None
                raise

        return self._call(f"looking up project {name!r}", lookup)

    def check_project(self, name: str) -> dict | None:
        """Like find_project, but a project that is not a Video project is an UploadError."""
        project = self.find_project(name)
        if project is not None and project.get("type") != "Video":
            raise UploadError(
                f"SuperAnnotate project {name!r} is a {project.get('type')} project; audio needs a Video project "
                "(choose another superannotate.project)"
            )
        return project

    def ensure_project(self, name: str, description: str) -> tuple[dict, bool]:
        """Returns the Video project `name`, creating it when missing, and whether it was created.

        A create call that SuperAnnotate carried out but whose answer was lost is retried, and the
        SDK then refuses the name as "not unique": the project exists, so it is looked up again.
        """
        project = self.check_project(name)
        if project is not None:
            return project, False
        try:
            created = self._call(
                f"creating project {name!r}", lambda: self.client.create_project(name, description, "Video")
            )
        except UploadError as e:
            if "not unique" not in str(e).lower():
                raise
            project = self.check_project(name)
            if project is None:
                raise
            log.info("SuperAnnotate project %r exists (created by a call whose answer was lost, or meanwhile)", name)
            return project, False
        log.info("created SuperAnnotate Video project %r", name)
        return created, True

    def list_classes(self, project: str) -> list[dict]:
        """The project's annotation classes with their attribute groups."""
        return self._call(f"listing classes of {project!r}", lambda: self.client.search_annotation_classes(project))

    def create_class(self, project: str, definition: dict) -> dict:
        """Creates one annotation class from its definition (name, color, type, attribute_groups)."""
        name = definition["name"]
        return self._call(
            f"creating class {name!r} in {project!r}",
            lambda: self.client.create_annotation_class(
                project,
                name,
                definition.get("color", "#1F77B4"),
                attribute_groups=copy.deepcopy(definition.get("attribute_groups") or []),
                class_type=definition.get("type", "object"),
            ),
        )

    # items and annotations
    def listed_items(self, project: str, names: list[str]) -> dict[str, ListedItem]:
        """Which of `names` are items of the project's root folder, with their status and audio URL."""
        found: dict[str, ListedItem] = {}
        for start in range(0, len(names), LIST_CHUNK):
            items = self._list_items(project, names[start : start + LIST_CHUNK])
            found.update({i["name"]: ListedItem(i.get("annotation_status"), i.get("url")) for i in items})
        return found

    def _list_items(self, project: str, names: list[str]) -> list[dict]:
        return self._call(f"listing items of {project!r}", lambda: self.client.list_items(project, name__in=names))

    def attach(self, project: str, attachments: list[dict[str, str]]) -> tuple[list[str], list[str], list[str]]:
        """Attaches items by URL; returns (attached, failed, already present) names.

        Args:
            project: The project name.
            attachments: Dicts with name, url and, for items in a storage integration, integration (its name).
        """
        return self._call(
            f"attaching {len(attachments)} item(s) to {project!r}",
            lambda: self.client.attach_items(project, copy.deepcopy(attachments)),
        )

    def upload(self, project: str, annotations: list[dict]) -> dict[str, list]:
        """One bulk upload call, statuses untouched; returns the SDK's succeeded/failed/skipped names."""

        def call() -> dict[str, list]:
            # Copies: the SDK writes lastAction and creationType into the dicts it is given.
            payload = copy.deepcopy(annotations)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # keep_status: statuses are set separately
                return self.client.upload_annotations(project, payload, keep_status=True)

        return self._call(f"uploading {len(annotations)} annotation(s) to {project!r}", call)

    def set_status(self, project: str, status: str, names: list[str]) -> None:
        """Sets the annotation status of the named items."""
        self._call(
            f"setting status {status} on {len(names)} item(s) in {project!r}",
            lambda: self.client.set_annotation_statuses(project, status, names),
        )

    def get_annotations(self, project: str, names: list[str]) -> list[dict]:
        """The annotations of the named items as SuperAnnotate holds them."""
        return self._call(
            f"downloading {len(names)} annotation(s) from {project!r}",
            lambda: self.client.get_annotations(project, list(names)),
        )

    # priorities and custom fields
    def upload_priorities(self, project: str, scores: list[dict]) -> tuple[list[str], list[str]]:
        """Sends priority scores (`{"name", "priority"}` dicts); returns (updated, skipped) item names."""
        return self._call(
            f"sending priority scores of {len(scores)} item(s) to {project!r}",
            lambda: self.client.upload_priority_scores(project, copy.deepcopy(scores)),
        )

    def custom_fields(self, project: str) -> dict[str, dict]:
        """The project's custom field schema ({} when it has none)."""
        return self._call(f"reading custom fields of {project!r}", lambda: self.client.get_custom_fields(project))

    def create_custom_fields(self, project: str, fields: dict[str, dict]) -> dict[str, dict]:
        """Adds fields to the project's custom field schema; returns the whole schema."""
        return self._call(
            f"creating custom fields {', '.join(fields)} in {project!r}",
            lambda: self.client.create_custom_fields(project, copy.deepcopy(fields)),
        )

    def upload_custom_values(self, project: str, values: list[dict[str, dict]]) -> dict[str, list]:
        """Sets custom field values (`{item: {field: value}}` dicts); returns succeeded and failed names."""
        return self._call(
            f"sending custom field values of {len(values)} item(s) to {project!r}",
            lambda: self.client.upload_custom_values(project, copy.deepcopy(values)),
        )
