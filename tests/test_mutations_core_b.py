"""Mutation-audit file (core B): tests written from a mutation audit of the measurement modules.

The audited modules are the pure transforms and measurements: `correction.metrics`, `compare`, `align`,
`savings`, `effort`, `arms`, `calibration`, `routing`, `review`, `quality.features`, `labels`, `crosscheck`
and `evaluate`. Each test here kills at least one mutant that survived the existing tests; the comment above
each test names the mutants it kills and shows the hand computation of the expected figures. The real code
runs throughout, on real inputs: no mock of the code under test.

Mutants: 94 in all; 39 killed by existing tests, 47 by the tests below, 8 equivalent. Each is listed as its id,
module:line (in preannotate/), the change, and on the next line what kills it (existing: test file::test; new:
the test in this file) or why it is equivalent. Existing tests were run without the `slow`, `model` and
`notebook` tiers.

MET01 correction/metrics.py:59    TextScore.wer of an empty reference: None -> 0.0
      -> existing: test_correction_units.py::test_scores_count_empty_sides_and_use_the_language
MET02 correction/metrics.py:54    TextScore.errors leaves out insertions
      -> existing: test_correction.py::test_figures_match_the_hand_computation
MET03 correction/metrics.py:131   char_errors leaves out character insertions
      -> existing: test_correction.py::test_figures_match_the_hand_computation
MET05 correction/metrics.py:113   unspaced languages: characters joined with spaces
      -> existing: test_correction_units.py::test_scores_count_empty_sides_and_use_the_language
MET06 correction/metrics.py:123   jiwer given (hypothesis, reference): deletions/insertions swap
      -> new: test_a_word_missing_from_the_draft_is_a_deletion_and_an_invented_one_an_insertion
MET08 correction/metrics.py:152   text_changed drops `kind == deleted or`
      -> new: test_a_deleted_chunk_whose_words_normalize_to_nothing_is_still_a_text_change
MET09 correction/metrics.py:156   untouched: abs(shift) <= tolerance -> <
      -> new: test_a_boundary_moved_by_exactly_the_tolerance_is_untouched
MET10 correction/metrics.py:174   retimed: abs(shift) > tolerance -> >=
      -> new: test_a_boundary_moved_by_exactly_the_tolerance_is_untouched
MET11 correction/metrics.py:155   untouched ignores a text edit
      -> existing: test_correction.py::test_figures_match_the_hand_computation
MET13 correction/metrics.py:187   start shift from the draft's latest start (max for min)
      -> new: test_boundary_shifts_measure_the_outer_boundaries_with_later_positive
MET14 correction/metrics.py:187   start shift sign flipped (draft - corrected)
      -> new: test_boundary_shifts_measure_the_outer_boundaries_with_later_positive
MET15 correction/metrics.py:208   changed=any reads `retimed` instead of `not untouched`
      -> existing: test_correction.py::test_any_change_counts_boundaries_and_splits
MET17 correction/metrics.py:228   review precision over tp + fn
      -> existing: test_correction.py::test_figures_match_the_hand_computation
MET18 correction/metrics.py:218   chunks without a flag counted as not flagged
      -> existing: test_correction_units.py::test_review_counts_leave_out_chunks_without_a_flag
MET19 correction/metrics.py:256   edited counts deleted chunks
      -> existing: test_correction.py::test_figures_match_the_hand_computation
MET20 correction/metrics.py:255   untouched_share over groups, not chunks
      -> existing: test_correction.py::test_figures_match_the_hand_computation
MET22 correction/metrics.py:248   boundary shifts signed, not absolute, in the summary
      -> new: test_summary_shift_statistics_use_absolute_values
MET23 correction/metrics.py:258   removed = number of deleted groups (not their chunks)
      -> equivalent: a group with no corrected event is one draft chunk (links only join chunks to events)
CMP01 correction/compare.py:124   item language wins over correction.language
      -> new: test_correction_language_option_wins_over_the_items_language
CMP02 correction/compare.py:126   unspaced check without the region split (zh-CN)
      -> new: test_a_regional_code_of_an_unspaced_language_counts_characters_without_spaces
CMP03 correction/compare.py:146   needs_review from chunks.csv over the draft's own flag
      -> new: test_the_flag_the_draft_carried_is_scored_before_the_quality_records
CMP04 correction/compare.py:153   chunk measured_wer leaves out insertions
      -> new: test_a_chunks_measured_wer_counts_the_words_the_annotator_removed
ALN01 correction/align.py:110     overlap >= share * shorter -> >
      -> existing: test_correction_units.py::test_regrouped_stretch_and_overlap_share
ALN02 correction/align.py:109     share of the longer span, not the shorter
      -> existing: test_correction.py::test_figures_match_the_hand_computation
ALN03 correction/align.py:104     search window from the chunk's start (events before missed)
      -> existing: test_correction_units.py::test_alignment_recognizes_every_kind_of_edit
ALN04 correction/align.py:104     window bound `- longest - 1` -> `- longest`
      -> equivalent: an event starting `longest` before the chunk ends by its start: overlap <= 0, never linked
ALN06 correction/align.py:132     moved candidates not sorted by distance
      -> new: test_a_moved_event_pairs_with_the_nearest_deleted_chunk_once
ALN07 correction/align.py:140     an added event may pair with two deleted chunks
      -> new: test_a_moved_event_pairs_with_the_nearest_deleted_chunk_once
ALN08 correction/align.py:130     deleted chunks with an empty key kept as candidates
      -> equivalent: an empty-key chunk could only pair with an empty-key event, and those stay filtered out
SAV01 correction/savings.py:67    console line: low/central/high out of order
      -> new: test_effort_line_puts_the_central_figure_first_and_the_range_low_to_high
SAV02 correction/savings.py:65    `hours_saved is None` -> falsy (0 h read as missing)
      -> new: test_a_run_without_drafts_saves_zero_hours_when_the_edit_cost_is_given
SAV04 correction/savings.py:114   report ratio printed as 1 / ratio
      -> new: test_the_report_states_the_drafts_ratio_to_the_control_arm
EFF01 correction/effort.py:75     seconds_per_edit without - review_rtf
      -> existing: test_correction_savings.py::test_hours_saved_match_the_hand_computation
EFF02 correction/effort.py:82     a from-scratch item's post_edit_s = 0
      -> new: test_hours_as_worked_include_the_items_typed_from_scratch
EFF03 correction/effort.py:81     only from_scratch skips the draft model (control drafted)
      -> existing: test_correction_savings.py::test_items_without_text_save_nothing_but_count_as_audio
EFF04 correction/effort.py:89     speaking rate over all items, not drafted
      -> existing: test_correction_savings.py::test_items_without_text_save_nothing_but_count_as_audio
EFF05 correction/effort.py:92     speaking rate 0.0 instead of None without words
      -> existing: test_correction_savings.py::test_no_words_no_estimate
EFF06 correction/effort.py:110    run's measured rate wins over words_per_second option
      -> existing: test_correction_audit_inputs.py::test_rates_beyond_floats_give_no_estimate[rates1]
EFF07 correction/effort.py:117    no estimate without a rate even if seconds_per_edit set
      -> new: test_a_run_without_drafts_saves_zero_hours_when_the_edit_cost_is_given
EFF10 correction/effort.py:146    low/high bands derive the edit cost at central manual_rtf
      -> existing: test_correction_savings.py::test_hours_saved_match_the_hand_computation
EFF11 correction/effort.py:147    seconds_per_segment_edit 0 replaced by per_edit (`or`)
      -> new: test_a_boundary_edit_may_cost_nothing
ARM01 correction/arms.py:30       file_route keeps an unknown route
      -> new: test_an_unknown_route_is_read_as_draft
ARM02 correction/arms.py:37       item_edits keeps items not compared
      -> existing: test_correction_calibrate.py::test_report_compares_the_control_arm_with_work_times
ARM03 correction/arms.py:43       item word_edits leave out insertions
      -> existing: test_correction_savings.py::test_control_arm_edit_volume_and_hours_per_audio_hour
ARM04 correction/arms.py:129      work time 0 s accepted (<= 0 -> < 0)
      -> new: test_a_work_time_of_zero_seconds_is_refused
ARM06 correction/arms.py:160      ratio = control / drafts
      -> existing: test_correction_savings.py::test_control_arm_edit_volume_and_hours_per_audio_hour
ARM07 correction/arms.py:172      warning at rate <= 1 instead of < 1
      -> new: test_work_as_long_as_the_audio_is_no_warning
ARM08 correction/arms.py:189      edits per audio minute leave out boundary edits
      -> existing: test_correction_savings.py::test_control_arm_edit_volume_and_hours_per_audio_hour
ARM09 correction/arms.py:192      hours per audio hour over all the arm's audio, not timed
      -> new: test_hours_per_audio_hour_are_over_the_timed_items_only
CAL01 correction/calibration.py:24chunk_wer not capped at 1
      -> existing: test_correction_savings.py::test_chunk_wer_of_deleted_and_clean_groups
CAL03 correction/calibration.py:45pd.cut include_lowest=False (predicted 0 dropped)
      -> new: test_calibration_counts_a_prediction_of_zero_and_clips_the_rest
CAL04 correction/calibration.py:45predicted WER not clipped into [0, 1]
      -> new: test_calibration_counts_a_prediction_of_zero_and_clips_the_rest
CAL05 correction/calibration.py:50share_with_error: measured >= 0
      -> existing: test_correction_savings.py::test_calibration_table_bins_predicted_against_measured
CAL06 correction/calibration.py:61mean gap measured - predicted
      -> existing: test_correction_savings.py::test_calibration_table_bins_predicted_against_measured
CAL07 correction/calibration.py:62mean gap unweighted by chunks
      -> existing: test_correction_savings.py::test_calibration_table_bins_predicted_against_measured
ROU01 routing.py:49               from_scratch at predicted == draft_max_wer (> -> >=)
      -> new: test_an_item_at_exactly_draft_max_wer_keeps_its_draft
ROU02 routing.py:47               control draw < share -> <=
      -> equivalent: the draw equals the share with probability ~2**-64; at share 1 the draw is < 1 either way
ROU03 routing.py:47               from_scratch decided before the control draw
      -> existing: test_review_routing.py::test_export_chunks_records_predicted_wer_share_and_route_per_file
ROU04 routing.py:56               control draw ignores the seed
      -> existing: test_review_routing.py::test_control_arm_is_reproducible_stable_and_stratified
ROU06 routing.py:66               wer_band upper edge exclusive
      -> existing: test_review_routing.py::test_wer_bands
ROU07 routing.py:89               strata count from_scratch as control
      -> new: test_strata_count_only_control_items_as_control
ROU09 routing.py:47               guard `control_share > 0` removed
      -> equivalent: control_draw is >= 0, so draw < share <= 0 never holds (share is validated >= 0)
REV01 review.py:92                predicted_wer > threshold -> >=
      -> new: test_a_chunk_whose_predicted_wer_equals_the_threshold_is_not_flagged
REV02 review.py:94                doubtful_words reason added without another reason
      -> existing:
         test_review_routing.py::test_a_word_at_005_flags_the_chunk_when_the_predicted_wer_crosses_the_threshold
REV03 review.py:117               doubtful words not sorted by index
      -> new: test_doubtful_words_from_both_sources_are_in_word_order
REV04 review.py:131               item WER unweighted mean of chunks
      -> existing: test_review_routing.py::test_item_wer_weights_chunks_by_words
REV06 review.py:60                checked model assessed at the draft model's threshold
      -> new: test_the_checked_model_keeps_its_own_threshold
REV07 review.py:57                `review_model is not None or` -> `and`
      -> existing: test_cross_check.py::test_a_teams_own_model_or_no_check_assesses_without_the_check
REV10 review.py:114               words heard otherwise re-listed over doubtful ones
      -> equivalent: a word in both lists gets the same (index, stripped word, rounded probability) either way
FEA01 quality/features.py:133     low word: p < 0.5 -> <=
      -> new: test_feature_edges_are_inclusive_and_short_spans_are_floored
FEA02 quality/features.py:113     at_start: <= margin -> <
      -> new: test_feature_edges_are_inclusive_and_short_spans_are_floored
FEA03 quality/features.py:114     at_end: >= duration - margin -> >
      -> new: test_feature_edges_are_inclusive_and_short_spans_are_floored
FEA04 quality/features.py:102     speech span floor 0.1 s -> 0.01 s
      -> new: test_feature_edges_are_inclusive_and_short_spans_are_floored
FEA05 quality/features.py:132     no floor of 1 word without probabilities
      -> new: test_probability_features_without_words_stand_in_for_one_word
LAB01 quality/labels.py:43        ChunkLabel.wer not clipped at 1
      -> new: test_a_chunk_label_wer_is_clipped_at_one
LAB02 quality/labels.py:96        inserted tokens count a reference word (< -> <=)
      -> existing: test_quality.py::test_labels_attribute_substitutions_and_insertions_to_their_chunk
LAB03 quality/labels.py:103       extra reference words of a substitution dropped
      -> equivalent: rapidfuzz (jiwer 4.0.0) emits substitute blocks of equal lengths only (checked on 20,000 random
         pairs)
LAB04 quality/labels.py:93        a deleted word adds no reference word
      -> existing: test_quality.py::test_labels_put_a_deleted_word_in_the_chunk_nearest_in_time
LAB05 quality/labels.py:153       untimed deletion to the chunk after, not before
      -> new: test_a_deleted_word_without_times_goes_to_the_chunk_before_it
LAB07 quality/labels.py:126       a sentence's words timed at slot starts, not middles
      -> new: test_a_deleted_word_is_placed_at_the_middle_of_its_slot
LAB08 quality/labels.py:97        insertions not marked as errors
      -> existing: test_quality.py::test_labels_attribute_substitutions_and_insertions_to_their_chunk
XC01  quality/crosscheck.py:88    overlaps: touching counts (< -> <=, > -> >=)
      -> new: test_check_words_overlap_only_inside_or_at_a_zero_length_edge
XC02  quality/crosscheck.py:88    zero-length word at the edge: <= -> <
      -> new: test_check_words_overlap_only_inside_or_at_a_zero_length_edge
XC03  quality/crosscheck.py:68    guard for a chunk without normalized words removed
      -> equivalent: the pinned jiwer 4.0.0 aligns an empty reference (all insertions): 0 unconfirmed either way
XC04  quality/crosscheck.py:75    substituted words counted as confirmed
      -> existing: test_cross_check.py::test_each_word_heard_otherwise_or_not_heard_counts
EVA01 quality/evaluate.py:47      recall over flagged
      -> existing: test_quality.py::test_grouped_threshold_reaches_the_recall_in_each_group
EVA03 quality/evaluate.py:99      zip(strict=True) dropped
      -> new: test_flag_metrics_refuse_lists_of_different_lengths
EVA04 quality/evaluate.py:164     flagged at predicted >= threshold
      -> new: test_evaluation_flags_above_the_threshold_and_clips_measured_wer
EVA05 quality/evaluate.py:163     measured WER not clipped to [0, 1]
      -> new: test_evaluation_flags_above_the_threshold_and_clips_measured_wer
EVA06 quality/evaluate.py:180     AUC ties not counted half
      -> new: test_ranking_auc_counts_ties_half
      -> new: test_evaluation_flags_above_the_threshold_and_clips_measured_wer
EVA07 quality/evaluate.py:170     wer_mae signed, not absolute
      -> new: test_evaluation_flags_above_the_threshold_and_clips_measured_wer
EVA08 quality/evaluate.py:146     negative chunk index accepted
      -> new: test_measured_rows_leave_out_indices_outside_the_file
EVA10 quality/evaluate.py:93      Wilson interval -> exact (Clopper-Pearson)
      -> existing: test_quality.py::test_flag_metrics_intervals_are_wilson_intervals
REV05 review.py:136               review_share rounded to 2 places
      -> new: test_review_share_is_the_flagged_share_to_four_places
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from support.correction_runs import ANNOTATION

from preannotate.chunking import Chunk
from preannotate.correction.align import DELETED, MATCHED, MERGED, MOVED, Group, align
from preannotate.correction.arms import compare_arms, file_route, read_work_times
from preannotate.correction.calibration import calibration_table
from preannotate.correction.compare import compare_item
from preannotate.correction.effort import CONTROL, DRAFT, FROM_SCRATCH, ItemEdits, estimate
from preannotate.correction.events import Event
from preannotate.correction.metrics import boundary_shifts_ms, group_row, score_texts, summarize
from preannotate.correction.savings import Evidence, effort_line, evidence_sections
from preannotate.errors import CorrectionError
from preannotate.options import AnnotationOptions, CorrectionOptions
from preannotate.options.correction import EffortOptions
from preannotate.quality import ReviewModel, chunk_features, evaluate_review_model, flag_metrics, label_chunks
from preannotate.quality.crosscheck import CheckWord, overlaps
from preannotate.quality.evaluate import measured_rows, ranking_auc
from preannotate.quality.features import probability_features
from preannotate.quality.model import checked_model, default_model
from preannotate.results import Word
from preannotate.review import Reviewer, review_share
from preannotate.routing import route_item, strata
from preannotate.sa_format import sa_annotation
from preannotate.text_normalize import text_normalizer

US = 1_000_000


def ev(index: int, start: float, end: float, text: str = "x") -> Event:
    return Event(index, round(start * US), round(end * US), text)


def words_chunk(words: list[tuple[str, float, float, float]], index: int = 0, **fields) -> Chunk:
    """A chunk of (word, start, end, probability) words, bounded by its first start and last end."""
    timed = tuple(Word(f" {w}", s, e, p) for w, s, e, p in words)
    text = " ".join(w for w, *_ in words)
    return Chunk(index, timed[0].start, timed[-1].end, text, timed, **fields)


def constant_model(threshold: float, word_threshold: float = 0.5) -> ReviewModel:
    """A review model whose every prediction is sigmoid(0) = 0.5: a zero coefficient and zero intercepts."""
    return ReviewModel(
        features=("mean_prob",),
        mean=(0.0,),
        scale=(1.0,),
        coef=(0.0,),
        intercept=0.0,
        wer_slope=1.0,
        wer_intercept=0.0,
        threshold=threshold,
        word_threshold=word_threshold,
    )


def draft_and_corrected(draft: list[Chunk], corrected: list[Chunk], duration: float = 10.0) -> tuple[dict, dict]:
    """The item's annotation as uploaded and as an annotator left it (both in SuperAnnotate's format)."""
    return sa_annotation("a.wav", duration, draft, ANNOTATION), sa_annotation("a.wav", duration, corrected, ANNOTATION)


# --- metrics ----------------------------------------------------------------------------------------------


# MET06 (reference and hypothesis swapped in jiwer): the corrected text is the reference, so a word the draft
# missed is a deletion and a word the draft invented an insertion.
def test_a_word_missing_from_the_draft_is_a_deletion_and_an_invented_one_an_insertion() -> None:
    missed = score_texts("see you soon", "see you")  # reference 3 words; "soon" missing from the draft
    assert (missed.hits, missed.deletions, missed.insertions, missed.ref_words) == (2, 1, 0, 3)
    invented = score_texts("see you", "see you soon then")  # 2 draft words the annotator removed
    assert (invented.hits, invented.deletions, invented.insertions, invented.ref_words) == (2, 0, 2, 2)
    assert invented.wer == 1.0  # 2 insertions over 2 reference words


# MET08 (a deleted group's text counts as changed only when its words differ): "Um." normalizes to nothing in
# English, yet the annotator deleted the chunk: that is a change.
def test_a_deleted_chunk_whose_words_normalize_to_nothing_is_still_a_text_change() -> None:
    en = text_normalizer("en")
    assert en("Um.").split() == []  # Whisper's English normalizer drops fillers
    row = group_row(Group(DELETED, (ev(0, 1.0, 2.0, "Um."),), ()), en, False, 10.0)
    assert row["text_changed"] is True and row["untouched"] is False


# MET09 (`<=` tolerance -> `<`) and MET10 (`>` -> `>=` for retimed): a boundary moved by exactly the tolerance
# (10 ms: 1.010 s - 1.000 s = 10,000 us = 10.0 ms) still counts as untouched and not retimed.
def test_a_boundary_moved_by_exactly_the_tolerance_is_untouched() -> None:
    en = text_normalizer("en")
    group = Group(MATCHED, (ev(0, 1.0, 2.0, "Hello there."),), (ev(0, 1.01, 2.0, "Hello there."),))
    row = group_row(group, en, False, 10.0)
    assert (row["start_shift_ms"], row["end_shift_ms"]) == (10.0, 0.0)
    assert row["untouched"] is True and row["retimed"] is False
    moved = Group(MATCHED, (ev(0, 1.0, 2.0, "Hello there."),), (ev(0, 1.011, 2.0, "Hello there."),))
    assert group_row(moved, en, False, 10.0)["retimed"] is True  # 11 ms: past the tolerance


# MET13 (the draft's outer start taken as its latest start) and MET14 (sign of the start shift): a merge of
# chunks 0-1 s and 1-2 s into one event 0.2-2.3 s moved the outer start 200 ms later and the end 300 ms later.
def test_boundary_shifts_measure_the_outer_boundaries_with_later_positive() -> None:
    merged = Group(MERGED, (ev(0, 0.0, 1.0), ev(1, 1.0, 2.0)), (ev(0, 0.2, 2.3),))
    assert boundary_shifts_ms(merged) == (200.0, 300.0)  # (0.2 - 0.0) s, (2.3 - 2.0) s
    earlier = Group(MATCHED, (ev(0, 1.0, 2.0),), (ev(0, 0.75, 1.5),))
    assert boundary_shifts_ms(earlier) == (-250.0, -500.0)  # both boundaries moved earlier


# MET22 (signed instead of absolute shifts in the summary): a start moved 100 ms earlier and an end moved
# 300 ms later are 2 boundaries of mean |shift| (100 + 300) / 2 = 200 ms, median 200, max 300.
def test_summary_shift_statistics_use_absolute_values() -> None:
    en = text_normalizer("en")
    group = Group(MATCHED, (ev(0, 1.0, 2.0, "Hi."),), (ev(0, 0.9, 2.3, "Hi."),))
    row = group_row(group, en, False, 10.0)
    assert (row["start_shift_ms"], row["end_shift_ms"]) == (-100.0, 300.0)
    chunk = {"kind": MATCHED, "untouched": False, "text_changed": False, "retimed": True}
    summary = summarize([row], [{**chunk, "needs_review": None, "changed": False}])
    assert summary["boundaries"] == 2
    assert summary["mean_abs_shift_ms"] == pytest.approx(200.0)
    assert summary["median_abs_shift_ms"] == pytest.approx(200.0)
    assert summary["max_abs_shift_ms"] == pytest.approx(300.0)


# --- compare ----------------------------------------------------------------------------------------------


# CMP01 (the item's language winning over correction.language): with `es` set, "Mr. Smith" and "Mister Smith"
# are 2 words with 1 substitution (WER 0.5); with the item's `en` they would be equal ("mister smith").
def test_correction_language_option_wins_over_the_items_language() -> None:
    draft, corrected = draft_and_corrected([Chunk(0, 0.5, 2.0, "Mr. Smith.")], [Chunk(0, 0.5, 2.0, "Mister Smith.")])
    as_spanish = compare_item(draft, corrected, ANNOTATION, CorrectionOptions(language="es"), "en")
    assert (as_spanish.groups[0]["substitutions"], as_spanish.groups[0]["wer"]) == (1, 0.5)
    as_english = compare_item(draft, corrected, ANNOTATION, CorrectionOptions(), "en")
    assert as_english.groups[0]["wer"] == 0.0


# CMP02 (a regional code such as zh-CN not read as unspaced): characters are counted without spaces, so
# "我爱你" against the draft "我恨你" is 3 reference characters with 1 edit (CER 1/3), not "我 爱 你" (5).
def test_a_regional_code_of_an_unspaced_language_counts_characters_without_spaces() -> None:
    draft, corrected = draft_and_corrected([Chunk(0, 0.5, 2.0, "我恨你")], [Chunk(0, 0.5, 2.0, "我爱你")])
    group = compare_item(draft, corrected, ANNOTATION, CorrectionOptions(), "zh-CN").groups[0]
    assert (group["ref_words"], group["substitutions"]) == (3, 1)  # letters are the words
    assert (group["ref_chars"], group["char_errors"]) == (3, 1) and group["cer"] == pytest.approx(1 / 3)


# CMP03 (chunks.csv's needs_review preferred over the flag the draft carried): the annotator saw the draft's
# flag, so that is the one scored, even where the quality record (re-chunked since) says otherwise.
def test_the_flag_the_draft_carried_is_scored_before_the_quality_records() -> None:
    chunk = Chunk(0, 0.5, 2.0, "Hello there.", needs_review=True, review_reason="low_word_probability")
    draft, corrected = draft_and_corrected([chunk], [Chunk(0, 0.5, 2.0, "Hello there.")])
    quality = {"Hello there.": [{"start_us": 500_000, "needs_review": False, "mean_word_probability": 0.4}]}
    [row] = compare_item(draft, corrected, ANNOTATION, CorrectionOptions(), "en", quality).chunks
    assert row["needs_review"] is True and row["mean_word_probability"] == 0.4


# CMP04 (insertions left out of a chunk's measured WER): "see you soon" corrected to "see you" is 1 insertion
# over 2 reference words (0.5); a deleted chunk "thank you" has 0 reference words and 2 insertions (1.0).
def test_a_chunks_measured_wer_counts_the_words_the_annotator_removed() -> None:
    draft, corrected = draft_and_corrected(
        [Chunk(0, 0.5, 2.0, "see you soon"), Chunk(1, 3.0, 4.0, "thank you")], [Chunk(0, 0.5, 2.0, "see you")]
    )
    chunks = compare_item(draft, corrected, ANNOTATION, CorrectionOptions(), "en").chunks
    assert [(c["kind"], c["measured_wer"]) for c in chunks] == [(MATCHED, 0.5), (DELETED, 1.0)]


# --- align ------------------------------------------------------------------------------------------------


def shape(groups: list[Group]) -> list[tuple[str, list[int], list[int]]]:
    return [(g.kind, [e.index for e in g.draft], [e.index for e in g.corrected]) for g in groups]


# ALN06 (candidates not sorted by distance) and ALN07 (an added event paired twice): two deleted "yes" chunks
# (0 s and 20 s) and one "yes" added at 22 s: the nearest (20 s, 2 s away, against 22 s) is the one moved.
def test_a_moved_event_pairs_with_the_nearest_deleted_chunk_once() -> None:
    draft = [ev(0, 0.0, 1.0, "yes"), ev(1, 20.0, 21.0, "yes")]
    corrected = [ev(0, 22.0, 23.0, "Yes")]
    assert shape(align(draft, corrected)) == [(DELETED, [0], []), (MOVED, [1], [0])]
    # Three chunks, one event: still each event in exactly one group.
    draft.append(ev(2, 40.0, 41.0, "yes"))
    groups = align(draft, corrected)
    assert sorted(e.index for g in groups for e in g.corrected) == [0]
    assert sorted(e.index for g in groups for e in g.draft) == [0, 1, 2]


# --- savings, effort, arms --------------------------------------------------------------------------------

# One drafted minute: 150 corrected words (2.5 words/s), 15 word edits and 3 boundary edits (as in
# test_correction_savings.py, whose hand computation gives 2.25 hours saved per audio hour, 1.65 low, 4.05 high).
DRAFTED = ItemEdits("a.wav", DRAFT, audio_seconds=60.0, word_edits=15, segment_edits=3, ref_words=150)


# SAV01 (low, central and high figures out of order in the console line).
def test_effort_line_puts_the_central_figure_first_and_the_range_low_to_high() -> None:
    line = effort_line(estimate([DRAFTED], EffortOptions()))
    # 135 s saved = 0.0375 h; per audio hour 2.25 (central), 1.65 (low), 4.05 (high).
    assert line == "hours saved (estimate): 0.0375 h, 2.25 per audio hour (range 1.65 to 4.05); see the report"


# SAV02 (a saving of exactly 0 read as "not estimated") and EFF07 (an estimate refused without a speaking rate
# although seconds_per_edit is set): items typed from scratch save 0 h, a figure, not a missing one.
def test_a_run_without_drafts_saves_zero_hours_when_the_edit_cost_is_given() -> None:
    scratch = ItemEdits("b.wav", FROM_SCRATCH, 60.0, word_edits=150, segment_edits=0, ref_words=150)
    found = estimate([scratch], EffortOptions(seconds_per_edit=2.0))
    # No drafted item: no speaking rate, but the edit cost is set. From scratch 5 * 60 = 300 s, as worked 300 s.
    assert found["hours_saved"] == 0.0 and found["saved_per_audio_hour"] == 0.0
    assert found["manual_hours"] == pytest.approx(300 / 3600) == found["post_edit_hours"]
    assert effort_line(found).startswith("hours saved (estimate): 0 h, 0 per audio hour (range 0 to 0)")


# EFF02 (an item typed from scratch left out of the hours as worked): post-editing the draft 165 s plus typing
# the other minute from scratch 5 * 60 = 300 s: 465 s as worked, against 600 s from scratch.
def test_hours_as_worked_include_the_items_typed_from_scratch() -> None:
    scratch = ItemEdits("b.wav", FROM_SCRATCH, 60.0, word_edits=150, segment_edits=0, ref_words=150)
    found = estimate([DRAFTED, scratch], EffortOptions())
    assert found["manual_hours"] == pytest.approx(600 / 3600)
    assert found["post_edit_hours"] == pytest.approx(465 / 3600)
    assert found["hours_saved"] == pytest.approx((600 - 465) / 3600)


# EFF11 (a boundary edit set to cost 0 s replaced by the word-edit cost): per edit 5 s, per boundary 0 s:
# post-editing 75 + 5 * 15 = 150 s; saved 300 - 150 = 150 s over 60 s of audio: 2.5 hours per audio hour.
def test_a_boundary_edit_may_cost_nothing() -> None:
    found = estimate([DRAFTED], EffortOptions(seconds_per_segment_edit=0.0))
    assert found["saved_per_audio_hour"] == pytest.approx(2.5)


# SAV04 (the ratio printed upside down in the report): drafts 840 s of work for 180 s of audio (4.667 h per
# audio hour), control 1,200 s for 120 s (10): drafts took 0.47 times the control arm's hours.
def test_the_report_states_the_drafts_ratio_to_the_control_arm() -> None:
    edits = [
        ItemEdits("d1", DRAFT, 120.0, 13, 0, 300),
        ItemEdits("d2", DRAFT, 60.0, 2, 1, 150),
        ItemEdits("c1", CONTROL, 120.0, 280, 4, 280),
    ]
    arms = compare_arms(edits, {"d1": 600.0, "d2": 240.0, "c1": 1200.0})
    assert arms["ratio"] == pytest.approx((840 / 180) / 10)
    found = Evidence(estimate(edits, EffortOptions()), calibration_table(pd.DataFrame()), arms)
    sections = dict(evidence_sections(found))
    assert (
        "Drafts took 0.47 times the control arm's hours per audio hour."
        in sections["Control arm: drafts against typing from scratch"]
    )


# ARM01 (an unknown route kept as it is): a run.json edited by hand or written by a newer version.
def test_an_unknown_route_is_read_as_draft() -> None:
    assert [file_route(r) for r in (None, {}, {"route": "bogus"}, {"route": CONTROL})] == [DRAFT, DRAFT, DRAFT, CONTROL]


# ARM04 (a work time of 0 seconds accepted).
def test_a_work_time_of_zero_seconds_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "times.csv"
    path.write_text("item,seconds\na.wav,10\nb.wav,0\n", encoding="utf-8")
    with pytest.raises(CorrectionError, match="line 3: seconds '0' of b.wav must be a positive number"):
        read_work_times(path)


# ARM07 (work equal to the audio's length flagged as misread): 60 s of work on 60 s of audio is 1 hour per
# audio hour, not less than the audio lasts.
def test_work_as_long_as_the_audio_is_no_warning() -> None:
    found = compare_arms([ItemEdits("a.wav", DRAFT, 60.0, 0, 0, 100)], {"a.wav": 60.0})
    assert found["arms"][DRAFT]["hours_per_audio_hour"] == 1.0 and found["warnings"] == []
    faster = compare_arms([ItemEdits("a.wav", DRAFT, 60.0, 0, 0, 100)], {"a.wav": 59.0})
    assert len(faster["warnings"]) == 1 and "less than the audio lasts" in faster["warnings"][0]


# ARM09 (untimed items' audio in the denominator): d1 took 600 s for 120 s of audio; d2 (60 s) has no work
# time, so the arm's rate is 600 / 120 = 5 hours per audio hour, not 600 / 180.
def test_hours_per_audio_hour_are_over_the_timed_items_only() -> None:
    edits = [ItemEdits("d1", DRAFT, 120.0, 0, 0, 300), ItemEdits("d2", DRAFT, 60.0, 0, 0, 150)]
    found = compare_arms(edits, {"d1": 600.0})
    draft = found["arms"][DRAFT]
    assert (draft["timed_items"], draft["work_hours"]) == (1, pytest.approx(600 / 3600))
    assert draft["hours_per_audio_hour"] == pytest.approx(5.0) and found["untimed"] == ["d2"]


# --- calibration ------------------------------------------------------------------------------------------


# CAL03 (the first bin without its lower edge) and CAL04 (predictions outside [0, 1] not clipped): a
# prediction of exactly 0 belongs to 0.00-0.05, and every chunk with both numbers is counted in some bin.
def test_calibration_counts_a_prediction_of_zero_and_clips_the_rest() -> None:
    chunks = pd.DataFrame({"predicted_wer": [0.0, 0.0, 1.0, 1.2], "measured_wer": [0.0, 0.5, 1.0, 0.5]})
    table = calibration_table(chunks).set_index("predicted_wer_bin")
    assert table.loc["0.00-0.05", "chunks"] == 2 and table.loc["0.50-1.00", "chunks"] == 2
    assert table.loc["0.00-0.05", "mean_measured_wer"] == pytest.approx(0.25)  # (0 + 0.5) / 2
    assert table["chunks"].sum() == 4


# --- routing ----------------------------------------------------------------------------------------------


# ROU01 (an item at exactly draft_max_wer routed away): "above draft_max_wer" is transcribed from scratch.
def test_an_item_at_exactly_draft_max_wer_keeps_its_draft() -> None:
    assert route_item("a.wav", 0.3, 0.3, 0.0, 0) == DRAFT
    assert route_item("a.wav", 0.3001, 0.3, 0.0, 0) == FROM_SCRATCH


# ROU07 (items transcribed from scratch counted as control in the strata).
def test_strata_count_only_control_items_as_control() -> None:
    rows = [("en", 0.6, FROM_SCRATCH), ("en", 0.7, CONTROL), ("en", 0.05, DRAFT), (None, None, DRAFT)]
    assert strata(rows) == {
        "en|0-0.1": {"items": 1, "control": 0},
        "en|0.5-1": {"items": 2, "control": 1},
        "unknown|none": {"items": 1, "control": 0},
    }


# --- review -----------------------------------------------------------------------------------------------

CALM = [("alpha", 1.0, 1.3, 0.9), ("beta", 1.4, 1.7, 0.9), ("gamma", 1.8, 2.1, 0.9)]


# REV01 (`>` threshold -> `>=`): the constant model predicts sigmoid(0) = 0.5; "above the threshold" 0.5 is
# not flagged, above 0.4999 it is.
def test_a_chunk_whose_predicted_wer_equals_the_threshold_is_not_flagged() -> None:
    [at] = Reviewer(constant_model(0.5), 0.5).assess([words_chunk(CALM)], 10.0)
    assert (at.predicted_wer, at.needs_review, at.review_reason) == (0.5, False, "")
    [above] = Reviewer(constant_model(0.5), 0.4999).assess([words_chunk(CALM)], 10.0)
    assert (above.needs_review, above.review_reason) == (True, "predicted_wer")


# REV03 (doubtful words listed unsorted): "gamma" is under the word threshold (0.1 < 0.5), "alpha" (0.9) is
# heard otherwise by the check ("alfa"): both listed, in the chunk's word order.
def test_doubtful_words_from_both_sources_are_in_word_order() -> None:
    chunk = words_chunk([("alpha", 1.0, 1.3, 0.9), ("beta", 1.4, 1.7, 0.9), ("gamma", 1.8, 2.1, 0.1)])
    check = [CheckWord(1.0, 1.3, " alfa"), CheckWord(1.4, 1.7, " beta"), CheckWord(1.8, 2.1, " gamma")]
    reviewer = Reviewer(constant_model(0.4), 0.4, (constant_model(0.4), 0.4))
    [assessed] = reviewer.assess([chunk], 10.0, check)
    assert assessed.doubtful_words == ((0, "alpha", 0.9), (2, "gamma", 0.1))
    assert assessed.review_reason == "predicted_wer;doubtful_words"


# REV06 (a checked file assessed at the draft model's threshold): each shipped model has its own threshold.
def test_the_checked_model_keeps_its_own_threshold() -> None:
    reviewer = Reviewer.from_options(AnnotationOptions())
    assert reviewer.checked is not None
    model, threshold = reviewer.checked
    assert model == checked_model() and threshold == checked_model().threshold
    assert reviewer.threshold == default_model().threshold


# REV05 (rounded to 2 places): the share of chunks that need review: 1 of 3 chunks is 0.3333 (4 places).
def test_review_share_is_the_flagged_share_to_four_places() -> None:
    chunks = [Chunk(i, i, i + 1.0, "x", needs_review=i == 0) for i in range(3)]
    assert review_share(chunks) == 0.3333 and review_share([]) is None


# --- features ---------------------------------------------------------------------------------------------


# FEA01 (`<` 0.5 -> `<=`), FEA02 (`<=` edge -> `<`), FEA03 (`>=` edge -> `>`), FEA04 (span floor 0.1 -> 0.01):
# one word at exactly 0.5 is not low; speech from 0.5 s touches the start and speech to 9.5 s of a 10 s file
# touches the end (margin 0.5 s); a one-word span of 0.05 s counts as 0.1 s (1 word / 0.1 s = 10 words/s).
def test_feature_edges_are_inclusive_and_short_spans_are_floored() -> None:
    f = chunk_features(words_chunk([("half", 0.5, 1.0, 0.5), ("sure", 9.0, 9.5, 0.9)]), 10.0)
    assert (f["n_low"], f["share_low"]) == (0.0, 0.0)
    assert (f["at_start"], f["at_end"]) == (1.0, 1.0)
    short = chunk_features(words_chunk([("oh", 3.0, 3.05, 0.9)]), 10.0)
    assert short["words_per_second"] == pytest.approx(10.0)
    assert short["chars_per_second"] == pytest.approx(20.0)  # "oh": 2 characters / 0.1 s


# FEA05 (no floor of one word without probabilities): the mean token probability stands in for at least one.
def test_probability_features_without_words_stand_in_for_one_word() -> None:
    f = probability_features([], math.log(0.4), n_words=0)
    assert f["min_prob"] == pytest.approx(0.4) and f["n_low"] == 1.0
    assert f["sum_log_prob"] == pytest.approx(math.log(0.4))


# --- labels -----------------------------------------------------------------------------------------------


def plain(text: str) -> str:
    return " ".join(text.lower().replace(".", " ").split())


# LAB01 (chunk WER not clipped at 1): "a b c" against the reference "x" is 1 substitution and 2 insertions
# over 1 reference word: 3 errors, WER min(3 / 1, 1) = 1.
def test_a_chunk_label_wer_is_clipped_at_one() -> None:
    chunk = words_chunk([("a", 0.0, 0.3, 0.9), ("b", 0.3, 0.6, 0.9), ("c", 0.6, 0.9, 0.9)])
    [label], lost = label_chunks([chunk], "x", plain)
    assert (label.errors, label.ref_words, label.wer, lost) == (3, 1, 1.0, 0)


# LAB05 (a deletion without times given to the chunk after it): without reference times a deleted word goes
# to the chunk before it: "everyone" (between "morning" and "see") belongs to the first chunk.
def test_a_deleted_word_without_times_goes_to_the_chunk_before_it() -> None:
    first = words_chunk([("good", 0.0, 0.4, 0.9), ("morning", 0.4, 0.8, 0.9)])
    second = words_chunk([("see", 6.0, 6.4, 0.9), ("you", 6.4, 6.8, 0.9)], index=1)
    labels, _ = label_chunks([first, second], "Good morning everyone. See you.", plain)
    assert [(lab.errors, lab.ref_words) for lab in labels] == [(1, 3), (0, 2)]


# LAB07 (a sentence's words placed at the starts of their slots, not their middles): "friends" spoken over
# 1.2-1.8 s sits at 1.5 s: 0.7 s after the first chunk (ends 0.8 s), 0.5 s before the second (starts 2.0 s).
def test_a_deleted_word_is_placed_at_the_middle_of_its_slot() -> None:
    first = words_chunk([("good", 0.0, 0.4, 0.9), ("morning", 0.4, 0.8, 0.9)])
    second = words_chunk([("see", 2.0, 2.4, 0.9), ("you", 2.4, 2.8, 0.9)], index=1)
    sentences = [("good morning", 0.0, 0.8), ("friends", 1.2, 1.8), ("see you", 2.0, 2.8)]
    labels, lost = label_chunks([first, second], sentences, plain)
    assert [(lab.errors, lab.ref_words) for lab in labels] == [(0, 2), (1, 3)] and lost == 0


# --- crosscheck -------------------------------------------------------------------------------------------


# XC01 (touching counted as overlapping) and XC02 (a zero-length word at the chunk's edge left out).
def test_check_words_overlap_only_inside_or_at_a_zero_length_edge() -> None:
    assert not overlaps(CheckWord(0.0, 1.0, "before"), 1.0, 2.0)  # ends where the chunk starts
    assert overlaps(CheckWord(0.5, 1.01, "into"), 1.0, 2.0)
    assert overlaps(CheckWord(2.0, 2.0, "and"), 1.0, 2.0) and overlaps(CheckWord(1.0, 1.0, "so"), 1.0, 2.0)
    assert not overlaps(CheckWord(2.5, 2.5, "later"), 1.0, 2.0)


# --- evaluate ---------------------------------------------------------------------------------------------


# EVA03 (lengths not checked): a flag per chunk, or an error.
def test_flag_metrics_refuse_lists_of_different_lengths() -> None:
    with pytest.raises(ValueError):
        flag_metrics([True, False], [True])


# EVA04 (`>` threshold -> `>=`), EVA05 (measured WER not clipped) and EVA07 (signed error): the constant
# model predicts 0.5 for every row, at its threshold 0.5, so nothing is flagged; measured 0, 1 and 1.5
# (clipped to 1): mean measured 2 / 3, absolute errors 0.5 each: MAE 0.5.
def test_evaluation_flags_above_the_threshold_and_clips_measured_wer() -> None:
    features = {"mean_prob": 0.9}
    found = evaluate_review_model(constant_model(0.5), [(features, 0.0), (features, 1.0), (features, 1.5)])
    assert (found["chunks"], found["with_error"], found["flagged"], found["true_positives"]) == (3, 2, 0, 0)
    assert (found["recall"], found["precision"]) == (0.0, None)
    assert found["mean_measured_wer"] == pytest.approx(0.667) and found["mean_predicted_wer"] == 0.5
    assert found["wer_mae"] == 0.5
    assert found["auc"] == 0.5  # every score tied: half of each pair


# EVA06 (ties not counted half): scores (0.5, 0.5, 0.2) for (positive, negative, negative): the positive ties
# one negative (1/2) and beats the other (1): AUC (0.5 + 1) / 2 = 0.75.
def test_ranking_auc_counts_ties_half() -> None:
    assert ranking_auc([0.5, 0.5, 0.2], [True, False, False]) == pytest.approx(0.75)
    assert ranking_auc([0.5], [True]) is None


# EVA08 (a negative chunk index read from the end): measured WERs of chunks not in the file are left out.
def test_measured_rows_leave_out_indices_outside_the_file() -> None:
    chunks = [words_chunk(CALM), words_chunk([("delta", 3.0, 3.3, 0.9)], index=1)]
    rows = measured_rows(chunks, 10.0, {-1: 0.2, 0: 0.1, 1: None, 2: 0.3})
    assert [(f["mean_prob"], wer) for f, wer in rows] == [(pytest.approx(0.9), 0.1)]
    assert rows[0][0] == chunk_features(chunks[0], 10.0)
