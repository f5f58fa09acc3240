"""Importing the official SuperAnnotate SDK safely, and pointing it at other hosts.

Everything that touches the SDK's import-time behaviour or its private module layout lives
here, so that an SDK upgrade has one place to be checked. The SDK is imported lazily: a dry
run never pays for (or depends on) it.
"""

from __future__ import annotations

import json
import os
import sys
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import UploadError

#: Set before the import unless the user chose otherwise: `import superannotate` asks PyPI
#: for newer versions (and fails offline) unless SA_VERSION_CHECK is false, and every call
#: sends telemetry unless SA_SKIP_METRICS is true. A batch tool should do neither by default.
SDK_ENVIRONMENT = {"SA_VERSION_CHECK": "false", "SA_SKIP_METRICS": "true"}

#: Test and self-hosting hook: a JSON object mapping service names (see SERVICES) to base
#: URLs. The SDK hard-codes these hosts; SA_URL only moves the main API.
HOSTS_ENV = "PREANNOTATE_SA_HOSTS"

#: The services whose hosts the SDK hard-codes, with the path each builder appends.
SERVICES = ("work_management", "item", "assets", "explore", "telemetry")

_TESTED_VERSION = "4.6.2"


def load_sdk() -> types.ModuleType:
    """Imports `superannotate` with the environment and fixes this project needs.

    Returns:
        The `superannotate` module.

    Raises:
        UploadError: The SDK is not installed or its import fails.
    """
    if "superannotate" not in sys.modules:
        for key, value in SDK_ENVIRONMENT.items():
            os.environ.setdefault(key, value)
    try:
        import superannotate
    except ImportError as e:
        raise UploadError(
            "the SuperAnnotate SDK is not installed: pip install 'superannotate==4.6.2' "
            "(or pip install 'preannotate[superannotate]')"
        ) from e
    except Exception as e:  # noqa: BLE001 - the version check raises requests errors offline
        raise UploadError(f"importing the SuperAnnotate SDK failed: {type(e).__name__}: {e}") from e
    _fix_typed_dicts()
    hosts = os.environ.get(HOSTS_ENV)
    if hosts:
        redirect_hosts(_parse_hosts(hosts))
    return superannotate


def sdk_version() -> str:
    """The installed SDK's version, without importing it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("superannotate")
    except PackageNotFoundError:
        return "not installed"


def _fix_typed_dicts() -> None:
    """Rebuilds the SDK interface's TypedDicts on typing_extensions where pydantic needs it.

    Why: superannotate 4.5.3 to 4.6.2 import `TypedDict` from `typing` on Python 3.11, and
    pydantic v2's `validate_call` (run on every SAClient call) refuses `typing.TypedDict` before
    Python 3.12, so `create_project` and `attach_items` fail with PydanticUserError. The
    annotations are strings resolved from the module's globals at call time, so replacing the
    classes in the module is enough. Python 3.10 (the SDK uses typing_extensions there) and
    3.12+ (pydantic accepts typing.TypedDict) need nothing and are left alone.
    """
    if sys.version_info >= (3, 12):
        return
    from superannotate import SAClient

    # The SDK's modules can be loaded twice (as `superannotate.lib...` and as `lib...`): fix
    # the one SAClient's methods resolve their annotations in.
    interface = sys.modules[SAClient.__module__]
    for name, value in list(vars(interface).items()):
        if _is_typing_typed_dict(value):
            setattr(interface, name, _as_typing_extensions(value))


def _is_typing_typed_dict(value: Any) -> bool:
    return isinstance(value, type) and typing.is_typeddict(value) and type(value).__module__ == "typing"


def _as_typing_extensions(cls: type) -> type:
    import typing_extensions

    def body(namespace: dict[str, Any]) -> None:
        namespace["__annotations__"] = dict(cls.__annotations__)
        namespace["__module__"] = cls.__module__
        namespace["__qualname__"] = cls.__qualname__

    return types.new_class(
        cls.__name__, (typing_extensions.TypedDict,), {"total": getattr(cls, "__total__", True)}, body
    )


def _parse_hosts(raw: str) -> dict[str, str]:
    try:
        hosts = json.loads(raw)
    except ValueError as e:
        raise UploadError(f"{HOSTS_ENV} must be a JSON object of service base URLs") from e
    if not isinstance(hosts, dict):
        raise UploadError(f"{HOSTS_ENV} must be a JSON object of service base URLs")
    return {str(k): str(v) for k, v in hosts.items()}


def redirect_hosts(hosts: Mapping[str, str]) -> Callable[[], None]:
    """Points the SDK's hard-coded service hosts at other base URLs.

    Used by the test suite's loopback server (and usable for a self-hosted gateway).
    The SDK must already be imported (see `load_sdk`).

    Args:
        hosts: Base URLs (scheme, host and optional path prefix, no trailing slash) keyed by
            service name: `work_management`, `item`, `assets`, `explore`, `telemetry`.
            Services not named keep the SDK's own hosts.

    Returns:
        A function that restores the SDK's own URL builders.
    """
    unknown = set(hosts) - set(SERVICES)
    if unknown:
        raise UploadError(f"unknown SuperAnnotate service(s) {sorted(unknown)}; known: {', '.join(SERVICES)}")
    patches = [patch for name, base in hosts.items() for patch in _builders(name, base.rstrip("/"))]
    originals = [(owner, attr, owner.__dict__[attr]) for owner, attr, _ in patches]
    for owner, attr, replacement in patches:
        setattr(owner, attr, replacement)

    def restore() -> None:
        for owner, attr, original in originals:
            setattr(owner, attr, original)

    return restore


def _builders(service: str, base: str) -> list[tuple[Any, str, Any]]:
    """The (owner, attribute, replacement) patches that move one service to `base`."""
    # Private SDK modules (the SDK puts its folder on sys.path and imports `lib.*`).
    from lib.infrastructure import serviceprovider
    from lib.infrastructure.services import annotation, auth, explore, telemetry_scoring

    provider = serviceprovider.ServiceProvider
    if service == "work_management":
        url = f"{base}/api/v1/"
        return [
            (provider, "_get_work_management_url", staticmethod(lambda client: url)),
            (auth, "_get_work_management_url", lambda api_url: url),
        ]
    if service == "item":
        url = f"{base}/api/v1/"
        return [(provider, "_get_item_service_url", staticmethod(lambda client: url))]
    if service == "assets":
        default = annotation.AnnotationService.ASSETS_PROVIDER_VERSION

        def assets_url(self: Any, version: str | None = None) -> str:
            return f"{base}/api/{version or default}/"

        return [(annotation.AnnotationService, "get_assets_provider_url", assets_url)]
    if service == "explore":
        return [(explore.ExploreService, "_explore_service_url", lambda self, version: f"{base}/api/{version}/")]
    service_cls = telemetry_scoring.TelemetryScoringService
    return [(service_cls, "telemetry_service_url", property(lambda self: f"{base}/api/{self.API_VERSION}/"))]
