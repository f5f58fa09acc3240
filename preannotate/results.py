"""Typed transcription results, shared by every stage after the model.

Times are float seconds from the start of the file. The dict forms are what
`transcripts/<item>.json` holds; `Transcript.from_dict(t.to_dict()) == t`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Word:
    """One word with its timing and the model's probability for it."""

    word: str
    start: float
    end: float
    probability: float

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Word:
        """Builds a word from its dict form (openai-whisper's keys)."""
        return cls(str(d["word"]), float(d["start"]), float(d["end"]), float(d["probability"]))


@dataclass(frozen=True)
class Segment:
    """One decoded segment with the quality signals Whisper reports for it."""

    id: int
    start: float
    end: float
    text: str
    tokens: tuple[int, ...] = ()
    temperature: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_prob: float = 0.0
    words: tuple[Word, ...] | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Segment:
        """Builds a segment from its dict form (openai-whisper's keys; extra keys ignored)."""
        words = d.get("words")
        return cls(
            id=int(d.get("id", 0)),
            start=float(d["start"]),
            end=float(d["end"]),
            text=str(d["text"]),
            tokens=tuple(int(t) for t in d.get("tokens", ())),
            temperature=float(d.get("temperature", 0.0)),
            avg_logprob=float(d.get("avg_logprob", 0.0)),
            compression_ratio=float(d.get("compression_ratio", 0.0)),
            no_speech_prob=float(d.get("no_speech_prob", 0.0)),
            words=None if words is None else tuple(Word.from_dict(w) for w in words),
        )

    def to_dict(self) -> dict[str, Any]:
        """Returns the JSON-ready dict form."""
        d = asdict(self)
        d["tokens"] = list(self.tokens)
        d["words"] = None if self.words is None else [asdict(w) for w in self.words]
        return d


@dataclass(frozen=True)
class Transcript:
    """The result for one file: segments, language and the audio's duration."""

    text: str
    language: str | None
    segments: tuple[Segment, ...]
    duration: float
    language_probability: float | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def has_words(self) -> bool:
        """True when every segment carries word timestamps."""
        return bool(self.segments) and all(s.words is not None for s in self.segments)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transcript:
        """Builds a transcript from its dict form."""
        return cls(
            text=str(d.get("text", "")),
            language=d.get("language"),
            segments=tuple(Segment.from_dict(s) for s in d.get("segments", ())),
            duration=float(d.get("duration", 0.0)),
            language_probability=d.get("language_probability"),
            meta=dict(d.get("meta", {})),
        )

    def to_dict(self) -> dict[str, Any]:
        """Returns the JSON-ready dict form."""
        return {
            "text": self.text,
            "language": self.language,
            "language_probability": self.language_probability,
            "duration": self.duration,
            "segments": [s.to_dict() for s in self.segments],
            "meta": self.meta,
        }
