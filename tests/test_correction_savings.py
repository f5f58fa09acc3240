"""Hours saved, the calibration table and the control arm, each checked against a hand computation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from preannotate.config import load_config
from preannotate.correction.arms import compare_arms, item_edits, read_work_times
from preannotate.correction.calibration import calibration_summary, calibration_table, chunk_wer
from preannotate.correction.effort import CONTROL, DRAFT, FROM_SCRATCH, ItemEdits, estimate
from preannotate.errors import ConfigError, CorrectionError
from preannotate.options.correction import EffortOptions

# One drafted minute: 150 corrected words (2.5 words/s), 15 word edits (WER 10%) and 3 boundary edits.
DRAFTED = ItemEdits("a.wav", DRAFT, audio_seconds=60.0, word_edits=15, segment_edits=3, ref_words=150)


def test_hours_saved_match_the_hand_computation() -> None:
    found = estimate([DRAFTED], EffortOptions())
    # seconds_per_edit = (5 - 1.25) / (0.3 * 2.5) = 5 s. From scratch 5 * 60 = 300 s; post-editing
    # 1.25 * 60 + 5 * 15 + 5 * 3 = 165 s; saved 135 s = 0.0375 h, 135 / 60 = 2.25 hours per audio hour.
    assert found["assumptions"]["words_per_second"] == pytest.approx(2.5)
    assert found["assumptions"]["seconds_per_edit"] == pytest.approx(5.0)
    assert found["hours_saved"] == pytest.approx(135 / 3600)
    assert found["saved_per_audio_hour"] == pytest.approx(2.25)
    assert (found["manual_hours"], found["post_edit_hours"]) == (pytest.approx(300 / 3600), pytest.approx(165 / 3600))
    # Low, manual_rtf 4: per edit (4 - 1.25) / 0.75 = 3.667 s; 240 - (75 + 3.667 * 18) = 99 s -> 1.65 h/h.
    # High, manual_rtf 8: per edit 6.75 / 0.75 = 9 s; 480 - (75 + 9 * 18) = 243 s -> 4.05 h/h.
    assert found["saved_per_audio_hour_low"] == pytest.approx(1.65)
    assert found["saved_per_audio_hour_high"] == pytest.approx(4.05)
    assert any("Gaur" in s for s in found["sources"]) and any("Bazillon" in s for s in found["sources"])


def test_items_without_text_save_nothing_but_count_as_audio() -> None:
    manual = ItemEdits("b.wav", FROM_SCRATCH, 60.0, word_edits=150, segment_edits=0, ref_words=150)
    control = ItemEdits("c.wav", CONTROL, 60.0, word_edits=140, segment_edits=2, ref_words=140)
    found = estimate([DRAFTED, manual, control], EffortOptions())
    # Speaking rate from drafted items only (2.5 words/s): the same 135 s saved, over 3 audio minutes.
    assert found["hours_saved"] == pytest.approx(135 / 3600)
    assert found["saved_per_audio_hour"] == pytest.approx(135 / 180)
    assert (found["items_draft"], found["items_from_scratch"], found["items_control"]) == (1, 1, 1)


def test_set_rates_replace_the_derivation() -> None:
    options = EffortOptions(seconds_per_edit=2.0, seconds_per_segment_edit=10.0, words_per_second=3.0)
    found = estimate([DRAFTED], options)
    # 300 - (75 + 2 * 15 + 10 * 3) = 165 s saved, whatever the manual band (rates fixed): 4 * 60 - 135 = 105.
    assert found["saved_per_audio_hour"] == pytest.approx(165 / 60)
    assert found["saved_per_audio_hour_low"] == pytest.approx(105 / 60)
    assert found["assumptions"]["words_per_second_from"] == "option"


def test_no_words_no_estimate() -> None:
    found = estimate([ItemEdits("s.wav", DRAFT, 10.0, 0, 0, 0)], EffortOptions())
    assert found["hours_saved"] is None and "no corrected words" in found["note"]


def test_effort_options_are_validated_and_settable() -> None:
    config = load_config(None, ["correction.effort.manual_rtf=6", "correction.effort.seconds_per_edit=3"])
    assert config.correction.effort == EffortOptions(manual_rtf=6.0, seconds_per_edit=3.0)
    with pytest.raises(ConfigError, match="manual_rtf must lie"):
        load_config(None, ["correction.effort.manual_rtf=9"])
    with pytest.raises(ConfigError, match="review_rtf"):
        load_config(None, ["correction.effort.review_rtf=4"])


def test_calibration_table_bins_predicted_against_measured() -> None:
    chunks = pd.DataFrame(
        {
            "predicted_wer": [0.01, 0.04, 0.15, 0.18, 0.6, None, 0.02],
            "measured_wer": [0.0, 0.1, 0.5, 0.0, 1.0, 0.3, None],
        }
    )
    table = calibration_table(chunks).set_index("predicted_wer_bin")
    assert list(table["chunks"]) == [2, 0, 2, 0, 0, 1]  # no prediction or no measurement: left out
    assert table.loc["0.00-0.05", "mean_predicted_wer"] == pytest.approx(0.025)
    assert table.loc["0.00-0.05", "mean_measured_wer"] == pytest.approx(0.05)
    assert table.loc["0.00-0.05", "share_with_error"] == pytest.approx(0.5)
    assert table.loc["0.10-0.20", "mean_measured_wer"] == pytest.approx(0.25)
    assert table.loc["0.50-1.00", "mean_measured_wer"] == 1.0 and pd.isna(table.loc["0.05-0.10", "mean_measured_wer"])
    summary = calibration_summary(calibration_table(chunks))
    # Gap per filled bin, weighted by chunks: (0.025 - 0.05) * 2 + (0.165 - 0.25) * 2 + (0.6 - 1.0) * 1, over 5.
    assert summary["chunks"] == 5 and summary["mean_gap"] == pytest.approx((-0.05 - 0.17 - 0.4) / 5)


def test_calibration_table_of_old_runs_is_empty() -> None:
    assert calibration_table(pd.DataFrame({"measured_wer": [0.1]})).empty
    assert calibration_table(pd.DataFrame({"predicted_wer": [None], "measured_wer": [0.1]})).empty


def test_chunk_wer_of_deleted_and_clean_groups() -> None:
    assert chunk_wer(4, 1) == 0.25 and chunk_wer(2, 5) == 1.0 and chunk_wer(0, 2) == 1.0 and chunk_wer(0, 0) is None


def items_frame() -> pd.DataFrame:
    rows = [("d1", DRAFT, 120.0, 10, 2, 1, 0, 300), ("d2", DRAFT, 60.0, 2, 0, 0, 1, 150),
            ("c1", CONTROL, 120.0, 0, 280, 0, 4, 280), ("x", DRAFT, None, 5, 0, 0, 0, 10)]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["item", "route", "audio_seconds", "substitutions", "deletions",
                                        "insertions", "added", "ref_words"])  # fmt: skip
    for k in ("retimed", "removed", "split", "merged", "regrouped"):
        frame[k] = 0
    frame["compared"] = True
    return frame


def test_control_arm_edit_volume_and_hours_per_audio_hour(tmp_path: Path) -> None:
    times = tmp_path / "times.csv"
    times.write_text("item,seconds\nd1,600\nd2,240\nc1,1200\nnot-compared,5\n", encoding="utf-8")
    edits = item_edits(items_frame())
    assert [e.item for e in edits] == ["d1", "d2", "c1"]  # x has no duration
    found = compare_arms(edits, read_work_times(times))
    draft, control = found["arms"][DRAFT], found["arms"][CONTROL]
    # Drafts: 3 audio minutes, (10 + 2 + 1) + 2 = 15 word edits and 1 added event -> 16 / 3 per minute;
    # control: 2 minutes, 280 word + 4 boundary edits -> 284 / 2.
    assert (draft["audio_minutes"], draft["word_edits"], draft["segment_edits"]) == (3.0, 15, 1)
    assert draft["edits_per_audio_minute"] == pytest.approx(16 / 3)
    assert control["edits_per_audio_minute"] == pytest.approx(142.0)
    # Work: drafts 840 s for 180 s of audio (4.667 h/h), control 1200 s for 120 s (10 h/h): ratio 0.4667.
    assert draft["hours_per_audio_hour"] == pytest.approx(840 / 180)
    assert control["hours_per_audio_hour"] == pytest.approx(10.0)
    assert found["ratio"] == pytest.approx(840 / 180 / 10)
    assert found["unknown"] == ["not-compared"] and found["untimed"] == [] and found["note"] is None


def test_without_a_control_arm_the_comparison_says_so() -> None:
    found = compare_arms(item_edits(items_frame().iloc[:2]))
    assert "no control arm" in found["note"] and found["ratio"] is None and found["arms"][CONTROL]["items"] == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("item,seconds\nd1,abc\n", "line 2: seconds 'abc' of d1 is not a number"),
        ("item,seconds\nd1,10\nd2,-3\n", "line 3: seconds '-3' of d2 must be a positive number"),
        ("item,seconds\n,10\n", "line 2: no item name"),
        ("item,seconds\nd1,1\nd1,2\n", "line 3: d1 is listed twice"),
        ("name,seconds\nd1,1\n", "no column item"),
    ],
)
def test_bad_work_time_rows_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "times.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CorrectionError, match=message):
        read_work_times(path)


def test_at_break_even_nothing_is_saved_and_a_loss_reads_low_to_high() -> None:
    from preannotate.correction.savings import effort_line

    # 45 edits in 150 words: WER 0.3, the break-even itself; sums of float differences left -3e-18 h here.
    even = estimate([ItemEdits("a.wav", DRAFT, 60.0, word_edits=45, segment_edits=0, ref_words=150)], EffortOptions())
    assert even["hours_saved"] == 0.0 and even["saved_per_audio_hour_low"] == 0.0
    assert effort_line(even).startswith("hours saved (estimate): 0 h, 0 per audio hour (range 0 to 0)")
    # 60 edits: WER 0.4 costs (5 - 1.25) * 60 * (1 - 0.4 / 0.3) = -75 s, more at a higher manual rate (-162 s).
    loss = estimate([ItemEdits("a.wav", DRAFT, 60.0, word_edits=60, segment_edits=0, ref_words=150)], EffortOptions())
    assert loss["saved_per_audio_hour"] == pytest.approx(-1.25) and loss["saved_per_audio_hour_high"] < -1.25
    assert "per audio hour (range -2.25 to -0.917)" in effort_line(loss)
