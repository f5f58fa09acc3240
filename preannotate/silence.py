"""Silence skipping: long quiet stretches cut out of the audio as it decodes, and times put back afterwards.

Decoding feeds samples through `SilenceCutter`, which keeps only the audio around sound: a stretch whose
30-ms frames all stay under the level threshold for `min_duration_s` is cut, keeping `padding_s` of it on
each side. The model then sees the speech of a two-hour recording that is mostly silence as one short
signal (so Whisper's windowing, previous-text conditioning and language detection work as on any file;
faster-whisper decodes the passages between cuts of 10 s or more in batches, `asr.faster_whisper.pieces`),
and memory follows the speech, not the recording's length. `Timeline` maps the transcript's times back onto
the file's own timeline. A file without a long quiet stretch passes through unchanged (no timeline), so its
transcript is exactly what it was without skipping.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .options import SilenceOptions
from .results import Segment, Transcript, Word

FRAME = 480  # samples per loudness frame: 30 ms at 16 kHz
BLOCK = 160_000  # samples gathered before frames are measured (10 s: fewer, larger numpy calls)
# Whisper cannot say anything useful about less than this much audio.
MIN_DURATION = 0.1  # seconds


@dataclass(frozen=True)
class Timeline:
    """Where the kept audio lies in the file.

    Attributes:
        starts: Each kept piece's first sample in the file, in order.
        offsets: Each piece's first sample in the kept audio (the first is 0).
        total: The file's decoded length in samples.
        rate: Samples per second.
    """

    starts: tuple[int, ...]
    offsets: tuple[int, ...]
    total: int
    rate: int

    def restore(self, transcript: Transcript) -> Transcript:
        """Returns the transcript of the kept audio with its times on the file's timeline and the file's duration.

        A transcript of no kept audio (no sound at all) says so in `meta.skipped_model`.
        """
        duration = self.total / self.rate
        if not self.starts:
            reason = "too short" if duration < MIN_DURATION else "silence"  # as for a file not cut (asr.base)
            meta = {**transcript.meta, "skipped_model": reason}
            return dataclasses.replace(transcript, segments=(), text="", duration=duration, meta=meta)
        segments = tuple(self._segment(s) for s in transcript.segments)
        return dataclasses.replace(transcript, segments=segments, duration=duration)

    @property
    def silent(self) -> bool:
        """True when nothing was kept: the file has no sound above the threshold."""
        return not self.starts

    def _segment(self, segment: Segment) -> Segment:
        start, end = self._span(segment.start, segment.end, whole=False)
        words = None if segment.words is None else tuple(self._word(w) for w in segment.words)
        return dataclasses.replace(segment, start=start, end=end, words=words)

    def _word(self, word: Word) -> Word:
        start, end = self._span(word.start, word.end, whole=True)
        return dataclasses.replace(word, start=start, end=end)

    def _span(self, start: float, end: float, whole: bool) -> tuple[float, float]:
        """Maps a span; a start on a join belongs to the piece after it, an end to the piece before.

        A segment may span a cut; a word that straddles one (rare: each side holds `padding_s` of quiet)
        ends where its first piece ends, rather than spanning the cut silence.
        """
        first = max(bisect.bisect_right(self.offsets, round(start * self.rate)) - 1, 0)
        last = max(bisect.bisect_left(self.offsets, round(end * self.rate)) - 1, first)
        if whole and last != first:
            end, last = self.offsets[first + 1] / self.rate, first
        mapped_start = self._at(start, first)
        return mapped_start, max(self._at(end, last), mapped_start)

    def _at(self, seconds: float, piece: int) -> float:
        return round((self.starts[piece] - self.offsets[piece]) / self.rate + seconds, 3)


class SilenceCutter:
    """Takes decoded samples in order and hands on only those outside long quiet stretches.

    Memory is bounded: a quiet stretch holds at most its first `min_duration_s` and last `padding_s`
    until it ends. `emit(samples)` receives the kept samples in order; `timeline()` says where they lie.
    """

    def __init__(self, options: SilenceOptions, emit: Callable[[np.ndarray], None], rate: int = 16_000) -> None:
        self.emit = emit
        self.rate = rate
        self.power = 10.0 ** (options.threshold_db / 10.0)  # mean square of a frame at the threshold
        self.min_quiet = round(options.min_duration_s * rate)
        self.pad = round(options.padding_s * rate)
        self.pending: list[np.ndarray] = []  # samples not yet measured
        self.pending_size = 0
        self.position = 0  # file samples measured so far
        self.quiet_start = 0  # where the current quiet stretch began (when `quiet` > 0)
        self.quiet = 0  # its length so far
        self.head: list[np.ndarray] = []  # its first `min_quiet` samples
        self.tail = np.zeros(0, np.float32)  # its last `pad` samples
        self.heard = False  # a loud frame came
        self.starts: list[int] = []
        self.offsets: list[int] = []
        self.written = 0
        self.next_start = -1  # the file sample that would continue the current piece

    def extend(self, samples: np.ndarray) -> None:
        """Takes the next decoded samples."""
        self.pending.append(samples)
        self.pending_size += samples.shape[0]
        if self.pending_size >= BLOCK:
            self._measure(final=False)

    def finish(self) -> Timeline | None:
        """Takes the end of the file; returns where the kept audio lies, or None when nothing was cut."""
        self._measure(final=True)
        if self.quiet:
            self._end_quiet(last=True)
        if self.heard and self.starts == [0] and self.written == self.position:
            return None
        if not self.heard:
            self.starts, self.offsets = [], []
        return Timeline(tuple(self.starts), tuple(self.offsets), self.position, self.rate)

    def _measure(self, final: bool) -> None:
        block = np.concatenate(self.pending) if len(self.pending) > 1 else self.pending[0] if self.pending else None
        if block is None:
            return
        whole = block.shape[0] if final else block.shape[0] - block.shape[0] % FRAME
        self.pending = [block[whole:]] if whole < block.shape[0] else []
        self.pending_size = block.shape[0] - whole
        block = block[:whole]
        if not whole:  # nothing whole to measure (an empty array handed on last)
            return
        loud = _loud_frames(block, self.power)
        changes = np.flatnonzero(np.diff(loud)) + 1
        for first, last in zip([0, *changes], [*changes, loud.shape[0]]):
            run = block[first * FRAME : last * FRAME]
            (self._loud if loud[first] else self._quiet)(run)

    def _quiet(self, run: np.ndarray) -> None:
        if not self.quiet:
            self.quiet_start, self.head, self.tail = self.position, [], np.zeros(0, np.float32)
        held = sum(h.shape[0] for h in self.head)
        if held < self.min_quiet:
            self.head.append(run[: self.min_quiet - held])
        if self.pad:
            self.tail = np.concatenate([self.tail, run[-self.pad :]])[-self.pad :]
        self.quiet += run.shape[0]
        self.position += run.shape[0]

    def _loud(self, run: np.ndarray) -> None:
        if self.quiet:
            self._end_quiet(last=False)
        self.heard = True
        self._keep(run, self.position)
        self.position += run.shape[0]

    def _end_quiet(self, last: bool) -> None:
        """Keeps a short quiet stretch whole; of a long one, `pad` after the sound before it and before the next."""
        if self.quiet < self.min_quiet:
            for piece, start in _placed(self.head, self.quiet_start):
                self._keep(piece, start)
        else:
            if self.heard:
                for piece, start in _placed(self.head, self.quiet_start):
                    self._keep(piece[: max(self.pad - (start - self.quiet_start), 0)], start)
            if not last and self.pad:
                self._keep(self.tail, self.quiet_start + self.quiet - self.tail.shape[0])
        self.quiet, self.head = 0, []

    def _keep(self, samples: np.ndarray, start: int) -> None:
        if not samples.shape[0]:
            return
        if start != self.next_start:
            self.starts.append(start)
            self.offsets.append(self.written)
        self.emit(samples)
        self.written += samples.shape[0]
        self.next_start = start + samples.shape[0]


def _placed(parts: list[np.ndarray], start: int) -> list[tuple[np.ndarray, int]]:
    placed = []
    for part in parts:
        placed.append((part, start))
        start += part.shape[0]
    return placed


def _loud_frames(block: np.ndarray, power: float) -> np.ndarray:
    """Whether each 30-ms frame's mean square reaches `power` (a last, shorter frame counts on its own)."""
    whole = block.shape[0] // FRAME
    frames = block[: whole * FRAME].reshape(whole, FRAME)
    loud = np.einsum("ij,ij->i", frames, frames) >= power * FRAME
    if block.shape[0] > whole * FRAME:
        rest = block[whole * FRAME :]
        loud = np.append(loud, float(np.dot(rest, rest)) >= power * rest.shape[0])
    return loud
