"""Uploading pre-annotations to SuperAnnotate with the official SDK, safely and repeatably.

The pipeline calls `preflight` before transcribing (a bad token fails the run before any work)
and `upload_run` after the annotation JSON is written; `upload_from_config` is `preannotate upload`,
which starts from the options the run recorded (`recorded_options`).
The SDK itself is imported only when something is really sent.
"""

from .client import UploadSession
from .credentials import Credentials, find_credentials
from .ledger import LEDGER_FILE, Ledger
from .recorded import recorded_options, warn_run_only
from .report import UploadReport, write_upload_record
from .upload import DRY_RUN_MESSAGE, preflight, upload_from_config, upload_run

__all__ = [
    "DRY_RUN_MESSAGE",
    "LEDGER_FILE",
    "Credentials",
    "Ledger",
    "UploadReport",
    "UploadSession",
    "find_credentials",
    "preflight",
    "recorded_options",
    "warn_run_only",
    "upload_from_config",
    "upload_run",
    "write_upload_record",
]
