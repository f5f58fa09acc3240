"""The correction report's figures on cases computed by hand (helper audit, 2026-12-05).

Each case failed before its fix: the run's WER counted the words typed into items uploaded without text (from
scratch, control arm) as words the drafts missed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from support.correction_runs import ANNOTATION as SA_ANNOTATION
from support.correction_runs import set_text
from support.pulled_runs import ANNOTATION, make_pulled_run

from preannotate.correction import compare_run
from preannotate.correction.report import headline
from preannotate.options import CorrectionOptions

WORDS = ("apple banana cherry date elder", "fig grape honey iris jade")


def edit(out: Path, item: str, change) -> None:
    path = out / "corrected" / f"{item}.json"
    annotation = json.loads(path.read_text())
    change(annotation)
    path.write_text(json.dumps(annotation))


def typed(annotation: dict) -> None:
    """What an annotator does with an item uploaded without text: types each event's words."""
    for instance, text in zip(annotation["instances"], WORDS):
        for stamp in instance["parameters"][0]["timestamps"]:
            stamp["attributes"].insert(0, {"groupName": SA_ANNOTATION.text_group, "name": text})


def test_items_uploaded_without_text_are_left_out_of_the_runs_wer(tmp_path: Path) -> None:
    spec = [(0.0, 3.0, WORDS[0]), (4.0, 7.0, WORDS[1])]
    silence = np.zeros(10 * 16000, dtype=np.float32)
    items = {name: (silence, spec) for name in ("a.wav", "f.wav", "c.wav")}
    out = make_pulled_run(tmp_path, items, routes={"f.wav": "from_scratch", "c.wav": "control"})
    edit(out, "a.wav", lambda a: set_text(a, 0, "apple banana cherry date elderberry"))  # 1 of 10 words
    edit(out, "f.wav", typed)
    edit(out, "c.wav", typed)
    result = compare_run(out, ANNOTATION, CorrectionOptions())
    s = result.summary
    assert (s["wer"], s["ref_words"], s["substitutions"], s["deletions"], s["added"]) == (0.1, 10, 1, 0, 0)
    assert (s["compared"], s["compared_without_text"], s["draft_chunks"]) == (1, 2, 2)
    assert headline(result).startswith("WER 10.0% over 1 of 3 item(s) compared (2 more uploaded without text")
