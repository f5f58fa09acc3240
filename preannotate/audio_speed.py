"""Audio slowed down for a second decode by the draft's own model (`annotation.slowed_check`).

The draft model hears a word otherwise when the audio plays 10% slower more often where the word rests on
the acoustics less firmly: test-time augmentation, here Kaldi's speed perturbation (resampled, so the pitch
falls too). Silence is skipped on the slowed audio as on any file, and the transcript's times are put back
onto the file's own timeline. tools/review_perturbed.py measured it and holds the rule that chose it.
A file is slowed as it decodes, block by block (`Slower`), so that its check holds what the silence cutter
keeps of the slowed audio and a few seconds besides, as the draft's decode does, not the whole file twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from .audio import DecodedAudio, decode_audio
from .options import SilenceOptions
from .results import Segment, Transcript, Word
from .silence import SilenceCutter

SPEED = 0.9  # the slowed audio plays at this speed
UP, DOWN = 10, 9  # resample_poly's factors: 10/9 as many samples at the same rate
BLOCK = 9 * 2**13  # input samples slowed at once (4.6 s; a multiple of DOWN)
# Input samples of context on each side of a block: resample_poly's filter (201 taps at 10 times the rate)
# reaches 10 input samples either way, so with more than that each output inside the block is computed from
# the same samples, and the same taps in the same order, as when the whole file is slowed at once.
MARGIN = 4 * DOWN


class Slower:
    """Slows samples handed on in order to SPEED, exactly as `resample_poly` slows them all at once.

    Only a block and its margins are held, where `resample_poly` on a whole file holds it twice besides
    (2 hours: 0.9 GB more than the file's samples).

    Attributes:
        ratio: Samples handed on per sample taken.
    """

    ratio = UP / DOWN

    def __init__(self, emit: Callable[[np.ndarray], None]) -> None:
        self.emit = emit
        self.held = np.zeros(0, np.float32)  # the samples from `start` on
        self.start = 0  # the file's index of held[0]
        self.done = 0  # samples slowed and handed on (a multiple of DOWN)
        self.total = 0  # samples taken

    def extend(self, samples: np.ndarray) -> None:
        """Takes the next samples; hands on the slowed samples of every whole block with its margin taken."""
        self.held = np.concatenate((self.held, samples.astype(np.float32, copy=False)))
        self.total += samples.shape[0]
        end = (self.total - MARGIN) // DOWN * DOWN
        if end - self.done >= BLOCK:
            self._slow(end, end + MARGIN)

    def finish(self) -> None:
        """Takes the end of the file: hands on the rest, the file's end padded with zeros as `resample_poly` pads it."""
        if self.total > self.done:
            self._slow(self.total, self.total)

    def _slow(self, end: int, right: int) -> None:
        left = max(0, self.done - MARGIN)
        out = resample_poly(self.held[left - self.start : right - self.start], UP, DOWN).astype(np.float32, copy=False)
        first = (self.done - left) * UP // DOWN
        self.emit(out[first:] if end == right else out[first : first + (end - self.done) * UP // DOWN])
        self.done = end
        keep_from = max(0, end - MARGIN)
        self.held, self.start = self.held[keep_from - self.start :], keep_from


def decode_slowed(path: str | Path, silence: SilenceOptions | None = None) -> DecodedAudio:
    """A media file decoded and slowed to SPEED as it decodes, with silence skipped on the slowed audio.

    Args:
        path: As `decode_audio` takes it.
        silence: The run's silence options; None or `skip` off keeps every sample.

    Returns:
        What `slowed(decode_audio(path), silence)` returns, holding far less on the way.

    Raises:
        AudioError: As `decode_audio` raises it.
    """
    audio = decode_audio(path, silence, Slower)
    return DecodedAudio(audio.samples, None, audio.timeline, audio.repairs)


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
    kept: list[np.ndarray] = []
    cutter = SilenceCutter(silence, kept.append) if silence is not None and silence.skip else None
    slower = Slower(kept.append if cutter is None else cutter.extend)
    for start in range(0, audio.samples.shape[0], BLOCK):
        slower.extend(audio.samples[start : start + BLOCK])
    slower.finish()
    timeline = cutter.finish() if cutter is not None else None
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
