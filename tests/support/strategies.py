"""Hypothesis strategies: generated Whisper transcripts and chunking options."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st

from preannotate.options import ChunkingOptions
from preannotate.results import Segment, Transcript, Word

TOKENS = st.sampled_from(["hello", "world.", "why?", "yes,", "a", "wow!", "end…", "好。", "ok", " ", "x" * 30])
GAPS = st.one_of(st.just(0.0), st.just(1.0), st.floats(0, 0.5), st.floats(0.5, 12), st.just(-0.3))
LENGTHS = st.one_of(st.just(0.0), st.floats(0.0, 0.8), st.floats(0.8, 25))


def examples(full: int) -> int:
    """`full` examples under Hypothesis' default profile (100 examples), scaled by the loaded profile's count:
    the fast tier's profile (tests/conftest.py) tries a quarter."""
    return max(1, full * settings.default.max_examples // 100)


@st.composite
def word_lists(draw: st.DrawFn, max_words: int = 40) -> list[Word]:
    """Words laid out in time with zero, threshold-sized, long and negative gaps, and odd lengths."""
    t = draw(st.floats(-1.0, 5.0))
    words = []
    for _ in range(draw(st.integers(0, max_words))):
        t += draw(GAPS)
        length = draw(LENGTHS)
        text = " " + draw(TOKENS)
        words.append(Word(text, t, t + length, draw(st.floats(0, 1))))
        t += length
    return words


@st.composite
def transcripts(draw: st.DrawFn, with_words: bool | None = None) -> Transcript:
    """Transcripts of `word_lists` in segments with odd bounds and signals; with words, without, or either."""
    words = draw(word_lists())
    keep_words = draw(st.booleans()) if with_words is None else with_words
    segments, i = [], 0
    while i < len(words):
        n = draw(st.integers(1, 8))
        part = words[i : i + n]
        i += n
        text = "".join(w.word for w in part)
        lost = keep_words and draw(st.integers(0, 9)) == 0  # alignment gave this segment no words
        segments.append(
            Segment(
                id=len(segments),
                start=part[0].start + draw(st.floats(-1, 1)),
                end=part[-1].end + draw(st.floats(-1, 3)),
                text=text,
                temperature=draw(st.sampled_from([0.0, 0.0, 0.2])),
                avg_logprob=draw(st.floats(-3, 0)),
                compression_ratio=draw(st.floats(0.5, 4)),
                no_speech_prob=draw(st.floats(0, 1)),
                words=(() if lost else tuple(part)) if keep_words else None,
            )
        )
    last = max((max(w.end, w.start) for w in words), default=0.0)
    duration = draw(st.one_of(st.floats(0.01, 300), st.just(max(last, 0.01))))
    return Transcript("".join(w.word for w in words), "en", tuple(segments), duration)


OPTIONS = st.builds(
    ChunkingOptions,
    policy=st.sampled_from(["regroup", "segments"]),
    max_duration=st.floats(0.5, 30),
    min_duration=st.floats(0, 0.5),
    max_chars=st.integers(1, 300),
    gap_threshold=st.floats(0.05, 3),
    padding_before=st.floats(0, 0.5),
    padding_after=st.floats(0, 0.5),
    word_stretch=st.one_of(st.none(), st.floats(1, 3)),
)
