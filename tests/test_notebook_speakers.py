"""Speakers in notebooks/preannotate.ipynb: its parameters reach the run, and the timeline colours chunks by speaker."""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib
import nbformat
import numpy as np
import pandas as pd
import papermill
import pytest
from support.notebooks import PREANNOTATE, outputs_text

from preannotate import notebook
from preannotate.timeline import draw_timeline, speaker_colours

matplotlib.use("Agg")
DATA = Path(__file__).resolve().parent / "data"
ROOT = DATA.parent.parent


def test_speaker_parameters_map_to_the_speaker_options() -> None:
    config = notebook.config_from_parameters({"speakers_mode": "diarize", "min_speakers": 2, "max_speakers": "3"})
    assert (config.speakers.mode, config.speakers.min_speakers, config.speakers.max_speakers) == ("diarize", 2, 3)
    assert notebook.config_from_parameters({"num_speakers": 4}).speakers.num_speakers == 4
    with pytest.raises(Exception, match="has its own parameter, 'speakers_mode'"):
        notebook.config_from_parameters({"overrides": {"speakers.mode": "diarize"}})


def chunks(speakers: list[str] | None) -> pd.DataFrame:
    rows = {"start": [0.0, 1.0, 2.0, 3.0], "end": [0.9, 1.9, 2.9, 3.9], "text": ["a", "b", "c", "d"]}
    rows["needs_review"] = [False, True, False, False]
    return pd.DataFrame(rows if speakers is None else {**rows, "speaker": speakers})


def legend_labels(figure) -> list[str]:
    legend = figure.axes[0].get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def test_timeline_has_one_colour_per_speaker_and_a_legend() -> None:
    table = chunks(["Ann", "Bob", "Ann", "Cy"])
    assert list(speaker_colours(table)) == ["Ann", "Bob", "Cy"]
    assert len(set(speaker_colours(table).values())) == 3
    figure = draw_timeline(np.zeros(64_000, np.float32), table, "call.wav", 0.0)
    assert legend_labels(figure) == ["Ann", "Bob", "Cy", "needs review"]
    assert "3 speakers" in figure.axes[0].get_title()
    spans = [p for p in figure.axes[0].patches]
    assert spans[0].get_facecolor() == spans[2].get_facecolor() != spans[1].get_facecolor()


def test_timeline_without_speakers_is_as_before() -> None:
    figure = draw_timeline(np.zeros(64_000, np.float32), chunks(None), "a.wav", 0.0)
    assert legend_labels(figure) == [] and "orange: needs review" in figure.axes[0].get_title()
    assert speaker_colours(chunks(["", "", "", ""])) == {}


@pytest.fixture(scope="module")
def diarized_notebook(tmp_path_factory: pytest.TempPathFactory, runs_notebook: None) -> Path:
    """The committed notebook run with speakers_mode=diarize on a real three-person conversation, no token."""
    folder = tmp_path_factory.mktemp("speakers")
    (folder / "in").mkdir()
    shutil.copy(DATA / "three_speakers.opus", folder / "in")
    params = {"input_dir": str(folder / "in"), "output_dir": str(folder / "out"), "model": "bundled:tiny.en",
              "engine": "faster-whisper", "language": "en", "beam_size": None, "speakers_mode": "diarize"}  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        for key in ("SA_TOKEN", "SA_URL", "PREANNOTATE_SA_HOSTS"):
            mp.delenv(key, raising=False)
        mp.setenv("HOME", str(folder))  # no ~/.superannotate token either: a dry run
        papermill.execute_notebook(
            str(PREANNOTATE), str(folder / "run.ipynb"), parameters=params, kernel_name="python3",
            cwd=str(ROOT / "notebooks"), progress_bar=False,
        )  # fmt: skip
    return folder


def test_speakers_mode_reaches_the_run_and_the_timeline_shows_the_speakers(diarized_notebook: Path) -> None:
    folder = diarized_notebook
    assert "1 files (1 transcribed, 0 already done, 0 failed)" in outputs_text(folder / "run.ipynb")
    table = notebook.chunk_table(folder / "out")
    found = set(table["speaker"])
    assert len(found) >= 2 and all(s.startswith("SPEAKER_") for s in found), found
    cells = nbformat.read(folder / "run.ipynb", as_version=4).cells
    html = "".join(o.get("data", {}).get("text/html", "") for c in cells for o in c.get("outputs", []))
    assert "<th>speaker</th>" in html and "SPEAKER_01" in html  # the chunk table the notebook showed
    assert sum("image/png" in o.get("data", {}) for c in cells for o in c.get("outputs", [])) == 1
    figure = notebook.plot_timeline(folder / "out")  # what the notebook drew, from the same run
    assert legend_labels(figure)[:-1] == sorted(found, key=list(speaker_colours(table)).index)
    assert f"{len(found)} speakers" in figure.axes[0].get_title()
