"""Mutation audit, part A: tests that kill the mutants of the core pure transforms the other tests let live.

The audited modules are chunking, chunk_timing, subtitles, exports, sa_format, timeline, turns and silence. Each
mutant below was applied alone to a copy of the package and the existing tests of those modules were run against it
(the fast tier, `-m "not model and not notebook and not slow"`). Every test in this file kills at least one mutant
that survived; its expected values are worked out by hand from the documented rule (the comments show the
arithmetic), never copied from a run. The two tests at the end show product bugs the audit found, fixed since.

Results: 94 mutants; 53 killed by the existing fast tests, 1 more (T12) only now and then by an existing property
test, 1 (U02) only by an existing model-tier test, 2 equivalent (C17, T05), 37 killed only by the tests here
(one of them, U04, in a function removed since: it was used by nothing).

Mutants (id, module:line as audited, change, then what kills it):

    C01   chunking:151  per-speaker chunks not sorted by start
          -> existing test_speakers_channels::test_chunks_are_one_speaker_each_and_only_different_speakers_overlap
    C02   chunking:152  per-speaker chunks keep their per-speaker index
          -> existing test_speakers_channels::test_chunks_are_one_speaker_each_and_only_different_speakers_overlap
    C03   chunking:181  blank words become units
          -> existing test_chunking::test_invariants_hold_for_any_transcript_and_options
    C04   chunking:182  a segment without words is dropped
          -> existing test_chunking::test_a_segment_whose_words_are_missing_keeps_its_text
    C05   chunking:191  no space put before a segment text that lacks one
          -> new test_segments_without_a_leading_space_are_joined_with_one
    C06   chunking:202  `<=` -> `<`: a segment exactly at max_duration/max_chars is split into words
          -> new test_a_segment_exactly_at_the_limit_is_never_split
    C07   chunking:209  a piece's start interpolated at its end
          -> existing test_chunking::test_segment_far_longer_than_the_maximum_is_split_at_word_boundaries
    C08   chunking:221  unspaced scripts not split into characters
          -> existing test_chunking::test_long_segment_in_a_script_without_spaces_is_split_between_characters
    C09   chunking:243  speaker split condition inverted
          -> existing test_chunking::test_gap_exactly_at_the_threshold_does_not_split_but_a_longer_one_does
    C10   chunking:256  `<=` -> `<`: a gap equal to gap_threshold splits
          -> existing test_chunking::test_gap_exactly_at_the_threshold_does_not_split_but_a_longer_one_does
    C11   chunking:256  another speaker's word in a pause does not cut
          -> existing test_speakers_channels::test_chunks_are_one_speaker_each_and_only_different_speakers_overlap
    C12   chunking:275  the leading space counts against max_chars
          -> new test_a_text_of_exactly_max_chars_stays_one_chunk
    C13   chunking:276  `>` -> `>=`: a chunk of exactly max_duration refused
          -> new test_a_chunk_of_exactly_max_duration_stays_one_chunk
    C14   chunking:276  `>` -> `>=`: a chunk of exactly max_chars refused
          -> new test_a_text_of_exactly_max_chars_stays_one_chunk
    C15   chunking:278  `and` -> `or`: short-chunk penalty waived for a run's first/last chunk
          -> new test_a_short_sentence_at_a_run_start_is_not_left_alone
    C16   chunking:299  a sentence end costs as much as a comma
          -> new test_a_sentence_end_beats_a_better_balanced_comma
    C17   chunking:304  pause discount not capped at 1 (`min(..., 1.0)` dropped)
          -> EQUIVALENT: the cost before the discount is at most 4, so any ratio >= 1 gives <= 0, clamped to 0 by
            max(cost, 0.0) either way (and a gap over gap_threshold already ends the run)
    C18   chunking:305  `!=` -> `==`: segment-end bonus given inside segments
          -> new test_without_punctuation_a_forced_cut_goes_to_a_segment_end
    C19   chunking:313  speaker from the trimmed unit times, not the model's word times
          -> new test_trimming_a_stretched_word_does_not_change_its_speaker
    C20   chunking:329  min_word_probability is the max
          -> existing test_chunking::test_signals_aggregate_over_segments
    C21   chunking:377  `>` -> `>=`: no_speech_prob equal to its threshold flagged
          -> new test_signals_exactly_at_the_review_thresholds_are_not_flagged
    C22   chunking:387  `<` -> `<=` in _below: a value equal to a threshold flagged
          -> new test_signals_exactly_at_the_review_thresholds_are_not_flagged
    C23   chunking:109  speaker None kept in Chunk.to_dict
          -> existing test_speakers_chunks::test_exports_carry_the_speaker_and_leave_it_out_when_speakers_are_off
    T01   chunk_timing:68   Spans.inside: `<=` -> `<` (a span ending at the pause's end not inside)
          -> new test_a_word_of_another_channel_filling_the_whole_pause_cuts_the_chunk
    T02   chunk_timing:67   Spans.inside: bisect_left -> bisect_right (a span starting at the pause's start not inside)
          -> new test_a_word_of_another_channel_filling_the_whole_pause_cuts_the_chunk
    T03   chunk_timing:73   closing quotes hide a sentence end
          -> existing test_chunking::test_sentence_ends_of_several_scripts
    T04   chunk_timing:93   sanitize: starts not made non-decreasing
          -> new test_sanitize_makes_starts_non_decreasing_and_ends_not_before_starts
    T05   chunk_timing:98   sanitize: `>` -> `>=` in the overlap cut
          -> EQUIVALENT: when end == next start, setting end to next start changes nothing
    T06   chunk_timing:99   sanitize: overlapping ends not cut
          -> existing test_chunking::test_segments_policy_keeps_segments_but_repairs_them
    T07   chunk_timing:119  no MIN_WORD_CAP
          -> existing test_exports::test_exports_match_golden_files
    T08   chunk_timing:125  a word opening a sentence trimmed at its end
          -> existing test_chunking::test_stretched_edge_words_are_trimmed_on_the_side_of_the_pause
    T09   chunk_timing:128  a word both opening and closing trimmed at its end only
          -> new test_a_stretched_word_alone_between_pauses_is_trimmed_on_both_sides
    T10   chunk_timing:147  `>=` -> `>`: a gap of exactly EDGE_GAP does not open
          -> new test_a_gap_of_exactly_edge_gap_makes_the_next_word_an_opening_word
    T11   chunk_timing:158  a comma does not make a closing word
          -> new test_a_stretched_word_after_a_pause_ending_in_a_comma_is_trimmed_on_both_sides
    T12   chunk_timing:188  a too short chunk not widened forward
          -> new test_a_zero_length_word_gets_a_chunk_widened_forward_into_silence (the existing property test
            test_chunking::test_invariants_hold_for_any_transcript_and_options found it in 1 of 2 runs only)
    T13   chunk_timing:190  `>= MIN_POSITIVE` -> `> 0`: sub-millisecond chunks kept
          -> new test_a_chunk_that_cannot_last_a_millisecond_is_merged_into_its_neighbour
    T14   chunk_timing:207  padding before the first chunk halved
          -> existing test_chunking::test_padding_stays_in_silence_and_inside_the_file
    T15   chunk_timing:209  padding before and after swapped
          -> existing test_chunking::test_one_word
    T16   chunk_timing:209  padding before takes the whole gap
          -> existing test_chunking::test_padding_stays_in_silence_and_inside_the_file
    S01   subtitles:21   SRT cues numbered from 0
          -> existing test_exports::test_exports_match_golden_files
    S02   subtitles:19   SRT end may equal its start
          -> existing test_cli_exports_audit::test_subtitle_times_are_never_negative_and_every_cue_ends_after_it_starts
    S03   subtitles:20   `-->` not defused in SRT text
          -> existing test_cli_exports_audit::test_srt_cue_text_never_holds_an_arrow (see the bug test below)
    S04   subtitles:29   VTT cue text not escaped
          -> existing test_exports::test_exports_match_golden_files
    S05   subtitles:46   a doubtful word searched from the text's start
          -> new test_a_repeated_doubtful_word_is_marked_where_the_model_put_it
    S06   subtitles:50   doubtful marks inverted
          -> existing test_review_routing::test_subtitles_mark_doubtful_words_only_when_asked
    S07   subtitles:52   text after the last word lost when marking
          -> new test_marking_keeps_text_after_the_last_word
    S08   subtitles:69   milliseconds truncated instead of rounded
          -> new test_subtitle_times_round_to_the_nearest_millisecond
    S09   subtitles:69   negative times not clamped to 0
          -> existing test_cli_exports_audit::test_subtitle_times_are_never_negative_and_every_cue_ends_after_it_starts
    S10   subtitles:75   a cue may end where it starts
          -> existing test_cli_exports_audit::test_subtitle_times_are_never_negative_and_every_cue_ends_after_it_starts
    S11   subtitles:93   `&` escaped after `<`/`>`
          -> existing test_exports::test_exports_match_golden_files
    E01   exports:122  speaker column last instead of after text
          -> existing test_speakers_chunks::test_exports_carry_the_speaker_and_leave_it_out_when_speakers_are_off
    E02   exports:121  `any` -> `all`: speaker column only when every chunk has one
          -> existing test_exports::test_dataframe_has_one_row_per_chunk_and_typed_columns
    E03   exports:149  duration not rounded in the CSV
          -> existing test_exports::test_exports_match_golden_files
    E04   exports:151  no formula defusing in the CSV
          -> existing test_csv_injection::test_chunks_csv_is_safe_jsonl_keeps_the_text_readers_get_it_back
    E05   exports:160  `index` kept in JSONL records
          -> existing test_exports::test_exports_match_golden_files
    E06   exports:191  refused items written anyway
          -> existing test_exports::test_unsafe_item_names_fail_that_item_only
    E07   exports:232  no NFC normalisation of item names
          -> new test_item_names_equal_after_unicode_normalisation_clash
    E08   exports:232  no casefold of item names
          -> existing test_exports::test_duplicate_items_fail_the_later_one_only
    E09   exports:210  SRT ignores mark_doubtful
          -> existing test_review_routing::test_subtitles_mark_doubtful_words_only_when_asked
    E10   exports:212  the item's route ignored in the SA JSON
          -> existing test_review_routing::test_textless_item_uploads_to_the_loopback_server_and_the_report_still_works
    E11   exports:130  the language column holds the source
          -> existing test_exports::test_exports_match_golden_files
    F01   sa_format:58   microseconds truncated, not rounded
          -> new test_event_times_are_rounded_to_the_nearest_microsecond
    F02   sa_format:84   an empty Speaker group added without speakers
          -> existing test_exports::test_group_and_class_names_come_from_the_options
    F03   sa_format:102  `len(numbers) == len(found)` -> `numbers`: SPEAKER_01..08 added to mixed names
          -> new test_speaker_values_of_mixed_names_are_the_names_as_found
    F04   sa_format:103  the highest SPEAKER_NN value left out
          -> existing test_superannotate_speakers::test_speaker_values_cover_the_run_and_spares
    F05   sa_format:103  values stop at SPEAKER_08
          -> existing test_superannotate_speakers::test_speaker_values_cover_the_run_and_spares
    F06   sa_format:104  plain sort instead of natural sort
          -> existing test_superannotate_speakers::test_speaker_values_cover_the_run_and_spares
    F07   sa_format:136  an event may end where it starts
          -> new test_a_zero_length_chunk_still_gives_an_event_that_ends_after_it_starts
    F08   sa_format:137  route test inverted
          -> existing test_exports::test_exports_match_golden_files
    F09   sa_format:160  `not speaker` -> `speaker is None`: an empty speaker becomes an attribute
          -> new test_a_chunk_with_an_empty_speaker_gets_no_speaker_attribute
    F10   sa_format:171  from-scratch and control reasons swapped
          -> existing test_review_routing::test_a_high_wer_item_is_routed_to_textless_events_that_validate
    F11   sa_format:139  the second timestamp at the start
          -> existing test_exports::test_exports_match_golden_files
    L01   timeline:20   a table without a speaker column raises
          -> existing test_notebook_speakers::test_timeline_without_speakers_is_as_before
    L02   timeline:22   colours by row order, not time order
          -> new test_speaker_colours_follow_time_not_row_order
    L03   timeline:22   an empty speaker gets a colour
          -> existing test_notebook_speakers::test_timeline_without_speakers_is_as_before
    L04   timeline:43   review colours inverted without speakers
          -> new test_without_speakers_chunks_to_review_are_orange_and_the_others_blue
    L05   timeline:48   `<= 60` -> `< 60` for labels
          -> new test_labels_up_to_60_characters_are_whole_longer_ones_cut_to_60
    L06   timeline:70   waveform times ignore the block size
          -> new test_the_waveform_spans_the_samples_time
    U01   turns:38   a bool accepted as a speaker count
          -> existing test_speakers_units::test_speaker_count_rejects_bad_values
    U02   turns:40   `>` -> `>=`: min_speakers == max_speakers refused
          -> new test_equal_min_and_max_speakers_are_allowed (otherwise only the model-tier
            test_speakers_audit::test_min_speakers_is_a_floor_similar_voices_are_not_merged_below kills it)
    U03   turns:48   `most` ignores num_speakers
          -> existing test_speakers_units::test_speaker_count_most
    U04   turns:53   relabel drops names missing from the mapping
          -> (relabel was used by nothing in the product: removed since, with its test)
    U05   turns:42   num with only one bound accepted
          -> existing test_speakers_units::test_speaker_count_rejects_bad_values
    Si01  silence:80   bisect_right -> bisect_left: a start on a join goes to the piece before
          -> new test_restore_maps_times_on_a_join_to_the_right_piece
    Si02  silence:81   bisect_left -> bisect_right: an end on a join goes to the piece after
          -> new test_restore_maps_times_on_a_join_to_the_right_piece
    Si03  silence:82   segments clipped at cuts like words
          -> existing test_silence::test_restore_puts_times_back_and_words_never_span_a_cut
    Si04  silence:129  `written == position` dropped: a trailing cut gives no timeline
          -> new test_a_trailing_silence_cut_still_gives_the_files_duration
    Si05  silence:101  threshold read as an amplitude (dB / 20)
          -> existing test_silence::test_long_silences_are_cut_keeping_every_clip_and_padding (and new
            test_a_level_above_the_threshold_is_sound_not_silence)
    Si06  silence:169  `<` -> `<=`: a quiet stretch of exactly min_duration_s kept
          -> new test_a_quiet_stretch_of_exactly_min_duration_is_cut
    Si07  silence:176  a trailing silence keeps padding at the file's end
          -> existing test_silence::test_long_silences_are_cut_keeping_every_clip_and_padding
    Si08  silence:175  each held piece of a silence keeps padding_s
          -> new test_padding_is_padding_s_when_a_silence_starts_just_before_a_block_ends
    Si09  silence:183  every kept run starts a new piece
          -> existing test_silence::test_speech_without_long_silence_passes_through_unchanged
    Si10  silence:127  a short trailing quiet dropped
          -> existing test_silence::test_speech_without_long_silence_passes_through_unchanged
    Si11  silence:85   `max(end, start)` dropped in Timeline._span
          -> new test_restore_never_ends_a_word_before_it_starts

Bugs found (fixed; the tests at the end of this file show them):

    subtitles.py `_no_arrow`: `"-->"` is replaced by `"->"` once, left to right, so `"--->"` becomes `"-->"`: an SRT
        cue line still holds the arrow a reader takes for a timing line.
    silence.py `SilenceCutter._measure`: an empty array handed to `extend` when nothing else is pending (after a
        block that ended on a frame boundary) makes `finish()` raise IndexError (`loud[0]` of no frames).
"""

