"""Where each item's audio lives: a CSV mapping and/or a URL prefix, and the storage integration to use.

SuperAnnotate Video projects do not take uploaded files: items are attached by URL. Without a
storage integration only http(s) URLs work; an integration (SuperAnnotate's link to a bucket) can
also take other schemes such as s3:// or gs://.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urlsplit

from ..cloud import is_bucket_url, object_links
from ..config import CONFIG_RULE, SECRET_HINT, URL_HINT, looks_like_token, url_credentials
from ..errors import ConfigError
from ..options.upload import SuperAnnotateOptions, is_web_url
from ..storage import expand_home

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")
NEEDS_INTEGRATION = (
    "only http(s) URLs can be attached unless a SuperAnnotate storage integration is named "
    "(superannotate.integration, or an integration column in url_csv)"
)


@dataclass(frozen=True)
class Link:
    """Where one item's audio lives, and the storage integration to attach it through (None: plain URL)."""

    url: str
    integration: str | None = None


@dataclass(frozen=True)
class UrlMap:
    """Item URLs by item name or by source path, with an optional prefix for the rest."""

    by_name: dict[str, Link] = field(default_factory=dict)
    by_path: dict[str, Link] = field(default_factory=dict)
    prefix: str | None = None
    integration: str | None = None
    objects: Callable[[str], Link] | None = None  # a bucket input's objects, by source (superannotate.urls)

    @classmethod
    def from_options(
        cls, url_csv: str | None, url_prefix: str | None, input_dir: Path | None, integration: str | None = None
    ) -> UrlMap:
        """Reads the CSV (when given) and keeps the prefix; checks that every URL can be attached.

        Args:
            url_csv: The CSV of item URLs, or None.
            url_prefix: Base URL for items the CSV does not name, or None.
            input_dir: The dataset folder, for absolute paths in the CSV; None leaves them as written.
            integration: The storage integration for URLs whose CSV row names none.

        Raises:
            ConfigError: The CSV is missing, lacks the columns, or holds a bad or conflicting URL, or a URL
                is not http(s) and no integration is named for it.
        """
        if url_prefix and not integration and not is_web_url(url_prefix):
            raise ConfigError(f"superannotate.url_prefix {url_prefix!r}: {NEEDS_INTEGRATION}")
        by_name, by_path = read_url_csv(Path(url_csv), input_dir, integration) if url_csv else ({}, {})
        return cls(by_name, by_path, url_prefix, integration)

    def link_for(self, item: str, source: str) -> Link | None:
        """The CSV's link by name, then by path, then prefix + quoted path; else None."""
        found = self.by_name.get(item) or self.by_path.get(normalize_path(source))
        if found:
            return found
        if self.prefix:
            return Link(prefix_url(self.prefix, source), self.integration)
        if self.objects is not None:
            return self.objects(source)
        return None

    def url_for(self, item: str, source: str) -> str | None:
        """The URL of an item (see `link_for`), or None."""
        link = self.link_for(item, source)
        return link.url if link else None

    @property
    def configured(self) -> bool:
        """Whether any URL source is configured at all."""
        return bool(self.by_name or self.by_path or self.prefix or self.objects)

    @classmethod
    def for_run(cls, options: SuperAnnotateOptions, input_dir: str | Path | None) -> UrlMap:
        """The URL map of a run: url_csv, url_prefix, then (for a bucket input) the objects' URLs.

        Args:
            options: The superannotate section (url_csv, url_prefix, integration, urls, url_expiry_hours).
            input_dir: The run's input.dir, a folder or a bucket URL; None when not known yet.

        Raises:
            ConfigError: As `from_options`, or superannotate.urls is set and input.dir is not a bucket URL.
        """
        bucket = input_dir is not None and is_bucket_url(str(input_dir))
        folder = Path(input_dir) if input_dir is not None and not bucket else None
        urls = cls.from_options(options.url_csv, options.url_prefix, folder, options.integration)
        if options.urls is None:
            return urls
        if not bucket:
            raise ConfigError(f"superannotate.urls: {options.urls} needs a bucket input.dir (s3://, gs://, az://)")
        make = object_links(str(input_dir), options.urls, options.url_expiry_hours)
        integration = options.integration if options.urls == "integration" else None
        return dataclasses.replace(urls, objects=lambda source: Link(make(source), integration))


