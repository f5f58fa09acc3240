"""Chunks with speakers: one speaker per chunk, cut at every change; the speaker in CSV, JSONL, SRT and VTT."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from test_chunking import DATA, assert_invariants, load_pause_transcript, transcripts

from preannotate.chunking import chunk_transcript
from preannotate.exports import ItemChunks, csv_text, jsonl_text
from preannotate.options import ChunkingOptions
from preannotate.speakers import Turn, speaker_of
from preannotate.subtitles import srt_text, vtt_text

PAUSES = json.loads((DATA / "pauses.json").read_text(encoding="utf-8"))


def sentence_turns(*, every: int = 1) -> list[Turn]:
    """The recording's sentences as turns, the speaker changing every `every` sentences (A, B, A, ...)."""
    return [Turn(s["start"], s["end"], "AB"[(i // every) % 2]) for i, s in enumerate(PAUSES["speech"])]


def check_one_speaker_per_chunk(chunks, turns) -> None:
    for chunk in (c for c in chunks if c.words):  # a segment whose alignment failed has no words
        speakers = {speaker_of(w.start, w.end, turns) for w in chunk.words}
        assert speakers == {chunk.speaker}, (chunk.index, chunk.text, speakers)


def test_every_chunk_has_one_speaker_and_changes_cut_chunks() -> None:
    transcript, options = load_pause_transcript(), ChunkingOptions(gap_threshold=3.0, max_duration=30.0)
    turns = sentence_turns()
    plain = chunk_transcript(transcript, options)
    spoken = chunk_transcript(transcript, options, turns)
    assert_invariants(transcript, spoken, options)  # ordered, never overlapping, every word once
    check_one_speaker_per_chunk(spoken, turns)
    assert len(spoken) > len(plain)  # the long gap threshold joined sentences of different speakers
    assert all(c.speaker is None for c in plain)
    assert [c.speaker for c in chunk_transcript(transcript, options, sentence_turns(every=100))] == ["A"] * len(plain)


@settings(max_examples=25, deadline=None)
@given(transcripts(with_words=True), st.lists(st.floats(0, 60), min_size=1, max_size=8))
def test_chunks_stay_valid_with_any_turns(transcript, cuts) -> None:
    # Words whose times collide are merged into one indivisible unit, which may hold two speakers' words:
    # only the chunk invariants and a speaker on every chunk are checked here; one speaker per chunk above.
    edges = sorted({0.0, *cuts, 61.0})
    turns = [Turn(a, b, f"S{i % 3}") for i, (a, b) in enumerate(zip(edges, edges[1:])) if b > a]
    options = ChunkingOptions()
    chunks = chunk_transcript(transcript, options, turns)
    assert_invariants(transcript, chunks, options)
    assert all(c.speaker is not None for c in chunks)


def entry(turns) -> ItemChunks:
    chunks = chunk_transcript(load_pause_transcript(), ChunkingOptions(), turns)
    return ItemChunks("pauses.opus", "pauses.opus", "en", PAUSES["duration"], chunks)


def test_exports_carry_the_speaker_and_leave_it_out_when_speakers_are_off() -> None:
    spoken, plain = entry(sentence_turns()), entry(None)
    header = csv_text([spoken]).splitlines()[0].split(",")
    assert header[header.index("text") + 1] == "speaker"
    assert "speaker" not in csv_text([plain]).splitlines()[0].split(",")
    records = [json.loads(line) for line in jsonl_text([spoken]).splitlines()]
    assert [r["speaker"] for r in records] == [c.speaker for c in spoken.chunks]
    assert all("speaker" not in json.loads(line) for line in jsonl_text([plain]).splitlines())
    first = spoken.chunks[0]
    assert f"\n[{first.speaker}] {first.text}\n" in srt_text(spoken.chunks)
    assert f"\n<v {first.speaker}>{first.text}\n" in vtt_text(spoken.chunks)
    assert "[A]" not in srt_text(plain.chunks) and "<v " not in vtt_text(plain.chunks)


def test_vtt_voice_names_are_escaped() -> None:
    chunks = chunk_transcript(load_pause_transcript(), ChunkingOptions(), [Turn(0, 200, "Ann <host>")])
    assert "<v Ann &lt;host&gt;>" in vtt_text(chunks)