from __future__ import annotations

import dataclasses
import unicodedata
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from preannotate.chunk_timing import Unit, sanitize
from preannotate.chunking import Chunk, chunk_transcript, review_reasons
from preannotate.exports import ItemChunks, write_exports
from preannotate.options import AnnotationOptions, ChunkingOptions, SilenceOptions
from preannotate.results import Segment, Transcript, Word
from preannotate.sa_format import sa_annotation, speaker_values
from preannotate.silence import SilenceCutter, Timeline
from preannotate.speakers import Turn, speaker_of
from preannotate.subtitles import srt_text, vtt_text
from preannotate.timeline import draw_timeline, speaker_colours
from preannotate.turns import SpeakerCount

matplotlib.use("Agg")

PLAIN = ChunkingOptions(padding_before=0.0, padding_after=0.0, word_stretch=None)
TRIM = dataclasses.replace(PLAIN, word_stretch=1.2)
RATE = 16_000


def one_segment(*words: tuple[str, float, float], duration: float = 60.0) -> Transcript:
    ws = tuple(Word(t, s, e, 0.9) for t, s, e in words)
    return Transcript("", "en", (Segment(0, ws[0].start, ws[-1].end, "".join(w.word for w in ws), words=ws),), duration)


def texts(chunks: list[Chunk]) -> list[str]:
    return [c.text for c in chunks]


