"""Finding the SuperAnnotate token: environment, Colab secrets, or the SDK's config file.

Never from a config value or a notebook parameter (those get saved with results). The
token's shape is checked here, before any network call, with the SDK's own patterns.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import CredentialsError
from .redact import get_logger, redact, register_secret

log = get_logger(__name__)

#: superannotate 4.6.2 `lib.core.entities.base`: a legacy team token carries its team id after
#: `=`; an API key is 32+ URL-safe characters. Anything else the SDK rejects as "Invalid token".
TEAM_TOKEN = re.compile(r"^[-.@_A-Za-z0-9]+=\d+$")
API_KEY = re.compile(r"^[-_A-Za-z0-9]{32,}$")
SDK_CONFIG_DIR = Path("~/.superannotate")
SETUP_HINT = "set SA_TOKEN in the environment (or a Colab secret named SA_TOKEN); see SuperAnnotate team settings"


@dataclass(frozen=True)
class Credentials:
    """A token and where to use it; the token is left out of repr.

    Attributes:
        token: The team token or API key.
        source: Where it came from, for messages (`SA_TOKEN`, `Colab secret SA_TOKEN`, a file path).
        url: The main API URL when not SuperAnnotate's own (SA_URL or the config file).
        verify_ssl: False only when VERIFY_SSL=false was configured.
    """

    token: str = field(repr=False)
    source: str
    url: str | None = None
    verify_ssl: bool = True

    def sdk_config(self) -> dict[str, object]:
        """The `SAClient(config=...)` mapping for these credentials."""
        config: dict[str, object] = {"SA_TOKEN": self.token, "VERIFY_SSL": self.verify_ssl}
        if self.url:
            config["SA_URL"] = self.url
        return config


def find_credentials() -> Credentials | None:
    """Looks for a token in SA_TOKEN, then Colab secrets, then ~/.superannotate/config.{ini,json}.

    Returns:
        The credentials, or None when no source holds a token.

    Raises:
        CredentialsError: A token was found but is not shaped like a SuperAnnotate token, SA_URL is
            not an http(s) URL with a host, or the config file cannot be read.
    """
    found = _from_environment() or _from_colab() or _from_config_files()
    if found is not None:
        register_secret(found.token)
        if found.url and (password := _url_password(found.url)):  # a gateway's, which requests quotes in errors
            register_secret(password)
        check_token_format(found.token, found.source)
        if found.url:
            check_url(found.url, found.source)
    return found


def check_url(url: str, source: str) -> None:
    """Refuses an API URL the SDK could not reach at any attempt (a typo, not an outage).

    Args:
        url: SA_URL, from the environment or the SDK's config file.
        source: Where the token came from; the URL came from the same place.

    Raises:
        CredentialsError: The URL has no http(s) scheme or no host; the message quotes it without its password.
    """
    if not _is_http_url(url):
        where = "SA_URL" if source in ("SA_TOKEN", "Colab secret SA_TOKEN") else f"SA_URL in {source}"
        shown = redact(url)
        raise CredentialsError(
            f"{where} is not an http(s) URL with a host: {shown!r}; leave it unset for SuperAnnotate's own API"
        )


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def check_token_format(token: str, source: str = "SA_TOKEN") -> None:
    """Raises CredentialsError unless `token` matches a team token or API key (message never shows it)."""
    if not (TEAM_TOKEN.match(token) or API_KEY.match(token)):
        raise CredentialsError(
            f"the SuperAnnotate token from {source} is malformed: expected a team token ('<name>=<team id>') "
            f"or an API key (32+ letters, digits, '-' or '_'); {SETUP_HINT}"
        )


def _verify_ssl(value: str | None) -> bool:
    return (value or "true").strip().lower() not in ("false", "f", "0", "no")


def _from_environment() -> Credentials | None:
    token = os.environ.get("SA_TOKEN", "").strip()
    if not token:
        return None
    url = os.environ.get("SA_URL") or None
    return Credentials(token, "SA_TOKEN", url, _verify_ssl(os.environ.get("VERIFY_SSL")))


def _from_colab() -> Credentials | None:
    # Only inside Colab: importing google.colab elsewhere is slow or impossible.
    if "google.colab" not in sys.modules:
        return None
    try:
        from google.colab import userdata

        token = (userdata.get("SA_TOKEN") or "").strip()
    except Exception:  # noqa: BLE001 - SecretNotFoundError, NotebookAccessError and friends: no secret
        return None
    return Credentials(token, "Colab secret SA_TOKEN", os.environ.get("SA_URL") or None) if token else None


def _from_config_files() -> Credentials | None:
    folder = SDK_CONFIG_DIR.expanduser()
    ini, js = folder / "config.ini", folder / "config.json"
    if ini.is_file():
        return _from_ini(ini)
    if js.is_file():
        return _from_json(js)
    return None


def _from_ini(path: Path) -> Credentials | None:
    parser = configparser.ConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are upper case in the SDK's files
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, configparser.Error) as e:
        # Not chained: a parse error's text may quote the file, token included.
        raise CredentialsError(f"cannot read SuperAnnotate config {path}: {type(e).__name__}") from None
    section = {k.upper(): v for k, v in parser["DEFAULT"].items()}
    token = section.get("SA_TOKEN", "").strip()
    if not token:
        return None
    return Credentials(token, str(path), section.get("SA_URL") or None, _verify_ssl(section.get("VERIFY_SSL")))


def _from_json(path: Path) -> Credentials | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        # Not chained: a parse error's text may quote the file, token included.
        raise CredentialsError(f"cannot read SuperAnnotate config {path}: {type(e).__name__}") from None
    token = str(data.get("token") or "").strip() if isinstance(data, dict) else ""
    if not token:
        return None
    verify = data.get("ssl_verify")
    return Credentials(token, str(path), data.get("main_endpoint") or None, True if verify is None else bool(verify))
