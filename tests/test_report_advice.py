"""`report` points to `calibrate` when a team's own corrections show needs_review missing its target.

End to end on the loopback SuperAnnotate server: 40 chunks uploaded with the real SDK, corrected there as the
scenario says, pulled, then `preannotate report` on the run folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.correction_runs import DOUBTFUL, N_CHUNKS, make_long_run, run_cli
from support.sa_server import SuperAnnotateServer

from preannotate.correction.advice import review_advice
from preannotate.correction.calibrate import MIN_PER_CLASS
from preannotate.correction.report import REPORT_DIR


def counts(tp: int, fp: int, fn: int, tn: int) -> dict[str, int]:
    return {"review_tp": tp, "review_fp": fp, "review_fn": fn, "review_tn": tn}


def test_advice_only_below_the_target_and_with_enough_chunks_to_refit() -> None:
    missed = review_advice(counts(tp=10, fp=10, fn=6, tn=23), "runs/march")  # 10 of 16: 0.625 at 0.5
    assert missed is not None
    assert "flagged 10 of the 16 changed chunks (recall 0.62) at precision 0.50" in missed
    assert "`preannotate calibrate -o runs/march`" in missed
    assert "annotation.review_model=" in missed
    assert review_advice(counts(tp=8, fp=5, fn=2, tn=30), "r") is None  # 0.8 at 0.615: the target, just met
    assert review_advice(counts(tp=8, fp=6, fn=2, tn=30), "r") is not None  # 0.8 at 0.571: precision misses
    assert review_advice(counts(tp=7, fp=1, fn=2, tn=30), "r") is not None  # 0.78 at 0.875: recall misses
    few = MIN_PER_CLASS - 1  # too few changed chunks to judge the flags or refit them: nothing said
    assert review_advice(counts(tp=0, fp=5, fn=few, tn=30), "r") is None
    assert review_advice(counts(tp=MIN_PER_CLASS, fp=0, fn=MIN_PER_CLASS, tn=few), "r") is None  # too few unchanged
    assert review_advice(counts(tp=0, fp=0, fn=MIN_PER_CLASS, tn=MIN_PER_CLASS), "r") is not None  # nothing flagged


SURE = [i for i in range(N_CHUNKS) if i not in DOUBTFUL]


@pytest.mark.parametrize(
    ("changed", "advice"),
    [
        # annotators fix 6 of the 14 flagged chunks and 8 the model was sure of: 6 of 14 found at 6 of 14
        (
            set(sorted(DOUBTFUL)[:6]) | set(SURE[:8]),
            "flagged 6 of the 14 changed chunks (recall 0.43) at precision 0.43",
        ),
        # 12 of the flagged and 2 sure ones (12 of 14 at 12 of 14): the target is met, the report says nothing
        ((DOUBTFUL - {0, 3}) | {1, 2}, None),
    ],
)
def test_report_advises_calibrate_when_the_flags_missed_on_these_corrections(
    sa_server: SuperAnnotateServer, tmp_path: Path, changed: set[int], advice: str | None
) -> None:
    run = make_long_run(sa_server, tmp_path, changed, flagged=frozenset(DOUBTFUL))  # the unsure word's 14
    done = run_cli("report", "-o", str(run))
    assert done.returncode == 0, done.stderr
    summary = json.loads((run / REPORT_DIR / "summary.json").read_text())
    page = (run / REPORT_DIR / "report.html").read_text()
    if advice is None:
        assert summary["review_advice"] is None
        assert "preannotate calibrate" not in done.stdout and "class='advice'" not in page
        return
    assert advice in done.stdout and f"preannotate calibrate -o {run}" in done.stdout
    assert summary["review_advice"].startswith(f"needs_review {advice}")
    assert advice in page and "class='advice'" in page