# --- chunking: limits ------------------------------------------------------------------------------


def test_segments_without_a_leading_space_are_joined_with_one() -> None:
    segments = (Segment(0, 0.0, 2.0, "One."), Segment(1, 2.0, 4.0, "Two."))
    [chunk] = chunk_transcript(Transcript("", "en", segments, 10.0), PLAIN)
    assert chunk.text == "One. Two."


def test_a_segment_exactly_at_the_limit_is_never_split() -> None:
    # Without words: the first segment lasts exactly max_duration (10 s) and fits; the second is 0.2 s later.
    # Kept whole, the two cannot share a chunk (10.5 s), so the cut lies between them. Split into word pieces,
    # "one two three | four five." would be cheaper (no 0.3 s chunk alone): a segment that fits is never split.
    segments = (Segment(0, 0.0, 10.0, " one two three four"), Segment(1, 10.2, 10.5, " five."))
    chunks = chunk_transcript(Transcript("", "en", segments, 20.0), PLAIN)
    assert [(c.text, c.start, c.end) for c in chunks] == [("one two three four", 0.0, 10.0), ("five.", 10.2, 10.5)]


def test_a_chunk_of_exactly_max_duration_stays_one_chunk() -> None:
    transcript = one_segment((" a", 0.0, 5.0), (" b.", 5.0, 10.0))
    [chunk] = chunk_transcript(transcript, PLAIN)  # 10.0 s is not more than max_duration (10.0)
    assert (chunk.text, chunk.start, chunk.end) == ("a b.", 0.0, 10.0)


