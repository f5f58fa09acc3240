"""A fixed transcript chunked with a pinned review model: the entries behind the golden export files."""

from __future__ import annotations

from preannotate.chunking import chunk_transcript
from preannotate.exports import ItemChunks
from preannotate.options import ChunkingOptions
from preannotate.quality import ReviewModel
from preannotate.results import Segment, Transcript, Word
from preannotate.review import Reviewer
from preannotate.run import chunk_item
from preannotate.speakers import Turn

# A review model pinned for the golden files, so that refitting the shipped one does not rewrite them:
# predicted WER = sigmoid(-log min p - 4 mean p - avg_logprob); words under 0.5 are doubtful.
TEST_MODEL = ReviewModel(
    features=("log_min_prob", "mean_prob", "avg_logprob"),
    mean=(0.0, 0.0, 0.0),
    scale=(1.0, 1.0, 1.0),
    coef=(-1.0, -4.0, -1.0),
    intercept=0.0,
    wer_slope=1.0,
    wer_intercept=0.0,
    threshold=0.2,
    word_threshold=0.5,
)
TEST_REVIEWER = Reviewer(TEST_MODEL, TEST_MODEL.threshold)


def words(text: str, start: float, step: float = 0.3, probability: float = 0.95) -> tuple[Word, ...]:
    return tuple(
        Word(" " + w, start + i * step, start + (i + 1) * step, probability) for i, w in enumerate(text.split())
    )


def fixed_transcript() -> Transcript:
    """Three segments: a clean one, one after a long pause, one decoded with a fallback temperature."""
    first = words("Welcome to the show. Today we talk about rivers & <lakes>.", 0.52)
    second = words("Rivers carry water to the sea.", 7.0)
    third = words("Um so yeah it's été très bien", 12.0, probability=0.3)
    return Transcript(
        text="",
        language="en",
        segments=(
            Segment(0, 0.0, 3.9, "".join(w.word for w in first), avg_logprob=-0.21, no_speech_prob=0.02, words=first),
            Segment(
                1, 6.5, 9.4, "".join(w.word for w in second), avg_logprob=-0.35, compression_ratio=1.3, words=second
            ),
            Segment(2, 11.5, 15.0, "".join(w.word for w in third), avg_logprob=-1.4, temperature=0.4, words=third),
        ),
        duration=16.25,
    )


def fixed_entries() -> list[ItemChunks]:
    talk = chunk_item("talk.wav", "shows/talk.wav", fixed_transcript(), ChunkingOptions(), TEST_REVIEWER)
    assert [c.text for c in talk.chunks] == [c.text for c in chunk_transcript(fixed_transcript(), ChunkingOptions())]
    return [talk, ItemChunks("silence.wav", "silence.wav", None, 4.0, [])]


# Diarization's names: the first and third segments are one speaker, the second another.
FIXED_TURNS = [Turn(0.0, 5.0, "SPEAKER_01"), Turn(5.0, 10.5, "SPEAKER_02"), Turn(10.5, 16.25, "SPEAKER_01")]


def fixed_speaker_entries() -> list[ItemChunks]:
    """The fixed transcript chunked with speaker turns (as a run with `speakers.mode: diarize` does)."""
    talk = chunk_item("talk.wav", "shows/talk.wav", fixed_transcript(), ChunkingOptions(), TEST_REVIEWER, FIXED_TURNS)
    return [talk, ItemChunks("silence.wav", "silence.wav", None, 4.0, [])]
