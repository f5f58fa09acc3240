"""Resolving the run's model once: its identity for resume keys, and how to load it when a file needs it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from .. import engines, models
from ..options import ModelOptions
from .resume import model_identity


@dataclasses.dataclass(frozen=True)
class PreparedModel:
    """A model resolved and identified, not loaded yet.

    Attributes:
        identity: Names the weights and the engine with its options that shape transcripts.
        load: Loads the engine for a number of files: `load(files=n)`.
    """

    identity: str
    load: Callable[..., engines.Engine]


def prepare_model(options: ModelOptions) -> PreparedModel:
    """Resolves and identifies the model without loading it.

    Raises:
        ModelError: The model is missing or broken.
    """
    source = models.validate_model_source(options)
    weights = model_identity(source.kind, source.location, source.parts, models.bundled_packages(source))
    identity = "|".join(filter(None, (weights, engines.engine_identity(options))))  # an engine switch redoes files
    return PreparedModel(identity, lambda files: engines.load_engine(options, files=files))
