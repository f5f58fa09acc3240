"""Which engines exist: for each name in `model.engine`, how it loads, what options it reads, how it is identified.

Adding an engine is one subpackage (its loader) and one `register(EngineSpec(...))` line below.
Loaders and device probes are named as `"module:function"` and imported on first use, so that
registering costs nothing and an engine's dependencies load only when a run uses it.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, ModelError

if TYPE_CHECKING:
    from ..options import ModelOptions, TranscribeOptions
    from .base import Engine
    from .model import PreparedModel


@dataclass(frozen=True)
class EngineSpec:
    """How one engine loads and identifies itself.

    Attributes:
        name: The engine's name, as in `model.engine`.
        loader: `"module:function"` (or the function) taking `(prepared: PreparedModel, files: int)` and
            returning the loaded `Engine`.
        section: The `ModelOptions` field that holds this engine's own options (None: it has none).
        speed_only: Options in that section that change speed only: left out of the identity.
        keyed_when_changed: Options added later: in the identity only when they differ from their defaults,
            so that transcripts made before they existed stay valid.
        revised: Options whose work changed since transcripts were first stored, with the revision: while the
            option is on, the identity holds `<option>_revision`, so that transcripts made the earlier way
            are redone once (and those made with the option off stay valid).
        keyed: False leaves the engine out of resume keys (openai-whisper: keys made before engines
            existed stay valid).
        runtime: What runs the model, for messages (`model.device is 'cuda' but torch sees no CUDA GPU`).
        cuda: `"module:function"` (or the function) telling whether the runtime sees a CUDA GPU;
            None for an engine that runs on the CPU only.
        install: How to install the engine's optional dependencies, for the error when they are missing.
        packages: The distributions that shape its results, whose versions a run records even when it
            loads no model (every file reused).
        short_files: `"module:function"` (or the function) taking the engine's own options and the decoding
            options, returning how long a file may be to be packed with others (0: not with these options)
            and the silence laid after each; None for an engine that never packs.
    """

    name: str
    loader: str | Callable[[PreparedModel, int], Engine]
    section: str | None = None
    speed_only: frozenset[str] = frozenset()
    keyed_when_changed: frozenset[str] = frozenset()
    revised: tuple[tuple[str, int], ...] = ()
    keyed: bool = True
    runtime: str = "torch"
    cuda: str | Callable[[], bool] | None = "preannotate.asr.weights.device:torch_sees_cuda"
    install: str = ""
    packages: tuple[str, ...] = ()
    short_files: str | Callable[[Any, TranscribeOptions], tuple[float, float]] | None = None

    def versions(self) -> dict[str, str]:
        """The installed versions of `packages` (those not installed left out), without importing them."""
        found = {}
        for name in self.packages:
            try:
                found[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
        return found

    def identity(self, options: ModelOptions) -> str:
        """Identifies the engine and its own options that shape transcripts, for resume keys."""
        if not self.keyed:
            return ""
        if self.section is None:
            return self.name
        section = getattr(options, self.section)
        defaults = asdict(type(section)())
        values = {
            k: v
            for k, v in asdict(section).items()
            if k not in self.speed_only and (k not in self.keyed_when_changed or v != defaults[k])
        }
        values |= {f"{k}_revision": n for k, n in self.revised if values.get(k)}
        return f"{self.name}:{json.dumps(values, sort_keys=True)}"

    def packing(self, options: ModelOptions, transcribe: TranscribeOptions) -> tuple[float, float]:
        """How long a file may be to be packed with others (0: never with these options), and the silence after each.

        Known without loading the model (`short_files`), as the loaded engine's `short_file_s` says it.
        """
        if self.short_files is None or self.section is None:
            return 0.0, 0.0
        return self._resolve(self.short_files)(getattr(options, self.section), transcribe)

    def sees_cuda(self) -> bool:
        """Whether the engine's runtime sees a CUDA GPU.

        Raises:
            ModelError: The runtime is an optional dependency that is not installed.
        """
        if self.cuda is None:
            return False
        probe = self._resolve(self.cuda)
        try:
            return bool(probe())
        except ImportError as e:
            raise self._missing(e) from e

    def load(self, prepared: PreparedModel, files: int) -> Engine:
        """Loads the prepared model into this engine.

        Raises:
            ModelError: The engine's dependencies are missing, or the model cannot be loaded.
        """
        return self._resolve(self.loader)(prepared, files)

    def _resolve(self, target: str | Callable[..., Any]) -> Callable[..., Any]:
        if callable(target):
            return target
        module, _, function = target.partition(":")
        try:
            return getattr(importlib.import_module(module), function)
        except ImportError as e:
            raise self._missing(e) from e

    def _missing(self, error: ImportError) -> ModelError:
        # An optional dependency, e.g. pip install 'preannotate[faster]'.
        return ModelError(f"model.engine {self.name} needs: {self.install or 'its dependencies'} ({error})")


_ENGINES: dict[str, EngineSpec] = {}


def register(spec: EngineSpec) -> EngineSpec:
    """Makes `spec.name` a valid `model.engine` (replacing an engine of the same name)."""
    _ENGINES[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Removes an engine (a test's, when it is done)."""
    _ENGINES.pop(name, None)


def engine_names() -> tuple[str, ...]:
    """Returns the registered engine names, built-in ones first."""
    return tuple(_ENGINES)


def get_spec(name: str) -> EngineSpec:
    """Returns the engine registered as `name`.

    Raises:
        ConfigError: No engine has that name.
    """
    spec = _ENGINES.get(name)
    if spec is None:
        raise ConfigError(f"model.engine: {name!r} is not one of {', '.join(map(repr, _ENGINES))}")
    return spec


register(
    EngineSpec(
        "openai-whisper",
        "preannotate.asr.openai_whisper.engine:load",
        keyed=False,
        packages=("openai-whisper", "torch"),
    )
)
register(
    EngineSpec(
        "faster-whisper",
        "preannotate.asr.faster_whisper.engine:load",
        section="faster_whisper",
        speed_only=frozenset({"cpu_threads", "num_workers"}),
        keyed_when_changed=frozenset({"split_long_files", "batch_after_silence_s"}),
        revised=(("pack_short_files", 2),),  # 2: words go to the clip their end falls in (packing._clip_of)
        runtime="CTranslate2",  # its own CUDA build: torch need not even be imported
        cuda="preannotate.asr.weights.device:ctranslate2_sees_cuda",
        install="pip install 'preannotate[faster]'",
        packages=("faster-whisper", "ctranslate2"),
        short_files="preannotate.asr.faster_whisper.decoding:short_files",
    )
)
