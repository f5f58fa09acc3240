"""Keeping the SuperAnnotate token out of logs, exception messages and files.

Every secret the package handles is registered here once (`register_secret`); `redact`
replaces each with `***`, and so every password in a URL and every signature of a signed URL.
Loggers of this subpackage and the SDK's own `sa` logger carry a filter that redacts every
record before any handler (or pytest's caplog) sees it.
"""

from __future__ import annotations

import logging
import re
import threading

from ..config import SIGNATURE_PARAMETERS
from ..errors import in_chain

MASK = "***"
# Shorter strings are not masked: replacing them would garble ordinary text.
_MIN_SECRET_LENGTH = 8
_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(secret: str) -> None:
    """Adds a secret to mask from now on (a team token's name part too, and its team-less form)."""
    parts = {secret, secret.rsplit("=", 1)[0]}
    with _lock:
        _secrets.update(p for p in parts if len(p) >= _MIN_SECRET_LENGTH)


# What URLs carry as credentials, whatever registered them: the password before the host (`SA_URL`'s, quoted by
# requests in its errors), and the signatures and tokens of signed URLs (S3, Azure SAS, Google).
_URL_PASSWORD = re.compile(r"(?<=://)([^/\s:@'\"]*):[^/\s@'\"]+@")
_SIGNED = re.compile(rf"(?i)([?&](?:{'|'.join(map(re.escape, (*SIGNATURE_PARAMETERS, 'signature')))})=)[^&\s'\"#]+")


def redact(text: object) -> str:
    """Returns `str(text)` with every registered secret, URL password and URL signature replaced by `***`."""
    result = str(text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        result = result.replace(secret, MASK)
    result = _URL_PASSWORD.sub(rf"\1:{MASK}@", result)
    return _SIGNED.sub(rf"\1{MASK}", result)


def contains_secret(text: object) -> bool:
    """Whether `str(text)` holds a registered secret."""
    return redact(text) != str(text)


def clean_cause(error: BaseException) -> BaseException | None:
    """The error to chain with `raise ... from`, or None when its message would leak a secret.

    Chaining keeps the original message in tracebacks, so an error whose text holds the
    token is dropped from the chain rather than printed.
    """
    return None if in_chain(error, contains_secret) else error


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with secrets masked; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Masks secrets in the formatted message (and in exception text, if any)."""
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and record.exc_info[1] is not None and contains_secret(record.exc_info[1]):
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


_FILTER = RedactingFilter()


def get_logger(name: str) -> logging.Logger:
    """Returns the named logger with the redacting filter attached (once)."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


def protect_sdk_logger() -> None:
    """Attaches the filter to the SDK's `sa` logger (its setup replaces handlers, not filters)."""
    get_logger("sa")
