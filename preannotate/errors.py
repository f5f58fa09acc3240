"""The exception hierarchy: every error the package raises on purpose derives from PreannotateError."""

from __future__ import annotations

from collections.abc import Callable, Sequence


class PreannotateError(Exception):
    """Root of all errors raised by preannotate."""


class ConfigError(PreannotateError, ValueError):
    """A configuration value is unknown, of the wrong type or out of range."""


class InputError(PreannotateError):
    """The input folder does not exist or holds no media files."""


class StateFileError(InputError):
    """A state file of an output folder (`run.json`, `journal.jsonl`...) is not a regular file: a pipe, a folder."""


class ModelError(PreannotateError):
    """A model cannot be found, downloaded, converted or loaded."""


class AudioError(PreannotateError):
    """One media file cannot be read or decoded."""


class StorageUnreachableError(AudioError):
    """A bucket's endpoint could not be reached (after the client's retries) while one object was read."""


class ObjectChangedError(AudioError):
    """A bucket object is no longer the one listed: overwritten or replaced since, or while it was read."""


class TranscriptionError(PreannotateError):
    """The model failed on one file."""


class ChunkingError(PreannotateError):
    """A transcript cannot be turned into chunks."""


class ExportError(PreannotateError):
    """An output file cannot be written."""


class CredentialsError(PreannotateError):
    """The SuperAnnotate token is missing, malformed or rejected, or SA_URL cannot be a URL."""


class UploadError(PreannotateError):
    """Talking to SuperAnnotate failed."""


class UploadInputError(UploadError, InputError):
    """What `upload` was given cannot be used (no run.json to upload from); nothing was sent."""


class CorrectionError(PreannotateError):
    """Corrected annotations cannot be pulled, compared or exported."""


class LockError(PreannotateError):
    """Another process is working on the same output folder.

    Attributes:
        holder: Who holds it, as the message names it (`preannotate run` (pid 4242 on host lab1, started ...)).
    """

    def __init__(self, message: str, holder: str = "another preannotate process") -> None:
        super().__init__(message)
        self.holder = holder


class RunStoppedError(PreannotateError):
    """Every next file would fail the same way: the run stops, and what is finished is kept."""


class OutputWriteError(RunStoppedError):
    """The output cannot be written (read-only, no permission, a file where a folder must be): going on is pointless."""


class DiskFullError(OutputWriteError):
    """A write failed because the disk (or the user's quota) is full: going on is pointless."""


class StorageLostError(RunStoppedError):
    """A bucket's endpoint stopped answering for several objects in a row: the run stops, finished files kept."""


class DestinationError(CorrectionError):
    """An export destination that is not this tool's to replace; nothing was written or deleted."""


class CorrectionInputError(CorrectionError, InputError):
    """What `pull`, `report`, `calibrate` or `export` was given cannot be used; nothing was processed.

    For example no pull yet, a bad work-times CSV, or too few corrections to fit.
    """


def one_line(error: BaseException) -> str:
    """An exception as one line for a message: its type, then its text with line breaks folded into spaces.

    Libraries (torch, huggingface_hub) raise messages of several lines; `preannotate: error: ...` is one.
    """
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def listed(names: Sequence[str], shown: int = 5, separator: str = ", ") -> str:
    """The first `shown` of `names` for a message, then how many more: `a, b, c and 2 more`."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return separator.join(names[:shown]) + more


def in_chain(error: BaseException, test: Callable[[BaseException], bool]) -> bool:
    """Whether `test` holds for the error or for one it was raised from (its causes and contexts)."""
    seen: BaseException | None = error
    while seen is not None:
        if test(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