def test_a_text_of_exactly_max_chars_stays_one_chunk() -> None:
    transcript = one_segment((" abcde", 0.0, 0.5), (" fghij", 0.6, 1.0))
    options = dataclasses.replace(PLAIN, max_chars=11)
    assert texts(chunk_transcript(transcript, options)) == ["abcde fghij"]  # 11 characters, leading space not counted
    assert texts(chunk_transcript(transcript, dataclasses.replace(options, max_chars=10))) == ["abcde", "fghij"]


# --- chunking: where a long run is cut -------------------------------------------------------------


def test_a_short_sentence_at_a_run_start_is_not_left_alone() -> None:
    # 10.41 s of speech (over max_duration): one cut. "Yes. | w0 ... w9." would leave a 0.4 s chunk (short:
    # +2); the comma after w4 costs 1.5 - 4 * 0.09 = 1.14 and balances the halves, so the cut goes there.
    words = [(" Yes.", 0.0, 0.4)]
    words += [(f" w{i}" + {4: ",", 9: "."}.get(i, ""), 0.6 + i * 0.99, 0.6 + i * 0.99 + 0.9) for i in range(10)]
    chunks = chunk_transcript(one_segment(*words), PLAIN)
    assert texts(chunks) == ["Yes. w0 w1 w2 w3 w4,", "w5 w6 w7 w8 w9."]


def test_a_sentence_end_beats_a_better_balanced_comma() -> None:
    # 12 one-second words (11.9 s): one cut. After "sat." (2.9 s + 8.9 s): 2 + 0.5 * (0.29^2 + 0.89^2) + 0 = 2.44;
    # after "then," (5.9 s + 5.9 s): 2 + 0.5 * 2 * 0.59^2 + (1.5 - 0.4) = 3.45. The sentence end wins.
    names = ["a", "b", "sat.", "d", "e", "then,", "g", "h", "i", "j", "k", "end."]
    chunks = chunk_transcript(one_segment(*[(" " + n, float(i), i + 0.9) for i, n in enumerate(names)]), PLAIN)
    assert texts(chunks) == ["a b sat.", "d e then, g h i j k end."]


