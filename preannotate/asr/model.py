"""A model prepared for a run: its name resolved and checked once, identified, ready to load."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .parts import transcriptions_at_once
from .registry import EngineSpec, get_spec
from .weights import ModelSource, pick_device, resolve_model, weights_identity

if TYPE_CHECKING:
    from ..options import ModelOptions
    from .base import Engine


@dataclass(frozen=True)
class PreparedModel:
    """What a run's model options resolved to, before any weights are read.

    Attributes:
        options: The model options.
        spec: The engine `options.engine` names.
        source: What `options.name` resolved to.
        device: `cpu` or `cuda`, as chosen for the engine's runtime.
        identity: The weights' identity and the engine's, for resume keys: an engine or weights
            switch redoes files.
    """

    options: ModelOptions
    spec: EngineSpec
    source: ModelSource
    device: str
    identity: str

    def load(self, files: int = 1) -> Engine:
        """Loads the model into its engine, once per run.

        Args:
            files: How many transcriptions the run can keep busy at once (the most workers worth starting):
                its files, a long file counting once per part (`parts.transcriptions_at_once`).

        Raises:
            ModelError: The model is missing, broken or cannot be loaded.
        """
        return self.spec.load(self, files)

    def transcriptions_at_once(self, durations: list[float]) -> int:
        """How many transcriptions files of these durations keep busy (the `files` to load with).

        One per file, or one per part of a long file when the engine's options cut long files
        (`split_long_files`, `parts`).
        """
        section = getattr(self.options, self.spec.section) if self.spec.section else None
        splits = getattr(section, "split_long_files", False)
        return transcriptions_at_once(durations) if splits else len(durations)


def prepare(options: ModelOptions) -> PreparedModel:
    """Resolves and checks the model options before any work: options, engine, weights, device.

    Raises:
        ConfigError: An option is out of range, or no engine has the name `options.engine`.
        ModelError: The model cannot be found, or CUDA is asked for but not available.
    """
    options.validate()
    spec = get_spec(options.engine)
    source = resolve_model(options)
    device = pick_device(options.device, spec.runtime, spec.sees_cuda)
    identity = "|".join(filter(None, (weights_identity(source), spec.identity(options))))
    return PreparedModel(options, spec, source, device, identity)
