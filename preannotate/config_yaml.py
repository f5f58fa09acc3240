"""Reading a configuration file: YAML, with what plain `yaml.safe_load` lets through refused.

Text that is not UTF-8, a key repeated in one mapping (two `model:` sections would be last-wins),
an alias inside its own anchor, and aliases that expand past MAX_VALUES are each one ConfigError
naming the file and the problem, as are YAML's own errors.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

# Values a config file may expand to through aliases: a batch plan of thousands of runs stays far below, while
# aliases of aliases (`b: &b [*a, *a, ...]`, "billion laughs") would have the checks walk for hours.
MAX_VALUES = 1_000_000


class DuplicateKeyError(yaml.YAMLError):
    """A YAML mapping names the same key twice (PyYAML would keep the last silently)."""

    def __init__(self, key: Any, first: yaml.Mark, second: yaml.Mark) -> None:
        where = (
            f"lines {first.line + 1} and {second.line + 1}"
            if first.line != second.line
            else f"line {first.line + 1}, columns {first.column + 1} and {second.column + 1}"
        )
        super().__init__(f"key {key!r} appears twice in one mapping ({where})")


class StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a mapping with a repeated key: two `model:` sections would be last-wins."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """The mapping of `node`, after checking that none of its own keys repeats.

        Keys brought in by a merge (`<<: *base`) are left out: overriding them is what merges are for.
        Keys are told apart by their node, not their line: `{a: 1, a: 2}` repeats one on a single line.
        """
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, typing.Hashable) and seen.setdefault(key, key_node) is not key_node:
                raise DuplicateKeyError(key, seen[key].start_mark, key_node.start_mark)
        return super().construct_mapping(node, deep)


def read_yaml(path: Path) -> dict[str, Any]:
    """Reads a YAML mapping from a file, as ConfigError on any failure.

    Besides YAML's own errors, refused are: text that is not UTF-8, a key repeated in one mapping,
    an alias inside its own anchor (`a: &a [*a]`), which no option can hold and no check could walk,
    and aliases that expand to more than MAX_VALUES values.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        byte = e.object[e.start]
        raise ConfigError(f"config {path} is not UTF-8 text (byte {byte:#04x} at offset {e.start})") from None
    data = parse_yaml(text, f"config {path}")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must be a mapping of sections, got {type(data).__name__}")
    return data


def parse_yaml(text: str, where: str) -> Any:
    """One YAML value from text, refused as `read_yaml` refuses a file's (any value, not only a mapping).

    Args:
        text: The YAML text.
        where: What the text is, for messages (`config runs.yaml`, `-p overrides`).

    Raises:
        ConfigError: Invalid YAML, a repeated key, an alias inside its anchor, too many values.
    """
    data = _load_yaml(text, where)
    if (key := _cycle(data, "", set(), set())) is not None:
        raise ConfigError(f"{where}: {key or 'it'} refers back to a collection holding it (an alias inside its anchor)")
    if _expanded(data, {}) > MAX_VALUES:
        raise ConfigError(f"{where}: its aliases expand to more than {MAX_VALUES:,} values")
    return data


def _load_yaml(text: str, where: str) -> Any:
    """The YAML document in `text`, with every way loading it can fail as one ConfigError."""
    try:
        return yaml.load(text, Loader=StrictLoader)
    except DuplicateKeyError as e:
        raise ConfigError(f"{where}: {_redacted(str(e))}; keep one") from None
    except yaml.YAMLError as e:  # not chained: the original quotes the line, which may hold a secret
        tabs = " (YAML indents with spaces, never tabs)" if "'\\t'" in str(e) else ""
        raise ConfigError(f"{where} is not valid YAML{tabs}: {_redacted(str(e))}") from None
    except ValueError as e:  # PyYAML's constructors: `2024-13-45`, `!!float abc`, an int of 5000 digits
        raise ConfigError(f"{where} holds a value YAML cannot read: {_redacted(str(e))}") from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise ConfigError(f"{where} nests too deeply to be a configuration") from None


def _redacted(message: str) -> str:
    """`message` with cloud secrets, words shaped like a SuperAnnotate token, and URLs with credentials hidden.

    YAML's errors quote the text where they stop (the line, a value it cannot read): a token pasted into a
    config file, refused once the file is read, must not reach a terminal, a log or a notebook through them.
    """
    from .config import environment_secrets, looks_like_token, mask_secret_fragments, url_credentials

    # (imported here: config reads its files through this module)
    message = mask_secret_fragments(message, environment_secrets())  # the cloud's, as an option's value refuses

    def url(found: re.Match[str]) -> str:
        # YAML cuts a long line short (`s3://KEY:SECRET...`): a `:` not followed by a port may be a password too.
        address = found.group().split("://", 1)[1].split("/", 1)[0]
        port = address.rsplit(":", 1)[1] if ":" in address else ""
        held = url_credentials(found.group())
        if held == "a password" or (":" in address and not port.isdigit()):
            return "<URL with a password>"
        return "<URL with a user name>" if held else found.group()

    message = _URL.sub(url, message)
    # YAML's snippet of a long line starts `... `, cutting a URL's scheme: what stands before an `@` may be a token.
    message = _USERINFO.sub("<hidden>@", message)
    return _WORD.sub(lambda m: "<hidden>" if looks_like_token(m.group()) else m.group(), message)


_URL = re.compile(r"[A-Za-z][-+.A-Za-z0-9]*://[^\s'\"]+")
_USERINFO = re.compile(r"[^\s'\"/@<>]+@(?=[A-Za-z0-9])")
_WORD = re.compile(r"[-.@_A-Za-z0-9=]+")  # a team token (`name=123`), an API key, or a part of SA_TOKEN


def _cycle(value: Any, key: str, walking: set[int], done: set[int]) -> str | None:
    """The dotted key at which `value` holds a collection that contains it; None when nothing does.

    `walking` holds the collections on the way down, `done` those found to hold no cycle: an anchor
    aliased many times is walked once.
    """
    if id(value) in walking:
        return key
    if not isinstance(value, (dict, list)) or id(value) in done:
        return None
    walking.add(id(value))
    inner = value.items() if isinstance(value, dict) else ((f"[{i}]", v) for i, v in enumerate(value))
    for part, item in inner:
        if found := _cycle(item, _child(key, part), walking, done):
            return found
    walking.discard(id(value))
    done.add(id(value))
    return None


def _expanded(value: Any, sizes: dict[int, int]) -> int:
    """How many values `value` holds with every alias expanded (it holds no cycle); `sizes` by id, memoized."""
    if not isinstance(value, (dict, list)):
        return 1
    if id(value) not in sizes:
        inner = value.values() if isinstance(value, dict) else value
        sizes[id(value)] = 1 + sum(_expanded(item, sizes) for item in inner)
    return sizes[id(value)]


def _child(key: str, part: Any) -> str:
    """The dotted key of `part` (a mapping key, or `[i]` for a list item) under `key`."""
    text = str(part)
    return f"{key}{text}" if text.startswith("[") or not key else f"{key}.{text}"