def test_without_punctuation_a_forced_cut_goes_to_a_segment_end() -> None:
    # Two Whisper segments of six one-second words each, no punctuation: a cut at the segment end costs
    # 4 - 0.4 - 0.5 (segment bonus) = 3.1, anywhere else 3.6; the balance differs by less than 0.5.
    first = tuple(Word(f" w{i}", float(i), i + 0.9, 0.9) for i in range(6))
    second = tuple(Word(f" w{i}", float(i), i + 0.9, 0.9) for i in range(6, 12))
    segments = (
        Segment(0, 0.0, 5.9, "".join(w.word for w in first), words=first),
        Segment(1, 6.0, 11.9, "".join(w.word for w in second), words=second),
    )
    chunks = chunk_transcript(Transcript("", "en", segments, 20.0), PLAIN)
    assert texts(chunks) == ["w0 w1 w2 w3 w4 w5", "w6 w7 w8 w9 w10 w11"]


# --- chunking: speakers ----------------------------------------------------------------------------


def test_trimming_a_stretched_word_does_not_change_its_speaker() -> None:
    # "Start" is stretched by Whisper over 2.0-10.3 and trimmed to 9.4-10.3 (1.2 * 5 letters * 0.15 s) for the
    # chunk bounds; its speaker still comes from the model's times: 7 s with A against 1.3 s with B.
    body = [(f" w{i}", 10 + 0.3 * i, 10.3 + 0.3 * i) for i in range(1, 11)]
    transcript = one_segment((" Start", 2.0, 10.3), *body, (" end.", 13.3, 16.0), duration=20.0)
    turns = [Turn(0.0, 9.0, "A"), Turn(9.0, 20.0, "B")]
    chunks = chunk_transcript(transcript, TRIM, turns)
    assert [(c.text, c.speaker) for c in chunks] == [("Start", "A"), ("w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 end.", "B")]
    assert chunks[0].start == pytest.approx(9.4)
    for chunk in chunks:  # every word of a chunk is its speaker's, by the model's own word times
        assert {speaker_of(w.start, w.end, turns) for w in chunk.words} == {chunk.speaker}


def test_a_word_of_another_channel_filling_the_whole_pause_cuts_the_chunk() -> None:
    # A pauses from 1.0 to 3.0 (under gap_threshold); B speaks from exactly 1.0 to exactly 3.0: a turn change.
    def seg(i: int, word: str, start: float, end: float, speaker: str) -> Segment:
        return Segment(i, start, end, word, words=(Word(word, start, end, 0.9),), speaker=speaker)

    segments = (seg(0, " one", 0.0, 1.0, "A"), seg(1, " hello", 1.0, 3.0, "B"), seg(2, " two.", 3.0, 4.0, "A"))
    options = dataclasses.replace(PLAIN, gap_threshold=5.0)
    chunks = chunk_transcript(Transcript("", "en", segments, 10.0), options)
    assert [(c.text, c.speaker, c.start, c.end) for c in chunks] == [
        ("one", "A", 0.0, 1.0),
        ("hello", "B", 1.0, 3.0),
        ("two.", "A", 3.0, 4.0),
    ]


# --- chunking: review thresholds -------------------------------------------------------------------


def test_signals_exactly_at_the_review_thresholds_are_not_flagged() -> None:
    # Defaults: mean word probability below 0.5, min below 0.1, avg_logprob below -1.0, no_speech above 0.8,
    # compression ratio above 2.4. Exactly at each is neither below nor above.
    at = Chunk(0, 0.0, 1.0, "x", (), 0.5, 0.1, -1.0, 0.8, 2.4, 0.0)
    assert review_reasons(at, ChunkingOptions()) == []
    past = Chunk(0, 0.0, 1.0, "x", (), 0.49, 0.09, -1.01, 0.81, 2.41, 0.0)
    assert review_reasons(past, ChunkingOptions()) == [
        "low_word_probability",
        "low_avg_logprob",
        "high_no_speech_prob",
        "repetition",
    ]


# --- chunk timing ----------------------------------------------------------------------------------


def test_sanitize_makes_starts_non_decreasing_and_ends_not_before_starts() -> None:
    # The second unit claims to start before the first: it is moved to the first's start, and the first
    # (running past that start) is cut there.
    units = [Unit(" a", 2.0, 2.5, 0), Unit(" b", 1.0, 1.5, 0), Unit(" c", 3.0, 3.5, 0)]
    assert [(u.start, u.end) for u in sanitize(units, 10.0)] == [(2.0, 2.0), (2.0, 2.0), (3.0, 3.5)]


def test_a_stretched_word_alone_between_pauses_is_trimmed_on_both_sides() -> None:
    # 0.125 s per letter; "Yes." (3 letters) may last 1.2 * 3 * 0.125 = 0.45 s. It opens (after a pause) and closes
    # (sentence end), so both halves are cut: 6.5 +- 0.225.
    before = [(" abcd", 0.5 * i, 0.5 * i + 0.5) for i in range(6)]
    after = [(" abcd", 10.0 + 0.5 * i, 10.5 + 0.5 * i) for i in range(6)]
    chunks = chunk_transcript(one_segment(*before, (" Yes.", 5.0, 8.0), *after), TRIM)
    assert texts(chunks)[1] == "Yes."
    assert (chunks[1].start, chunks[1].end) == pytest.approx((6.275, 6.725))


