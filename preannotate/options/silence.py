"""Options of silence skipping: long quiet stretches cut out of the audio before the model, in both engines."""

from __future__ import annotations

from dataclasses import dataclass

from .base import check, option


@dataclass(frozen=True)
class SilenceOptions:
    """Long quiet stretches are cut out as the audio decodes; only the rest reaches the model.

    A stretch is quiet when every 30-ms frame's RMS level stays under `threshold_db`. Files without
    such a stretch reach the model exactly as before; word and segment times are always on the file's
    own timeline.
    """

    skip: bool = option(
        True,
        "Cut quiet stretches longer than `min_duration_s` out of the audio before the model (both engines), so that "
        "long silences cost neither time nor memory; a file with no sound above `threshold_db` is not transcribed. "
        "Files without such a stretch are transcribed exactly as with false.",
    )
    threshold_db: float = option(
        -50.0,
        "A 30-ms frame is quiet below this RMS level, in dB relative to full scale (speech is usually -35 to -15, "
        "a quiet room -70 to -55). Lower it for very quiet recordings.",
    )
    min_duration_s: float = option(
        3.0,
        "Quiet stretches at least this long are cut; shorter pauses stay, as the model expects them.",
    )
    padding_s: float = option(
        0.5,
        "Quiet audio kept on each side of a cut, so that words fading in or out stay whole; must be under half of "
        "`min_duration_s`.",
    )

    def validate(self) -> None:
        """Raises ConfigError when an option is out of range."""
        check(-120.0 <= self.threshold_db < 0.0, "silence.threshold_db must be in [-120, 0)")
        check(self.padding_s >= 0.0, "silence.padding_s must be >= 0")
        check(
            self.min_duration_s > 2 * self.padding_s,
            "silence.min_duration_s must be more than twice silence.padding_s",
        )
