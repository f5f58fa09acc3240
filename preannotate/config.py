"""Loading, overriding and checking run configurations.

A configuration is YAML whose sections mirror the dataclasses in `options`.
Unknown keys, wrong types and out-of-range values raise `ConfigError` before
any work starts, with the dotted key and a suggestion for misspellings.

Paths (options whose field says `path=`): `~` is expanded wherever a path comes from; a relative
path written in a config file is relative to that file's folder; one given on the command line
(`-i`, `--set`, batch `-p`) is relative to the current folder; a notebook parameter is relative
to the project root (see `notebook.resolve_path`).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import difflib
import os
import re
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .asr import get_spec
from .asr.languages import language_code
from .config_yaml import read_yaml
from .errors import ConfigError
from .locations import azure_container_url, is_bucket_url
from .options import RunConfig
from .options.base import IF_EXISTS
from .options.catalog import iter_options, option_info, path_options
from .options.values import coerce, parse_text
from .storage import expand_home

__all__ = ["coerce", "config_from_dict", "load_config", "parse_override", "read_yaml", "resolve_paths"]

# Keys that must never be configuration: secrets come from the environment only.
FORBIDDEN_KEYS = frozenset({"token", "sa_token", "api_key", "password", "secret"})
SECRET_HINT = "set SA_TOKEN in the environment"
URL_HINT = "credentials come from the cloud's own chain (see README, Buckets) or SA_TOKEN"
CONFIG_RULE, PARAMETER_RULE = "secrets never go in a config", "secrets are never parameters"
SIGNED_HINT = (
    "signed URLs would be kept in run.json, the journal and notebooks; give the plain URL and let the tool sign "
    "(superannotate.urls: presigned) or list signed URLs in superannotate.url_csv"
)
#: Query parameters of signed URLs that carry a signature, credential or token (S3, Azure SAS, Google).
SIGNATURE_PARAMETERS = (
    "x-amz-signature", "x-amz-credential", "x-amz-security-token", "sig", "x-goog-signature", "x-goog-credential",
)  # fmt: skip
# Cloud credentials the standard chains read from the environment: never an option's value.
_CLOUD_SECRETS = (
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_CONNECTION_STRING", "AZURE_CLIENT_SECRET",
)  # fmt: skip
# The SDK's token shapes (as in superannotate/credentials.py, not imported: that package imports this one).
_TEAM_TOKEN = re.compile(r"^[-.@_A-Za-z0-9]+=\d+$")
_API_KEY = re.compile(r"^[-_A-Za-z0-9]{32,}$")
# A team token's secret is its name part; shorter ones (`speaker=2`) are ordinary values.
_MIN_TEAM_NAME = 16
_MIN_SECRET = 8  # shorter environment values are not looked for inside others


def load_config(
    path: str | Path | None = None,
    overrides: typing.Sequence[str] = (),
    values: Mapping[str, Any] | None = None,
    base: Mapping[str, Any] | None = None,
) -> RunConfig:
    """Reads a YAML config (or the defaults), applies overrides and validates.

    Args:
        path: A YAML file; None means the built-in defaults. Relative paths inside it are relative to its folder.
        overrides: Dotted assignments such as `transcribe.beam_size=5`, as typed on a command line: each
            value is read as its option's type (`null` or nothing: None where the option accepts it).
        values: Typed values by dotted key, applied last (the command line's flags); paths relative to the
            current folder, as given (`~` expanded).
        base: Nested values beneath all of these (a run's recorded options, for `upload`): the file's
            values replace them key by key, not section by section.

    Returns:
        The validated configuration.

    Raises:
        ConfigError: The file is unreadable or any key or value is wrong.
    """
    data: dict[str, Any] = copy.deepcopy(dict(base or {}))
    if path is not None:
        merge_into(data, resolve_paths(read_yaml(Path(path)), Path(path).parent))
    for item in overrides:
        set_dotted(data, *parse_override(item))
    for key, value in (values or {}).items():
        set_dotted(data, key, expand_user(key, value))
    return config_from_dict(data)


def merge_into(data: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over`'s values set into `data` key by key, sections recursively; an empty section (None) sets nothing."""
    for key, value in over.items():
        below = data.get(key)
        if isinstance(below, dict) and isinstance(value, Mapping):
            merge_into(below, value)
        elif not (isinstance(below, dict) and value is None):
            data[key] = value
    return data


def resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """A config's nested dict with its relative paths taken from `base` (and `~` expanded); changed in place."""
    for key in path_options():
        *sections, name = key.split(".")
        node: Any = data
        for part in sections:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and name in node:
            node[name] = resolve_path_value(key, node[name], base)
    return data


def resolve_path_value(key: str, value: Any, base: Path) -> Any:
    """`value` of option `key` as written in a file in `base`: a relative path becomes absolute from `base`.

    Options that may name a path (`model.name`) change only when that path exists; a date or number YAML
    read for a path option is its text; values that are not paths (other keys, None, other non-text, bucket
    URLs) are returned unchanged.
    """
    rule = path_options().get(key)
    if rule is not None and isinstance(value, (int, float, datetime.date)) and not isinstance(value, bool):
        value = coerce(str, value, key)  # YAML reads `dir: 2024-01-01` as a date, `dir: 2024` as a number: still names
    if rule is None or not isinstance(value, str) or not value or is_bucket_url(value):
        return value
    found = expand_home(value)
    if found.is_absolute() or (rule == IF_EXISTS and not (base / found).exists()):
        return str(found) if value.startswith("~") else value
    return os.path.abspath(base / found)  # lexical: `configs/../samples` is `samples`, as a shell's `cd` sees it


def parse_override(item: str) -> tuple[str, Any]:
    """Splits `a.b=value` into the dotted key and the value read as that option's type.

    The text after the first `=` is the value, whatever it holds (`input.dir=notes: draft`). An
    unknown key keeps its text, for `config_from_dict` to name with a suggestion.
    """
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        shown = "a value that looks like a SuperAnnotate token" if looks_like_token(item) else repr(item)
        raise ConfigError(f"--set expects key=value, got {shown}")
    key = key.strip()
    listed = raw.strip().startswith("[") or "," in raw  # each item checked, and named `key[i]`
    parts = [part.strip().strip("'\"") for part in raw.strip().strip("[]").split(",")]
    if problem := secret_problem(key, parts if listed else raw):  # before any message could quote the value
        raise ConfigError(problem)
    return key, typed_text(key, raw)


def typed_text(key: str, raw: str) -> Any:
    """Command-line text for the option `key`, read as its type; `~` expanded in paths; unknown keys keep the text."""
    info = option_info(key)
    if info is None or info.is_section:
        return raw
    return expand_user(key, parse_text(info.hint, raw, key))


def expand_user(key: str, value: Any) -> Any:
    """`value` with a leading `~` expanded when `key` is a path option; anything else unchanged."""
    if key in path_options() and isinstance(value, str) and value.startswith("~"):
        return str(expand_home(value))
    return value


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Sets `data[a][b] = value` for the key `a.b`, creating sections as needed."""
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        if node.get(part, {}) is None:  # a section left empty in a file (`transcribe:`) is YAML's null
            node[part] = {}
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{part} is a value, not a section, in {key!r}")
        node = child
    node[parts[-1]] = value


def config_from_dict(data: dict[str, Any]) -> RunConfig:
    """Builds and validates a RunConfig from nested dicts."""
    config = _build(RunConfig, data, "")
    config.validate()
    get_spec(config.model.engine)  # engines are registered, not listed in the options
    # One spelling per language ("English", "EN" -> "en"): the transcripts' key holds it, and another spelling
    # of the same language would transcribe every file again.
    language = language_code(config.transcribe.language)
    if language != config.transcribe.language:
        config = dataclasses.replace(config, transcribe=dataclasses.replace(config.transcribe, language=language))
    return config


def config_to_dict(config: Any) -> dict[str, Any]:
    """Returns the JSON/YAML-ready nested dict of a config (tuples become lists)."""
    return _plain(dataclasses.asdict(config))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _build(cls: type, data: Any, prefix: str) -> Any:
    if data is None and prefix:  # `transcribe:` with every option under it commented out: YAML's null, no options
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if problem := secret_problem(dotted, value):  # before any message could quote the value
            raise ConfigError(problem)
        if key not in names:
            raise ConfigError(f"unknown option {dotted!r}{_suggest(key, names, prefix)}")
        hint = hints[key]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value, f"{dotted}.")
        else:
            check_utf8(dotted, value)
            kwargs[key] = coerce(hint, value, dotted)
    return cls(**kwargs)


def check_utf8(key: str, value: Any) -> None:
    """Raises ConfigError when text in `value` is not UTF-8 (a path option's value excepted).

    Python holds command-line bytes that are not UTF-8 as lone surrogates, which no prompt, name or
    JSON file can carry. A path may hold them: files and folders are named by such bytes (a Latin-1
    `café`), and the run reads and records those names.
    """
    if key in path_options():
        return
    for dotted, leaf in leaves(key, value):
        if not isinstance(leaf, str):
            continue
        try:
            leaf.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ConfigError(f"{dotted}: the value is not valid UTF-8 text (character {e.start + 1})") from None


def is_secret_key(key: object) -> bool:
    """True for a key that names a secret, dotted ones too (`superannotate.token`)."""
    return any(part.strip().lower() in FORBIDDEN_KEYS for part in str(key).split("."))


def looks_like_token(value: object) -> bool:
    """True for a string that holds the environment's SA_TOKEN or has the shape of a SuperAnnotate token.

    Shapes: a team token (`<name>=<team id>`) with a name of 16 or more characters, or an API key
    (32 or more of `[-_A-Za-z0-9]`) mixing upper case, lower case and digits as a random key does,
    so that a long project name such as `my_very_long_project_name_2024` is not taken for one.
    """
    if not isinstance(value, str):
        return False
    text = value.strip()
    known = os.environ.get("SA_TOKEN", "").strip()
    if any(len(s) >= _MIN_SECRET and s in text for s in {known, known.rsplit("=", 1)[0]}):
        return True
    if _TEAM_TOKEN.match(text):
        return len(text.rsplit("=", 1)[0]) >= _MIN_TEAM_NAME
    mixed = all(any(test(c) for c in text) for test in (str.isupper, str.islower, str.isdigit))
    return bool(_API_KEY.match(text)) and mixed


def secret_problem(key: str, value: Any, rule: str = CONFIG_RULE) -> str | None:
    """Why `key: value` must not be configuration, never quoting a secret; None when it may be.

    A key naming a secret is refused whatever its value; any value, in lists and mappings too,
    that looks like a SuperAnnotate token (see `looks_like_token`) or is a URL holding a password
    (`s3://KEY:SECRET@bucket`, which run.json and notebooks would keep) is refused under its key.

    Args:
        key: The dotted key.
        value: Its value.
        rule: What the message says about secrets.
    """
    for dotted, leaf in leaves(key, value):
        if any(map(looks_like_token, [dotted, *dotted.split(".")])):
            return f"a key looks like a SuperAnnotate token: {rule}; {SECRET_HINT}"
        if is_secret_key(dotted):
            return f"{dotted}: {rule}; {SECRET_HINT}"
        if looks_like_token(leaf):
            return f"{dotted}: the value looks like a SuperAnnotate token: {rule}; {SECRET_HINT}"
        if held := url_credentials(leaf):
            return f"{dotted}: the URL holds {held}: {rule}; {URL_HINT}"
        if signed := url_signature(leaf):
            return f"{dotted}: the URL carries a signature ({signed}): {rule}; {SIGNED_HINT}"
        if name := environment_secret(leaf):
            return f"{dotted}: the value is the environment's {name}: {rule}; {URL_HINT}"
    return None


def url_signature(value: object) -> str | None:
    """The name of the signature or token a signed URL's query carries (S3, Azure SAS, Google), or None."""
    if not isinstance(value, str) or "?" not in value:
        return None
    query = value.split("?", 1)[1].split("#", 1)[0]
    names = {part.split("=", 1)[0] for part in query.split("&") if "=" in part}
    return next((n for n in sorted(names) if n.lower() in SIGNATURE_PARAMETERS), None)


def environment_secrets() -> list[str]:
    """The values of the environment's cloud credentials long enough to look for in a text."""
    found = (os.environ.get(name, "").strip() for name in _CLOUD_SECRETS)
    return [secret for secret in found if len(secret) >= _MIN_SECRET]


def mask_secret_fragments(text: str, secrets: list[str], mask: str = "<hidden>") -> str:
    """`text` with every run of at least 8 characters that some secret holds replaced by `mask`.

    Fragments too: a parser's message quotes a long line cut short, so a secret may stand there in part.
    """
    out, i = [], 0
    while i < len(text):
        end = i
        while end < len(text) and any(text[i : end + 1] in s for s in secrets):
            end += 1
        if end - i >= _MIN_SECRET:
            out.append(mask)
            i = end
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def environment_secret(value: object) -> str | None:
    """The name of the cloud credential of the environment that `value` holds, or None."""
    if not isinstance(value, str):
        return None
    for name in _CLOUD_SECRETS:
        secret = os.environ.get(name, "").strip()
        if len(secret) >= _MIN_SECRET and secret in value:
            return name
    return None


def url_credentials(value: object) -> str | None:
    """What a URL text holds before its host: `a password`, `a user name`, or None (none, or not a URL).

    A user name alone is refused as a password is: `https://ghp_...@host/` is a token in disguise, and the
    URL would be kept in run.json, uploads.json and logs. Azure's own `abfs://container@account.dfs.core.
    windows.net/` names a container there, not a user, and is not one.
    """
    if not isinstance(value, str) or "://" not in value:
        return None
    try:
        parts = urlsplit(value.strip())
        password = parts.password
    except ValueError:  # not a URL after all (`http://[x`)
        return None
    if password:
        return "a password"
    if "@" not in parts.netloc or azure_container_url(value):
        return None
    return "a user name"


def check_secrets(values: Mapping[Any, Any], what: str = "", rule: str = CONFIG_RULE) -> None:
    """Raises ConfigError (prefixed by `what`) for the first secret key or token-like value in `values`."""
    for key, value in values.items():
        if problem := secret_problem(str(key), value, rule):
            raise ConfigError(f"{what}{problem}")


def leaves(key: str, value: Any) -> Iterator[tuple[str, Any]]:
    """(dotted key, value) for `value` and everything inside it; a mapping's keys extend the key."""
    yield key, value
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from leaves(f"{key}.{k}", v)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from leaves(f"{key}[{i}]", v)


def _suggest(key: str, names: list[str], prefix: str) -> str:
    if "." in str(key):  # `model.name: x` in a file: dotted keys are --set's spelling, files nest sections
        *sections, name = str(key).split(".")
        nested = "".join(f"{part}: {{" for part in sections) + f"{name}: ...{'}' * len(sections)}"
        return f"; in a config file nest it ({nested}) or use --set {prefix}{key}=..."
    plain = str(key).lower().replace("-", "_")
    close = difflib.get_close_matches(plain, names, n=1)
    if close:
        return f"; did you mean '{prefix}{close[0]}'?"
    # The right name in another section (`model.language`, a bare `beam_size`): the section is what is wrong.
    elsewhere = [o.key for o in iter_options() if o.key.rsplit(".", 1)[-1] == plain]
    if elsewhere:
        return f"; did you mean {' or '.join(repr(k) for k in elsewhere[:3])}?"
    return f"; known: {', '.join(names)}"