def test_a_gap_of_exactly_edge_gap_makes_the_next_word_an_opening_word() -> None:
    # 0.2 - 0.1 == 0.1 exactly: "stretched" follows a 0.1 s silence (EDGE_GAP), so it opens and is cut at its start:
    # 3.0 - 1.2 * 9 letters * 0.1 s = 1.92. The 1.82 s silence after "a" then ends the first chunk.
    words = [(" a", 0.0, 0.1), (" stretched", 0.2, 3.0)]
    words += [(" bb", 3.0, 3.2), (" cc", 3.2, 3.4), (" dd", 3.4, 3.6), (" ee.", 3.6, 3.8)]
    chunks = chunk_transcript(one_segment(*words), TRIM)
    assert texts(chunks) == ["a", "stretched bb cc dd ee."]
    assert chunks[1].start == pytest.approx(1.92)


def test_a_stretched_word_after_a_pause_ending_in_a_comma_is_trimmed_on_both_sides() -> None:
    # "Well," opens (a sentence end and 2 s before it) and closes (a comma): both halves are cut around 6.5,
    # 1.2 * 4 letters * 0.125 s = 0.6 s in all, so its chunk starts at 6.2. This pins the code's rule (`_closes`
    # counts a clause end, which trim_stretched's docstring does not list): with the default gap_threshold (1 s) the
    # 1.2 s this leaves before "abcd" makes "Well," a chunk of its own, where "Well" without the comma is not.
    first = [(" abcd" + ("." if i == 5 else ""), 0.5 * i, 0.5 * i + 0.5) for i in range(6)]
    rest = [(" abcd" + ("." if i == 5 else ""), 8.0 + 0.5 * i, 8.5 + 0.5 * i) for i in range(6)]
    options = dataclasses.replace(TRIM, gap_threshold=2.0)
    chunks = chunk_transcript(one_segment(*first, (" Well,", 5.0, 8.0), *rest), options)
    assert texts(chunks) == ["abcd abcd abcd abcd abcd abcd.", "Well, abcd abcd abcd abcd abcd abcd."]
    assert chunks[1].start == pytest.approx(6.2)


def test_a_zero_length_word_gets_a_chunk_widened_forward_into_silence() -> None:
    [chunk] = chunk_transcript(one_segment((" a.", 5.0, 5.0), duration=10.0), PLAIN)
    assert (chunk.start, chunk.end) == pytest.approx((5.0, 5.02))  # MIN_CHUNK_DURATION, after the word


def test_a_chunk_that_cannot_last_a_millisecond_is_merged_into_its_neighbour() -> None:
    # B's 0.5 ms word sits between two of A's words that touch it: its own chunk could last only 0.5 ms.
    transcript = one_segment((" one", 2.0, 3.0), (" uh", 3.0, 3.0005), (" two.", 3.0005, 4.0), duration=10.0)
    turns = [Turn(0.0, 3.0, "A"), Turn(3.0, 3.0005, "B"), Turn(3.0005, 10.0, "A")]
    chunks = chunk_transcript(transcript, PLAIN, turns)
    assert [(c.text, c.start, c.end) for c in chunks] == [("one uh", 2.0, 3.0005), ("two.", 3.0005, 4.0)]
    assert all(c.duration >= 0.001 for c in chunks)


# --- subtitles -------------------------------------------------------------------------------------


def marked_srt(text: str, words: tuple[str, ...], doubtful: tuple[int, ...]) -> str:
    timed = tuple(Word(" " + w, float(i), i + 0.5, 0.9) for i, w in enumerate(words))
    chunk = Chunk(0, 0.0, 9.0, text, timed, doubtful_words=tuple((i, words[i], 0.1) for i in doubtful))
    return srt_text([chunk], mark_doubtful=True)


def test_a_repeated_doubtful_word_is_marked_where_the_model_put_it() -> None:
    srt = marked_srt("the cat saw the dog", ("the", "cat", "saw", "the", "dog"), (3,))
    assert srt == "1\n00:00:00,000 --> 00:00:09,000\nthe cat saw [the?] dog\n\n"


def test_marking_keeps_text_after_the_last_word() -> None:
    # A segment whose alignment failed adds text without words after them.
    srt = marked_srt("Hello there. And more", ("Hello", "there."), (0,))
    assert srt == "1\n00:00:00,000 --> 00:00:09,000\n[Hello?] there. And more\n\n"


def test_subtitle_times_round_to_the_nearest_millisecond() -> None:
    chunk = Chunk(0, 1.0006, 2.0004, "x")  # 1000.6 ms -> 1001, 2000.4 ms -> 2000
    assert srt_text([chunk]) == "1\n00:00:01,001 --> 00:00:02,000\nx\n\n"
    assert vtt_text([chunk]) == "WEBVTT\n\n00:00:01.001 --> 00:00:02.000\nx\n\n"


# --- exports ---------------------------------------------------------------------------------------


def test_item_names_equal_after_unicode_normalisation_clash(tmp_path: Path) -> None:
    nfc, nfd = "Caf\u00e9.wav", "Cafe\u0301.wav"  # the same name to a person, and to macOS's file system
    assert nfc != nfd and unicodedata.normalize("NFC", nfd) == nfc
    entries = [ItemChunks(nfc, "a.wav", None, 1.0, []), ItemChunks(nfd, "b.wav", None, 2.0, [])]
    refused = write_exports(tmp_path, entries, AnnotationOptions())
    assert list(refused) == [1] and "appears twice (also a.wav)" in refused[1]
    assert sorted(p.name for p in (tmp_path / "superannotate").iterdir()) == [f"{nfc}.json"]


