"""Retrying SuperAnnotate calls that fail for passing reasons, with exponential backoff."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from .redact import get_logger, redact

log = get_logger(__name__)
T = TypeVar("T")

MAX_BACKOFF_SECONDS = 60.0
# The SDK turns HTTP failures into AppException messages and drops the status code, so
# transient failures are recognised by what those messages say (429, 5xx, a lost connection).
_TRANSIENT = re.compile(
    r"\b(429|500|502|503|504)\b|too many requests|rate.?limit|server error|unavailable|timed? ?out|"
    r"connection|disconnect|reset by peer|broken pipe|unknown exception|can't upload annotations",
    re.IGNORECASE,
)
# Errors that retrying cannot fix, whatever their message says. The SDK wraps every requests error as
# "Unknown exception: ...", so a URL requests refuses to send is recognised by requests' own wording.
_PERMANENT_NAMES = frozenset(
    {"SAAuthError", "PydanticUserError", "ValidationError", "InvalidURL", "MissingSchema", "InvalidSchema"}
)
_PERMANENT = re.compile(r"invalid url|no connection adapters|no scheme supplied|failed to parse", re.IGNORECASE)


def is_transient(error: BaseException) -> bool:
    """Whether a failed call is worth repeating: connection problems, rate limits, server errors."""
    if type(error).__name__ in _PERMANENT_NAMES or _PERMANENT.search(str(error)):
        return False
    if isinstance(error, (ConnectionError, TimeoutError)):
        return True
    module = type(error).__module__
    if module.startswith(("requests", "urllib3", "aiohttp")):
        return True
    return bool(_TRANSIENT.search(str(error)))


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry.

    Attributes:
        max_attempts: Tries in all, the first included.
        backoff_seconds: Wait before the second try; doubled before each further one.
        sleep: The waiting function (tests pass a recorder).
    """

    max_attempts: int = 5
    backoff_seconds: float = 1.0
    sleep: Callable[[float], None] = time.sleep

    def delays(self) -> Iterator[float]:
        """The waits between tries: backoff, 2x, 4x... capped at MAX_BACKOFF_SECONDS."""
        for retry in range(self.max_attempts - 1):
            yield min(self.backoff_seconds * 2**retry, MAX_BACKOFF_SECONDS)


def call_with_retry(call: Callable[[], T], what: str, policy: RetryPolicy) -> T:
    """Runs `call`, repeating it after transient failures as the policy allows.

    Args:
        call: The call to make.
        what: A few words for log messages, like "creating project 'Pods'".
        policy: Attempts and backoff.

    Returns:
        What `call` returned.

    Raises:
        Exception: The last error, when it is not transient or no attempts are left.
    """
    delays = policy.delays()
    while True:
        try:
            return call()
        except Exception as e:
            delay = next(delays, None) if is_transient(e) else None
            if delay is None:
                raise
            log.warning("%s failed (%s); retrying in %.1f s", what, _short(e), delay)
            policy.sleep(delay)


def _short(error: BaseException, limit: int = 200) -> str:
    text = " ".join(redact(f"{type(error).__name__}: {error}").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