def prefix_url(prefix: str, source: str) -> str:
    """`prefix` joined to the URL-quoted relative path (slashes kept)."""
    return f"{prefix.rstrip('/')}/{quote(normalize_path(source), safe='/')}"


def normalize_path(path: str) -> str:
    """A relative path with `/` separators and no leading `./`."""
    return PurePosixPath(path.replace("\\", "/")).as_posix().lstrip("/") if path else ""


def read_url_csv(
    path: Path, input_dir: Path | None, integration: str | None = None
) -> tuple[dict[str, Link], dict[str, Link]]:
    """Reads a `name,url` or `path,url` CSV, optionally with an `integration` column (a header row is required).

    Args:
        path: The CSV file.
        input_dir: The dataset folder, for absolute paths; None keeps them as written.
        integration: The integration of rows whose integration cell is empty (or that have none).

    Returns:
        Links by item name and links by path relative to the input folder.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise ConfigError(f"superannotate.url_csv: cannot read {path}: {e.strerror or e}") from e
    by_name: dict[str, Link] = {}
    by_path: dict[str, Link] = {}
    for line, row in enumerate(rows, start=2):
        row = {str(k).strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
        if "url" not in row or not ({"name", "path"} & set(row)):
            raise ConfigError(f"superannotate.url_csv {path} needs a header with url and name or path columns")
        link = _link(row, integration, f"{path}:{line}")
        if row.get("name"):
            _add(by_name, row["name"], link, f"{path}:{line}")
        if row.get("path"):
            _add(by_path, _relative(row["path"], input_dir), link, f"{path}:{line}")
    return by_name, by_path


def _link(row: dict[str, str], integration: str | None, where: str) -> Link:
    url, named = row["url"], row.get("integration") or integration
    # Before any message could quote it: the URL would be sent, kept in run.json and uploads.json, and shown.
    if held := url_credentials(url):
        raise ConfigError(f"{where}: the URL holds {held}: {CONFIG_RULE}; {URL_HINT}")
    if looks_like_token(url):
        raise ConfigError(f"{where}: the URL holds a SuperAnnotate token: {CONFIG_RULE}; {SECRET_HINT}")
    if not _URL.match(url):
        raise ConfigError(f"{where}: {url!r} is not an absolute URL")
    if not named and not is_web_url(url):
        raise ConfigError(f"{where}: {url!r}: {NEEDS_INTEGRATION}")
    return Link(url, named or None)


def _relative(path: str, input_dir: Path | None) -> str:
    candidate = expand_home(path)
    if candidate.is_absolute() and input_dir is not None:
        try:
            return candidate.resolve().relative_to(input_dir.resolve()).as_posix()
        except ValueError:
            return normalize_path(path)
    return normalize_path(path)


def _add(mapping: dict[str, Link], key: str, link: Link, where: str) -> None:
    if mapping.get(key, link) != link:
        raise ConfigError(f"{where}: {key!r} already has another URL or integration ({mapping[key].url!r})")
    mapping[key] = link


def same_object(ours: str, theirs: str) -> bool | None:
    """Whether two URLs name the same object (query strings, e.g. presigned signatures, aside); None: unsure."""
    a, b = urlsplit(ours), urlsplit(theirs)
    if not (a.scheme and b.scheme):
        return None
    return (a.scheme.lower(), a.netloc.lower(), a.path) == (b.scheme.lower(), b.netloc.lower(), b.path)


def without_query(url: str) -> str:
    """A URL without its query string: a presigned URL's signature is a secret of sorts and only noise."""
    parts = urlsplit(url)
    return parts._replace(query="", fragment="").geturl()


def not_ours(ours: list[str], theirs: str | None) -> str | None:
    """Why an item playing `theirs` is not this run's, whose audio is any of `ours`; None when it may be.

    Not this run's when it plays none of them (an item of the same name someone else attached); nothing
    to compare (no URL on either side, or one without a scheme) leaves it this run's.
    """
    if not theirs or not ours or any(same_object(url, theirs) is not False for url in ours):
        return None
    shown = " or ".join(without_query(url) for url in dict.fromkeys(ours))
    return f"not this run's item: it plays {without_query(theirs)} on SuperAnnotate, this run's audio is {shown}"
