"""Chunking: invariants on generated transcripts, edge cases, policies, quality flags, real Whisper output."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.strategies import OPTIONS, examples, transcripts

from preannotate.chunk_timing import ends_sentence, trim_stretched
from preannotate.chunking import RULE_REASONS, Chunk, chunk_transcript, review_reasons
from preannotate.errors import ChunkingError
from preannotate.options import ChunkingOptions
from preannotate.results import Segment, Transcript, Word

DATA = Path(__file__).resolve().parent / "data"
AUDIO = DATA / "pauses.opus"  # made by data/make_pauses.py, described by pauses.json
PAUSE_FILE = json.loads((DATA / "pauses.json").read_text(encoding="utf-8"))
PLAIN = ChunkingOptions(padding_before=0.0, padding_after=0.0, word_stretch=None)


def load_pause_transcript() -> Transcript:
    """What bundled:tiny.en made of pauses.opus (recorded by `make_pauses.py --transcript`)."""
    return Transcript.from_dict(json.loads((DATA / "pauses.tiny_en.json").read_text(encoding="utf-8")))


def boundary_errors(chunks: list[Chunk]) -> list[float]:
    """Seconds from each chunk start (end) to the start (end) of the speech it covers; negative is early."""
    errors = []
    for c in chunks:
        spoken = [s for s in PAUSE_FILE["speech"] if s["start"] < c.end and s["end"] > c.start]
        assert spoken, f"chunk {c.index} ({c.start:.2f}-{c.end:.2f}, {c.text!r}) covers no speech"
        errors += [c.start - spoken[0]["start"], c.end - spoken[-1]["end"]]
    return errors


def words_of(transcript: Transcript) -> list[Word]:
    return [w for s in transcript.segments for w in s.words or () if w.word.strip()]


def assert_invariants(transcript: Transcript, chunks: list[Chunk], options: ChunkingOptions) -> None:
    """What must hold for every transcript and every option set."""
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert 0.0 <= c.start < c.end <= transcript.duration, c
        assert c.text and c.text == c.text.strip(), c
    for a, b in zip(chunks, chunks[1:]):
        assert a.end <= b.start, (a, b)
    if transcript.has_words:
        expected = words_of(transcript)
        if options.policy == "segments":
            expected = [w for s in transcript.segments if s.text.strip() for w in s.words if w.word.strip()]
        assert [w for c in chunks for w in c.words] == expected
    else:
        kept = "".join(s.text for s in transcript.segments if s.text.strip())
        assert "".join(c.text for c in chunks).replace(" ", "") == kept.replace(" ", "")
    json.dumps([c.to_dict() for c in chunks])


# --- generated transcripts -------------------------------------------------------------------


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transcripts(), OPTIONS)
def test_invariants_hold_for_any_transcript_and_options(transcript: Transcript, options: ChunkingOptions) -> None:
    chunks = chunk_transcript(transcript, options)
    assert_invariants(transcript, chunks, options)


@settings(max_examples=examples(200), deadline=None)
@given(transcripts(with_words=True), st.floats(0.3, 1.5))
def test_defaults_cut_every_long_pause_and_respect_limits(transcript: Transcript, gap: float) -> None:
    """On clean input (ordered, inside the file) no chunk spans a long pause or exceeds a limit."""
    words = sorted(words_of(transcript), key=lambda w: w.start)
    clean = [w for w in words if w.start >= 0 and w.start + 0.01 <= w.end <= transcript.duration]
    clean = [w for k, w in enumerate(clean) if k == 0 or w.start >= clean[k - 1].end]
    segments = (Segment(0, 0.0, transcript.duration, "".join(w.word for w in clean), words=tuple(clean)),)
    transcript = dataclasses.replace(transcript, segments=segments)
    options = dataclasses.replace(PLAIN, gap_threshold=gap, max_duration=8.0, max_chars=80)
    chunks = chunk_transcript(transcript, options)
    assert_invariants(transcript, chunks, options)
    for c in chunks:
        for a, b in zip(c.words, c.words[1:]):
            assert b.start - a.end <= gap + 1e-9
        if len(c.words) > 1:
            assert c.duration <= 8.0 + 1e-9
            assert len(c.text) <= 80


# --- edge cases ------------------------------------------------------------------------------


def transcript_of(*words: tuple[str, float, float], duration: float = 60.0, **segment: float) -> Transcript:
    ws = tuple(Word(t, s, e, 0.9) for t, s, e in words)
    text = "".join(w.word for w in ws)
    seg = Segment(0, ws[0].start if ws else 0.0, ws[-1].end if ws else 0.0, text, words=ws, **segment)
    return Transcript(text, "en", (seg,) if ws else (), duration)


def test_empty_transcript_gives_no_chunks() -> None:
    assert chunk_transcript(Transcript("", None, (), 10.0), ChunkingOptions()) == []
    assert chunk_transcript(Transcript("", None, (), 0.0), ChunkingOptions()) == []


def test_one_word() -> None:
    [chunk] = chunk_transcript(transcript_of((" Hi.", 1.0, 1.4), duration=3.0), ChunkingOptions())
    assert chunk.text == "Hi."
    assert chunk.start == pytest.approx(0.9) and chunk.end == pytest.approx(1.4)
    assert chunk.mean_word_probability == chunk.min_word_probability == pytest.approx(0.9)


def test_gap_exactly_at_the_threshold_does_not_split_but_a_longer_one_does() -> None:
    at = transcript_of((" one", 0.0, 1.0), (" two", 2.0, 3.0))
    assert len(chunk_transcript(at, dataclasses.replace(PLAIN, gap_threshold=1.0))) == 1
    assert len(chunk_transcript(at, dataclasses.replace(PLAIN, gap_threshold=0.999))) == 2


def test_words_with_equal_timestamps_and_zero_length() -> None:
    same = [(f" w{i}.", 5.0, 5.0) for i in range(30)]
    for duration in (5.0, 10.0):
        transcript = transcript_of(*same, duration=duration)
        for options in (ChunkingOptions(), dataclasses.replace(PLAIN, max_chars=5)):
            chunks = chunk_transcript(transcript, options)
            assert_invariants(transcript, chunks, options)


def test_text_with_no_room_in_time_is_an_error() -> None:
    with pytest.raises(ChunkingError):
        chunk_transcript(transcript_of((" a", 0.0, 0.0), duration=0.0), ChunkingOptions())


def test_segment_far_longer_than_the_maximum_is_split_at_word_boundaries() -> None:
    text = " " + " ".join(f"word{i}" for i in range(200)) + "."
    transcript = Transcript(text, "en", (Segment(0, 2.0, 122.0, text),), 130.0)
    chunks = chunk_transcript(transcript, ChunkingOptions(max_duration=10.0))
    assert_invariants(transcript, chunks, ChunkingOptions())
    assert len(chunks) >= 12 and all(c.duration <= 10.0 + 0.1 for c in chunks)
    assert all(c.text.split()[0].startswith("word") for c in chunks)  # never inside a word
    assert chunks[0].start == pytest.approx(1.9) and chunks[-1].end == pytest.approx(122.0)


def test_long_segment_in_a_script_without_spaces_is_split_between_characters() -> None:
    text = "今天天气很好。" * 40
    transcript = Transcript(text, "zh", (Segment(0, 0.0, 60.0, text),), 60.0)
    chunks = chunk_transcript(transcript, ChunkingOptions(max_chars=50))
    assert all(len(c.text) <= 50 for c in chunks) and "".join(c.text for c in chunks) == text
    assert all(c.text.endswith("。") for c in chunks)  # sentence ends preferred


def test_sentence_ends_are_preferred_over_mid_sentence_cuts() -> None:
    words = [" The", " cat", " sat.", " Then", " it", " slept", " on", " the", " warm", " mat."]
    transcript = transcript_of(*[(w, i * 1.0, i * 1.0 + 0.9) for i, w in enumerate(words)])
    chunks = chunk_transcript(transcript, dataclasses.replace(PLAIN, max_duration=8.0))
    assert [c.text for c in chunks] == ["The cat sat.", "Then it slept on the warm mat."]


def test_short_chunks_are_merged_unless_a_pause_separates_them() -> None:
    close = transcript_of((" Yes.", 0.0, 0.3), (" No.", 0.5, 0.8), (" Maybe.", 1.0, 1.5))
    assert [c.text for c in chunk_transcript(close, PLAIN)] == ["Yes. No. Maybe."]
    apart = transcript_of((" Yes.", 0.0, 0.3), (" No.", 3.0, 3.3))
    assert [c.text for c in chunk_transcript(apart, PLAIN)] == ["Yes.", "No."]


def test_padding_stays_in_silence_and_inside_the_file() -> None:
    transcript = transcript_of((" a.", 0.05, 0.5), (" b.", 1.9, 2.3), (" c.", 2.4, 2.9), duration=3.0)
    options = ChunkingOptions(padding_before=0.3, padding_after=0.3, gap_threshold=0.05, word_stretch=None)
    a, b, c = chunk_transcript(transcript, options)
    assert (a.start, a.end) == pytest.approx((0.0, 0.8))
    assert (b.start, b.end) == pytest.approx((1.6, 2.35))
    assert (c.start, c.end) == pytest.approx((2.35, 3.0))


def test_stretched_edge_words_are_trimmed_on_the_side_of_the_pause() -> None:
    body = [(f" w{i}", 10 + 0.3 * i, 10.3 + 0.3 * i) for i in range(1, 11)]
    transcript = transcript_of((" Start", 2.0, 10.3), *body, (" end.", 13.3, 16.0), duration=20.0)
    [chunk] = chunk_transcript(transcript, dataclasses.replace(PLAIN, word_stretch=1.2))
    # 0.15 s per letter in this file: "Start" may last 1.2 * 5 * 0.15 s, "end." 1.2 * 3 * 0.15 s.
    assert (chunk.start, chunk.end) == pytest.approx((10.3 - 0.9, 13.3 + 0.54))
    assert chunk.words[0].start == 2.0  # the model's words are kept as they were
    untouched = chunk_transcript(transcript, dataclasses.replace(PLAIN, max_duration=20.0))[0]
    assert (untouched.start, untouched.end) == (2.0, 16.0)


def test_trim_needs_enough_words_for_a_speaking_rate() -> None:
    transcript = transcript_of((" Hello", 0.0, 5.0), (" there.", 5.0, 9.0))
    assert chunk_transcript(transcript, ChunkingOptions(padding_before=0)) == chunk_transcript(transcript, PLAIN)
    assert trim_stretched([], 1.2) == []


def test_segments_policy_keeps_segments_but_repairs_them() -> None:
    segments = (
        Segment(0, -1.0, 4.0, " First."),
        Segment(1, 3.0, 6.0, " Second."),  # overlaps the first
        Segment(2, 6.0, 7.0, "   "),  # empty
        Segment(3, 8.0, 99.0, " Third."),  # past the end
    )
    chunks = chunk_transcript(Transcript("", "en", segments, 20.0), dataclasses.replace(PLAIN, policy="segments"))
    assert [(c.start, c.end, c.text) for c in chunks] == [
        (0.0, 3.0, "First."),
        (3.0, 6.0, "Second."),
        (8.0, 20.0, "Third."),
    ]


def test_a_segment_whose_words_are_missing_keeps_its_text() -> None:
    words = (Word(" One.", 0.0, 0.5, 0.9),)
    segments = (Segment(0, 0.0, 0.5, " One.", words=words), Segment(1, 0.6, 1.5, " Two.", words=()))
    [chunk] = chunk_transcript(Transcript("", "en", segments, 2.0), PLAIN)
    assert (chunk.text, chunk.words, chunk.end) == ("One. Two.", words, 1.5)


def test_regroup_without_words_merges_segments() -> None:
    segments = (Segment(0, 0.0, 2.0, " One."), Segment(1, 2.0, 4.0, " Two."), Segment(2, 9.0, 10.0, " Three."))
    chunks = chunk_transcript(Transcript("", "en", segments, 10.0), PLAIN)
    assert [c.text for c in chunks] == ["One. Two.", "Three."]
    assert chunks[0].words == () and chunks[0].mean_word_probability is None


@pytest.mark.parametrize(
    "text", ["Done.", "Done?", "¿Qué?", "Fertig!", '"Done."', "Done…", "完了。", "انتهى؟", "हो गया।"]
)
def test_sentence_ends_of_several_scripts(text: str) -> None:
    assert ends_sentence(text)


# --- quality signals and review --------------------------------------------------------------


def test_signals_aggregate_over_segments() -> None:
    w1 = (Word(" a", 0.0, 1.0, 0.9), Word(" b", 1.0, 4.0, 0.3))
    w2 = (Word(" c.", 4.0, 5.0, 0.6),)
    segments = (
        Segment(0, 0.0, 4.0, " a b", avg_logprob=-0.2, no_speech_prob=0.1, compression_ratio=1.2, words=w1),
        Segment(
            1, 4.0, 5.0, " c.", avg_logprob=-1.2, no_speech_prob=0.9, compression_ratio=2.6, temperature=0.4, words=w2
        ),
    )
    [chunk] = chunk_transcript(Transcript("", "en", segments, 5.0), PLAIN)
    assert chunk.avg_logprob == pytest.approx((4 * -0.2 + 1 * -1.2) / 5)
    assert (chunk.no_speech_prob, chunk.compression_ratio, chunk.temperature) == (0.9, 2.6, 0.4)
    assert chunk.mean_word_probability == pytest.approx(0.6) and chunk.min_word_probability == 0.3
    assert chunk.needs_review
    assert chunk.review_reason == "high_no_speech_prob;repetition;fallback_temperature"


def test_review_thresholds_each_flag_and_none_disables() -> None:
    chunk = Chunk(0, 0.0, 1.0, "x", (), 0.4, 0.05, -1.5, 0.95, 3.0, 0.2)
    assert review_reasons(chunk, ChunkingOptions()) == list(RULE_REASONS)
    off = ChunkingOptions(
        review_mean_word_probability=None,
        review_min_word_probability=None,
        review_avg_logprob=None,
        review_no_speech_prob=None,
        review_compression_ratio=None,
        review_fallback_temperature=False,
    )
    assert review_reasons(chunk, off) == []
    assert review_reasons(chunk, dataclasses.replace(off, review_min_word_probability=0.1)) == ["low_word_probability"]
    fine = Chunk(0, 0.0, 1.0, "x", (), 0.9, 0.8, -0.2, 0.1, 1.4, 0.0)
    assert review_reasons(fine, ChunkingOptions()) == []


# --- a real transcript of a file with known pauses -------------------------------------------


def assert_boundaries_in_pauses(chunks: list[Chunk], tolerance: float) -> dict[str, float]:
    """Every pause of 2 s or more holds a boundary, and chunks start and end with their speech."""
    long_pauses = [p for p in PAUSE_FILE["pauses"] if p["length"] >= 2.0]
    for p in long_pauses:
        assert not any(c.start < p["start"] and c.end > p["end"] for c in chunks), p
        assert any(p["start"] <= (a.end + b.start) / 2 <= p["end"] for a, b in zip(chunks, chunks[1:])), (
            f"no chunk boundary in the pause {p}"
        )
    errors = boundary_errors(chunks)
    worst = max(abs(e) for e in errors)
    assert worst <= tolerance, errors
    return {"worst": worst, "mean_abs": sum(map(abs, errors)) / len(errors)}


def test_chunks_of_a_recorded_tiny_en_transcript_follow_the_pauses() -> None:
    transcript = load_pause_transcript()
    chunks = chunk_transcript(transcript, ChunkingOptions())
    assert_invariants(transcript, chunks, ChunkingOptions())
    stats = assert_boundaries_in_pauses(chunks, tolerance=0.35)
    assert stats["mean_abs"] < 0.15
    assert all(c.duration <= ChunkingOptions().max_duration for c in chunks)
    # Whisper's own segments run on into the silence: the reason chunking exists.
    raw = [Chunk(s.id, s.start, s.end, s.text) for s in transcript.segments]
    assert max(abs(e) for e in boundary_errors(raw)) > 1.0


def test_chunks_of_a_live_tiny_en_transcript_follow_the_pauses(tiny_model) -> None:
    from preannotate.asr.openai_whisper.engine import transcribe_audio
    from preannotate.audio import decode_audio
    from preannotate.options import TranscribeOptions

    options = TranscribeOptions(language="en", temperature=(0.0,), fp16=False)  # as make_pauses.py --transcript
    transcript = transcribe_audio(tiny_model.model, decode_audio(AUDIO).samples, options)
    assert math.isclose(transcript.duration, load_pause_transcript().duration, abs_tol=0.01)
    chunks = chunk_transcript(transcript, ChunkingOptions())
    assert_invariants(transcript, chunks, ChunkingOptions())
    assert_boundaries_in_pauses(chunks, tolerance=0.5)


# --- options ---------------------------------------------------------------------------------


def test_chunking_and_annotation_sections_load_from_config() -> None:
    from preannotate.config import load_config

    config = load_config(
        None, ["chunking.policy=segments", "chunking.word_stretch=null", "annotation.review_group=null"]
    )
    assert config.chunking.policy == "segments" and config.chunking.word_stretch is None
    assert config.annotation.review_group is None and config.annotation.text_group == "Content"


@pytest.mark.parametrize(
    "override",
    [
        "chunking.policy=words",
        "chunking.max_duration=0",
        "chunking.min_duration=20",
        "chunking.max_chars=0",
        "chunking.gap_threshold=0",
        "chunking.padding_before=-1",
        "chunking.word_stretch=0.5",
        "chunking.review_mean_word_probability=2",
        "chunking.review_avg_logprob=0.5",
        "chunking.review_compression_ratio=0",
        "annotation.class_name=' '",
        "annotation.class_color=blue",
        "annotation.review_group=Content",
        "annotation.reason_group=''",
    ],
)
def test_bad_chunking_and_annotation_options_are_refused(override: str) -> None:
    from preannotate.config import load_config
    from preannotate.errors import ConfigError

    with pytest.raises(ConfigError):
        load_config(None, [override])