# --- SuperAnnotate JSON ----------------------------------------------------------------------------


def event_times(chunk: Chunk, duration: float = 20.0) -> tuple[int, int, int]:
    d = sa_annotation("a.wav", duration, [chunk], AnnotationOptions())
    meta = d["instances"][0]["meta"]
    return d["metadata"]["duration"], meta["start"], meta["end"]


def test_event_times_are_rounded_to_the_nearest_microsecond() -> None:
    assert 8.2 * 1_000_000 < 8_200_000  # 8199999.999999999 in binary floating point
    assert event_times(Chunk(0, 8.2, 9.0, "x"), duration=8.2 + 2) == (10_200_000, 8_200_000, 9_000_000)


def test_a_zero_length_chunk_still_gives_an_event_that_ends_after_it_starts() -> None:
    assert event_times(Chunk(0, 2.0, 2.0, "x")) == (20_000_000, 2_000_000, 2_000_001)


def test_a_chunk_with_an_empty_speaker_gets_no_speaker_attribute() -> None:
    d = sa_annotation("a.wav", 5.0, [Chunk(0, 0.0, 1.0, "x", speaker="")], AnnotationOptions())
    groups = [a["groupName"] for a in d["instances"][0]["parameters"][0]["timestamps"][0]["attributes"]]
    assert groups == ["Content", "Review"]


def test_speaker_values_of_mixed_names_are_the_names_as_found() -> None:
    # Only when every name is diarization's are SPEAKER_01..08 added.
    assert speaker_values(["SPEAKER_02", "Ann"]) == ["Ann", "SPEAKER_02"]


# --- timeline picture ------------------------------------------------------------------------------


def table(speakers: list[str] | None = None, texts: list[str] | None = None) -> pd.DataFrame:
    rows = {"start": [2.0, 0.0, 1.0], "end": [2.9, 0.9, 1.9], "text": texts or ["c", "a", "b"]}
    rows["needs_review"] = [False, True, False]
    return pd.DataFrame(rows if speakers is None else {**rows, "speaker": speakers})


def test_speaker_colours_follow_time_not_row_order() -> None:
    # Rows out of time order: Bob speaks at 0.0, Ann at 1.0 and 2.0.
    assert speaker_colours(table(["Ann", "Bob", "Ann"])) == {"Bob": "tab:blue", "Ann": "tab:green"}


def test_without_speakers_chunks_to_review_are_orange_and_the_others_blue() -> None:
    figure = draw_timeline(np.zeros(48_000, np.float32), table(), "a.wav", 0.0)
    colours = [p.get_facecolor() for p in figure.axes[0].patches]
    blue, orange = to_rgba("tab:blue", 0.18), to_rgba("tab:orange", 0.18)
    assert colours == [pytest.approx(blue), pytest.approx(orange), pytest.approx(blue)]


def test_labels_up_to_60_characters_are_whole_longer_ones_cut_to_60() -> None:
    sixty, longer = "x" * 60, "y" * 61
    figure = draw_timeline(np.zeros(48_000, np.float32), table(texts=[sixty, longer, "b"]), "a.wav", 0.0)
    labels = [t.get_text() for t in figure.axes[0].texts]
    assert labels == [sixty, "y" * 57 + "...", "b"]


def test_the_waveform_spans_the_samples_time() -> None:
    # 64,000 samples (4 s) drawn from 10 s: blocks of 16 samples, the last one starting at 10 + 3999 * 16 / 16 kHz.
    figure = draw_timeline(np.zeros(64_000, np.float32), table(), "a.wav", 10.0)
    xs = np.concatenate([p.vertices[:, 0] for p in figure.axes[0].collections[0].get_paths()])
    assert (xs.min(), xs.max()) == pytest.approx((10.0, 13.999))
    assert figure.axes[0].get_xlim() == pytest.approx((10.0, 14.0))


# --- turns -----------------------------------------------------------------------------------------


def test_equal_min_and_max_speakers_are_allowed() -> None:
    assert SpeakerCount(low=3, high=3).most == 3


# --- silence skipping ------------------------------------------------------------------------------

LOUD = 0.1  # -20 dBFS: sound
OPTIONS = SilenceOptions()  # -50 dB, cut at 3 s and more, 0.5 s kept on each side


def level(db: float, samples: int) -> np.ndarray:
    """A constant signal whose RMS is `db` dBFS."""
    return np.full(samples, 10 ** (db / 20), np.float32)


def run_cutter(*pieces: np.ndarray) -> tuple[np.ndarray, Timeline | None]:
    """Feeds the pieces one `extend` call each (so that the cutter measures where a piece ends)."""
    kept: list[np.ndarray] = []
    cutter = SilenceCutter(OPTIONS, kept.append, RATE)
    for piece in pieces:
        cutter.extend(piece)
    timeline = cutter.finish()
    return (np.concatenate(kept) if kept else np.zeros(0, np.float32)), timeline


