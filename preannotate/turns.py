"""Speaker turns and the options that bound how many speakers diarization may find."""

from __future__ import annotations

from dataclasses import dataclass

from preannotate.errors import ConfigError


@dataclass(frozen=True)
class Turn:
    """One stretch of speech by one speaker, in seconds from the start of the file."""

    start: float
    end: float
    speaker: str

    def to_dict(self) -> dict[str, float | str]:
        """The JSON form stored in `speakers/<item>.json`."""
        return {"start": round(self.start, 3), "end": round(self.end, 3), "speaker": self.speaker}

    @classmethod
    def from_dict(cls, data: dict) -> Turn:
        """Reads the form `to_dict` writes."""
        return cls(float(data["start"]), float(data["end"]), str(data["speaker"]))


@dataclass(frozen=True)
class SpeakerCount:
    """How many speakers diarization may find: exactly `num`, or between `low` and `high` (None: no bound)."""

    num: int | None = None
    low: int | None = None
    high: int | None = None

    def __post_init__(self) -> None:
        for name, value in (("num_speakers", self.num), ("min_speakers", self.low), ("max_speakers", self.high)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ConfigError(f"speakers.{name} must be a whole number of at least 1, not {value!r}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ConfigError(f"speakers.min_speakers ({self.low}) is more than speakers.max_speakers ({self.high})")
        if self.num is not None and (self.low is not None or self.high is not None):
            raise ConfigError("speakers.num_speakers cannot be combined with min_speakers or max_speakers")

    @property
    def most(self) -> int | None:
        """The largest number of speakers allowed, or None."""
        return self.num if self.num is not None else self.high
