"""Typed transcription results, shared by every stage after the model.

Times are float seconds from the start of the file. The dict forms are what
`transcripts/<item>.json` holds; `Transcript.from_dict(t.to_dict()) == t`.
`from_dict` checks every type, since a stored transcript may have been edited
or damaged: a wrong one is a TranscriptionError naming the field.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar, overload

from .errors import TranscriptionError

_T = TypeVar("_T")
_D = TypeVar("_D")
_REQUIRED: Any = object()


@dataclass(frozen=True)
class Word:
    """One word with its timing and the model's probability for it."""

    word: str
    start: float
    end: float
    probability: float

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "word") -> Word:
        """Builds a word from its dict form (openai-whisper's keys).

        Raises:
            TranscriptionError: A key is missing or of the wrong type.
        """
        d = _mapping(d, where)
        start, end = _get(d, "start", where, _time), _get(d, "end", where, _time)
        return cls(_get(d, "word", where, _text), start, end, _get(d, "probability", where, _number))


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
    # Who says it, when the transcript is one speaker per channel (`speakers.mode: channels`); None otherwise
    # (then it is left out of `to_dict`, so transcripts stay as they were).
    speaker: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "segment") -> Segment:
        """Builds a segment from its dict form (openai-whisper's keys; extra keys ignored).

        Raises:
            TranscriptionError: A key is missing or of the wrong type.
        """
        d = _mapping(d, where)
        tokens = _get(d, "tokens", where, _sequence, ())
        listed = _get(d, "words", where, _sequence, None)
        words = None if listed is None else tuple(Word.from_dict(w, f"{where}, word {i}") for i, w in enumerate(listed))
        signals = ("temperature", "avg_logprob", "compression_ratio", "no_speech_prob")
        return cls(
            id=_get(d, "id", where, _integer, 0),
            start=_get(d, "start", where, _time),
            end=_get(d, "end", where, _time),
            text=_get(d, "text", where, _text),
            tokens=tuple(_integer(t, f"{where}: tokens[{i}]") for i, t in enumerate(tokens)),
            **{k: _get(d, k, where, _number, 0.0) for k in signals},
            words=words,
            speaker=_get(d, "speaker", where, _text, None),
        )

    def to_dict(self) -> dict[str, Any]:
        """Returns the JSON-ready dict form."""
        d = asdict(self)
        d["tokens"] = list(self.tokens)
        d["words"] = None if self.words is None else [asdict(w) for w in self.words]
        if self.speaker is None:
            del d["speaker"]
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
        """Builds a transcript from its dict form.

        Raises:
            TranscriptionError: It is not a mapping, or a key is of the wrong type (the message names it).
        """
        d = _mapping(d, "transcript")
        segments = _get(d, "segments", "transcript", _sequence, ())
        return cls(
            text=_get(d, "text", "transcript", _text, ""),
            language=_get(d, "language", "transcript", _text, None),
            segments=tuple(Segment.from_dict(s, f"segment {i}") for i, s in enumerate(segments)),
            duration=_get(d, "duration", "transcript", _time, 0.0),
            language_probability=_get(d, "language_probability", "transcript", _number, None),
            meta=dict(_get(d, "meta", "transcript", _mapping, {})),
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


@overload
def _get(d: dict[str, Any], key: str, where: str, check: Callable[[Any, str], _T]) -> _T: ...
@overload
def _get(d: dict[str, Any], key: str, where: str, check: Callable[[Any, str], _T], default: _D) -> _T | _D: ...
def _get(d: dict[str, Any], key: str, where: str, check: Callable[[Any, str], _T], default: Any = _REQUIRED) -> Any:
    """`d[key]` checked by `check`; `default` when missing or None (when there is one)."""
    value = d.get(key)
    if value is None and default is not _REQUIRED:
        return default
    if key not in d:
        raise TranscriptionError(f"{where}: {key} is missing")
    return check(value, f"{where}: {key}")


def _describe(value: Any) -> str:
    shown = repr(value)
    return f"{type(value).__name__} ({shown if len(shown) <= 40 else shown[:37] + '...'})"


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TranscriptionError(f"{what} is {_describe(value)}, not an object")
    return value


def _sequence(value: Any, what: str) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise TranscriptionError(f"{what} is {_describe(value)}, not a list")
    return list(value)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TranscriptionError(f"{what} is {_describe(value)}, not a string")
    return value


def _number(value: Any, what: str) -> float:
    # numbers.Real takes numpy's scalars too; bool is an int in Python but never a signal.
    # Quality signals may be infinite (an avg_logprob of -inf): only times must be finite.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TranscriptionError(f"{what} is {_describe(value)}, not a number")
    return float(value)


def _time(value: Any, what: str) -> float:
    seconds = _number(value, what)
    if not math.isfinite(seconds):
        raise TranscriptionError(f"{what} is {seconds}, not a time")
    return seconds


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TranscriptionError(f"{what} is {_describe(value)}, not an integer")
    return int(value)


def recorded_source(transcript: Any) -> dict[str, Any]:
    """The source state a stored transcript records (`meta.source`: path, size, SHA-256 or ETag...); {} if none."""
    meta = transcript.get("meta") if isinstance(transcript, dict) else None
    source = meta.get("source") if isinstance(meta, dict) else None
    return source if isinstance(source, dict) else {}