def test_restore_maps_times_on_a_join_to_the_right_piece() -> None:
    # Kept audio 0-2 s is the file's 0-2 s, kept 2-4 s is the file's 10-12 s.
    timeline = Timeline(starts=(0, 160_000), offsets=(0, 32_000), total=320_000, rate=RATE)
    words = (Word(" a", 1.5, 2.0, 0.9), Word(" b", 2.0, 2.5, 0.9))
    segments = (Segment(0, 1.5, 2.0, " a", words=words[:1]), Segment(1, 2.0, 2.5, " b", words=words[1:]))
    restored = timeline.restore(Transcript(" a b", "en", segments, 4.0))
    # A start on the join belongs to the piece after it, an end to the piece before.
    assert [(s.start, s.end) for s in restored.segments] == [(1.5, 2.0), (10.0, 10.5)]
    assert [(w.start, w.end) for s in restored.segments for w in s.words] == [(1.5, 2.0), (10.0, 10.5)]


def test_restore_never_ends_a_word_before_it_starts() -> None:
    timeline = Timeline(starts=(0, 160_000), offsets=(0, 32_000), total=320_000, rate=RATE)
    word = Word(" x", 2.5, 2.4, 0.9)  # an inverted word, as a model may give
    restored = timeline.restore(Transcript(" x", "en", (Segment(0, 2.5, 2.6, " x", words=(word,)),), 4.0))
    [mapped] = restored.segments[0].words
    assert (mapped.start, mapped.end) == (10.5, 10.5)


def test_a_trailing_silence_cut_still_gives_the_files_duration() -> None:
    # 0.96 s of sound then 10 s of quiet: the quiet is cut (0.5 s kept), so the file's timeline is needed for
    # its 10.96 s; kept audio alone lasts 1.46 s.
    kept, timeline = run_cutter(np.full(15_360, LOUD, np.float32), np.zeros(160_000, np.float32))
    assert kept.shape[0] == 15_360 + 8_000
    assert timeline is not None and (timeline.starts, timeline.offsets, timeline.total) == ((0,), (0,), 175_360)
    restored = timeline.restore(Transcript("", "en", (), kept.shape[0] / RATE))
    assert restored.duration == pytest.approx(10.96)


def test_a_level_above_the_threshold_is_sound_not_silence() -> None:
    # -45 dBFS is above the -50 dB threshold: nothing is cut. -55 dBFS is below it: cut.
    sound = np.full(15_360, LOUD, np.float32)
    kept, timeline = run_cutter(sound, level(-45.0, 96_000), sound)
    assert timeline is None and kept.shape[0] == 2 * 15_360 + 96_000
    kept, timeline = run_cutter(sound, level(-55.0, 96_000), sound)
    assert timeline is not None and kept.shape[0] == 2 * 15_360 + 2 * 8_000


def test_a_quiet_stretch_of_exactly_min_duration_is_cut() -> None:
    # 3.0 s of quiet (100 frames of 30 ms) between two sounds of 0.96 s: at least min_duration_s, so cut,
    # 0.5 s kept on each side: the second sound's 0.5 s of padding starts at 0.96 + 3.0 - 0.5 s in the file.
    sound = np.full(15_360, LOUD, np.float32)
    kept, timeline = run_cutter(sound, np.zeros(48_000, np.float32), sound)
    assert timeline is not None and kept.shape[0] == 2 * 15_360 + 2 * 8_000
    assert (timeline.starts, timeline.offsets) == ((0, 15_360 + 48_000 - 8_000), (0, 15_360 + 8_000))
    _, timeline = run_cutter(sound, np.zeros(47_520, np.float32), sound)  # one frame shorter: kept whole
    assert timeline is None


def test_padding_is_padding_s_when_a_silence_starts_just_before_a_block_ends() -> None:
    # The first call holds 326 loud frames and 7 quiet ones, plus 160 quiet samples left for the next measure: the
    # quiet stretch (333 frames, 9.99 s) is measured in two runs, 3,360 samples then the rest. The padding kept
    # after the sound is still 8,000 samples (0.5 s), not 3,360 + 8,000.
    first = np.concatenate([np.full(156_480, LOUD, np.float32), np.zeros(3_520, np.float32)])
    quiet = 159_840  # samples of quiet in all
    kept, timeline = run_cutter(first, np.zeros(quiet - 3_520, np.float32), np.full(15_360, LOUD, np.float32))
    assert kept.shape[0] == 156_480 + 8_000 + 8_000 + 15_360
    assert timeline is not None
    assert (timeline.starts, timeline.offsets) == ((0, 156_480 + quiet - 8_000), (0, 156_480 + 8_000))


# --- product bugs found by the audit (fixed) ---------------------------------------------------------------


def test_srt_cue_text_never_holds_an_arrow_even_from_a_longer_one() -> None:
    chunks = [Chunk(0, 0.0, 1.0, "wait ---> here"), Chunk(1, 1.0, 2.0, "x", speaker="A --->")]
    cue_lines = [line for block in srt_text(chunks).strip("\n").split("\n\n") for line in block.split("\n")[2:]]
    assert len(cue_lines) == 2
    assert all("-->" not in line for line in cue_lines), cue_lines


def test_an_empty_block_after_a_frame_aligned_one_changes_nothing() -> None:
    sound = np.full(160_320, LOUD, np.float32)  # 334 whole frames, over BLOCK: measured at once, nothing left pending
    kept, timeline = run_cutter(sound)
    assert timeline is None and np.array_equal(kept, sound)
    kept, timeline = run_cutter(sound, np.zeros(0, np.float32))
    assert timeline is None and np.array_equal(kept, sound)
