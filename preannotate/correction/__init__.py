"""Closing the loop: pull the annotators' corrections, measure them against the drafts, export the dataset.

    pull_from_config(config)      `preannotate pull`: <output>/corrected/<item>.json and pulled.json
    compare_from_config(config)   tables per group, draft chunk, item and run (CorrectionResult)
    write_report(result, folder)  `preannotate report`: CSVs, summary.json and report.html
    export_from_config(config)    `preannotate export`: audiofolder, NeMo manifest and segments CSV
    calibrate_from_config(config) `preannotate calibrate`: the review model refitted on the corrections

Heavy imports (the SDK, whisper's normalizers, matplotlib, PyAV) happen only when used.
"""

from .compare import CorrectionResult, compare_from_config, compare_item, compare_run
from .pull import PullReport, load_pull, pull_from_config, pull_run

__all__ = [
    "CorrectionResult",
    "PullReport",
    "compare_from_config",
    "compare_item",
    "compare_run",
    "load_pull",
    "pull_from_config",
    "pull_run",
]
