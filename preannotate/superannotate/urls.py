"""Where each item's audio lives on the web: a CSV mapping and/or a URL prefix.

SuperAnnotate Video projects do not take uploaded files: items are attached by URL.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from ..errors import ConfigError

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")


@dataclass(frozen=True)
class UrlMap:
    """Item URLs by item name or by source path, with an optional prefix for the rest."""

    by_name: dict[str, str] = field(default_factory=dict)
    by_path: dict[str, str] = field(default_factory=dict)
    prefix: str | None = None

    @classmethod
    def from_options(cls, url_csv: str | None, url_prefix: str | None, input_dir: Path) -> UrlMap:
        """Reads the CSV (when given) and keeps the prefix.

        Raises:
            ConfigError: The CSV is missing, lacks the columns, or holds a bad or conflicting URL.
        """
        by_name, by_path = read_url_csv(Path(url_csv), input_dir) if url_csv else ({}, {})
        return cls(by_name, by_path, url_prefix)

    def url_for(self, item: str, source: str) -> str | None:
        """The URL of an item: the CSV's by name, then by path, then prefix + quoted path; else None."""
        found = self.by_name.get(item) or self.by_path.get(normalize_path(source))
        if found:
            return found
        if self.prefix:
            return prefix_url(self.prefix, source)
        return None

    @property
    def configured(self) -> bool:
        """Whether any URL source is configured at all."""
        return bool(self.by_name or self.by_path or self.prefix)


def prefix_url(prefix: str, source: str) -> str:
    """`prefix` joined to the URL-quoted relative path (slashes kept)."""
    return f"{prefix.rstrip('/')}/{quote(normalize_path(source), safe='/')}"


def normalize_path(path: str) -> str:
    """A relative path with `/` separators and no leading `./`."""
    return PurePosixPath(path.replace("\\", "/")).as_posix().lstrip("/") if path else ""


def read_url_csv(path: Path, input_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Reads a `name,url` or `path,url` CSV (a header row is required; extra columns are ignored).

    Returns:
        URLs by item name and URLs by path relative to the input folder.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise ConfigError(f"superannotate.url_csv: cannot read {path}: {e.strerror or e}") from e
    by_name: dict[str, str] = {}
    by_path: dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        row = {str(k).strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
        if "url" not in row or not ({"name", "path"} & set(row)):
            raise ConfigError(f"superannotate.url_csv {path} needs a header with url and name or path columns")
        url = row["url"]
        if not _URL.match(url):
            raise ConfigError(f"{path}:{line}: {url!r} is not an absolute URL")
        if row.get("name"):
            _add(by_name, row["name"], url, f"{path}:{line}")
        if row.get("path"):
            _add(by_path, _relative(row["path"], input_dir), url, f"{path}:{line}")
    return by_name, by_path


def _relative(path: str, input_dir: Path) -> str:
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        try:
            return candidate.resolve().relative_to(input_dir.resolve()).as_posix()
        except ValueError:
            return normalize_path(path)
    return normalize_path(path)


def _add(mapping: dict[str, str], key: str, url: str, where: str) -> None:
    if mapping.get(key, url) != url:
        raise ConfigError(f"{where}: {key!r} already has another URL ({mapping[key]!r})")
    mapping[key] = url
