"""Audio slowed down for a second decode by the draft's own model (`annotation.slowed_check`).

The draft model hears a word otherwise when the audio plays 10% slower more often where the word rests on
the acoustics less firmly: test-time augmentation, here Kaldi's speed perturbation (resampled, so the pitch
falls too). Silence is skipped on the slowed audio as on any file, and the transcript's times are put back
onto the file's own timeline. tools/review_perturbed.py measured it and holds the rule that chose it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.signal import resample_poly

from .audio import DecodedAudio
from .options import SilenceOptions
from .results import Segment, Transcript, Word
from .silence import SilenceCutter

SPEED = 0.9  # the slowed audio plays at this speed
UP, DOWN = 10, 9  # resample_poly's factors: 10/9 as many samples at the same rate


def slowed(audio: DecodedAudio, silence: SilenceOptions | None = None) -> DecodedAudio:
    """The whole file's samples slowed to SPEED, with silence skipped on them as `silence` says.

    Args:
        audio: The file decoded without silence skipping (its timeline None).
        silence: The run's silence options; None or `skip` off keeps every sample.

    Returns:
        The slowed audio; its timeline (if any) is on the slowed file's time, which `at_file_speed` maps back.

    Raises:
        ValueError: The audio was decoded with silence cut out (its times would not map back).
    """
    if audio.timeline is not None:
        raise ValueError("slowed(): decode the file without silence skipping")
    # float32 in, float32 out: a long file's copy costs 4 bytes a sample, not 8 (the difference is under 1e-5).
    samples = resample_poly(audio.samples, UP, DOWN).astype(np.float32, copy=False)
    if silence is None or not silence.skip:
        return DecodedAudio(samples, None, None, audio.repairs)
    kept: list[np.ndarray] = []
    cutter = SilenceCutter(silence, kept.append)
    cutter.extend(samples)
    timeline = cutter.finish()
    return DecodedAudio(np.concatenate(kept) if kept else np.zeros(0, np.float32), None, timeline, audio.repairs)


def at_file_speed(transcript: Transcript) -> Transcript:
    """A slowed file's transcript (times on the slowed file's timeline) with the times of the file itself."""
    segments = tuple(_segment(s) for s in transcript.segments)
    return dataclasses.replace(transcript, segments=segments, duration=round(transcript.duration * SPEED, 3))


def _segment(segment: Segment) -> Segment:
    words = None if segment.words is None else tuple(_word(w) for w in segment.words)
    return dataclasses.replace(segment, start=_at(segment.start), end=_at(segment.end), words=words)


def _word(word: Word) -> Word:
    return dataclasses.replace(word, start=_at(word.start), end=_at(word.end))


def _at(seconds: float) -> float:
    return round(seconds * SPEED, 3)
