"""preannotate: time-aligned transcript chunks from recordings, as SuperAnnotate pre-annotations.

Python use (what the command line does, in three lines)::

    from preannotate import load_config, run_pipeline

    report = run_pipeline(load_config("configs/demo.yaml", ["transcribe.language=en"]))

Names are imported on first use (module `__getattr__`), so `import preannotate` stays cheap and
imports neither torch nor the models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Where the orchestrator lives: the one place to change when it moves.
PIPELINE_MODULE = ".run"
_ERRORS = (
    "PreannotateError", "ConfigError", "InputError", "ModelError", "AudioError", "TranscriptionError",
    "ChunkingError", "ExportError", "CredentialsError", "UploadError", "CorrectionError", "LockError",
    "DiskFullError", "DestinationError", "StorageLostError", "StorageUnreachableError", "ObjectChangedError",
    "UploadInputError", "RunStoppedError", "OutputWriteError", "CorrectionInputError", "StateFileError",
)  # fmt: skip
# Public name -> the module (relative to this package) that defines it.
_EXPORTS: dict[str, str] = {
    "load_config": ".config",
    "run_pipeline": PIPELINE_MODULE,
    "RunConfig": ".options",
    "Transcript": ".results",
    "Chunk": ".chunking",
    **dict.fromkeys(_ERRORS, ".errors"),
}
__all__ = [
    "AudioError", "Chunk", "ChunkingError", "ConfigError", "CorrectionError", "CorrectionInputError",
    "CredentialsError", "DestinationError", "DiskFullError", "ExportError", "InputError", "LockError", "ModelError",
    "ObjectChangedError", "OutputWriteError", "PreannotateError", "RunConfig", "RunStoppedError", "StateFileError",
    "StorageLostError",
    "StorageUnreachableError", "Transcript", "TranscriptionError", "UploadError", "UploadInputError", "__version__",
    "load_config", "run_pipeline",
]  # fmt: skip

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ imports on first use
    from .chunking import Chunk
    from .config import load_config
    from .errors import (
        AudioError,
        ChunkingError,
        ConfigError,
        CorrectionError,
        CorrectionInputError,
        CredentialsError,
        DestinationError,
        DiskFullError,
        ExportError,
        InputError,
        LockError,
        ModelError,
        ObjectChangedError,
        OutputWriteError,
        PreannotateError,
        RunStoppedError,
        StateFileError,
        StorageLostError,
        StorageUnreachableError,
        TranscriptionError,
        UploadError,
        UploadInputError,
    )  # fmt: skip
    from .options import RunConfig
    from .results import Transcript
    from .run import run_pipeline

    __version__: str


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("preannotate")
    except PackageNotFoundError:  # a source checkout that was never installed
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _version()
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
