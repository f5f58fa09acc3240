"""Speech recognition: engines that turn audio into typed transcripts, and the weights they run.

A run calls `prepare(options)` once, before any work (a bad model name, engine or device fails
there), keys stored transcripts with `.identity`, and calls `.load(files)` for the `Engine`:

    model = prepare(config.model)
    engine = model.load(files=3)
    transcript = engine.transcribe(samples, config.transcribe)

Engines are registered by name (`registry`); each lives in its own subpackage.
"""

from .base import SEED, BaseEngine, Engine, EngineInfo
from .model import PreparedModel, prepare
from .registry import EngineSpec, engine_names, get_spec, register, unregister

__all__ = [
    "SEED",
    "BaseEngine",
    "Engine",
    "EngineInfo",
    "EngineSpec",
    "PreparedModel",
    "engine_names",
    "get_spec",
    "prepare",
    "register",
    "unregister",
]
