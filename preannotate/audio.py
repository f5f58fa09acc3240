"""Decoding media files to 16 kHz mono float32 with PyAV (FFmpeg inside its wheels).

No system ffmpeg is needed. Every failure becomes an `AudioError` that names
the file and says what is wrong with it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

import av
import numpy as np
from av.codec.context import ThreadType

from .audio_frames import Checked, Repairs, decoded_frames
from .cloud import ObjectUrl, open_object
from .errors import AudioError
from .options import SilenceOptions
from .silence import MIN_DURATION, SilenceCutter, Timeline
from .wav_header import wav_declared_seconds

SAMPLE_RATE = 16_000  # Hz, what Whisper expects
# Below this peak amplitude (about -80 dBFS) a file is digital silence: Whisper
# would only invent text for it, so it is not sent to the model at all.
SILENCE_PEAK = 1e-4
# No recording of speech has fewer samples a second than this (telephony has 8,000): a header that says so
# is broken, and resampling it to 16 kHz would make a few kilobytes into hours of audio.
MIN_RATE = 1_000  # Hz


# A file whose decoded audio is shorter than this share of the duration its
# header declares is reported as truncated (the part that decodes is still used).
TRUNCATED_SHARE = 0.9
# A header can claim any duration: never reserve more than this many samples up front (4 hours).
MAX_PREALLOCATED = 4 * 3600 * SAMPLE_RATE
# Probing a file's first 4 KiB instead of up to 5 MB or 5 s of it (FFmpeg's default) cuts opening a short
# WAV from 2.1 to 0.5 ms of CPU. The containers here state their duration in their headers (or, for Ogg,
# in their last page), so the quick probe declares what the full one does; an ADTS or MP3 stream's
# duration is estimated from the bitrate of the bytes probed, so those formats are probed in full.
# FFmpeg reads PCM WAV in packets of 1,024 samples unless told otherwise: 256 KiB packets make 128x fewer
# frames to hand through Python (a 2-hour file: 6.4 s -> 0.8 s). Demuxers without the option ignore it.
_DEMUX = {"max_size": "262144"}
_QUICK_PROBE = {"probesize": "4096", **_DEMUX}
_SCALES = {"flt": 1.0, "fltp": 1.0, "s16": 2.0**-15, "s16p": 2.0**-15}  # 16-kHz mono decoded without a resampler
_HEADER_DURATION = frozenset({"wav", "w64", "flac", "ogg", "aiff", "caf", "matroska,webm", "mov,mp4,m4a,3gp,3g2,mj2"})


class Stage(Protocol):
    """A step between decoding and the silence cutter that hands on samples of its own (audio slowed down)."""

    ratio: float  # samples handed on per sample taken, for sizing the buffer that holds them

    def extend(self, samples: np.ndarray) -> None:
        """Takes the next decoded samples."""

    def finish(self) -> None:
        """Takes the end of the file: hands on what is still held."""


# Makes a stage that hands its samples to the given callable.
StageFactory = Callable[[Callable[[np.ndarray], None]], Stage]


@dataclass(frozen=True)
class DecodedAudio:
    """Samples of one file and what its header promised.

    Attributes:
        samples: 1-D float32 samples at 16 kHz, mono.
        declared_duration: Seconds the container declares, or None when it does not say.
        timeline: Where `samples` lie in the file when long quiet stretches were cut out of them
            (`preannotate.silence`); None when the samples are the whole file.
        repairs: What decoding had to repair (packets left out, samples that were not numbers) or found
            far out of range (samples far above full scale), one warning each; empty when nothing was.
    """

    samples: np.ndarray
    declared_duration: float | None = None
    timeline: Timeline | None = None
    repairs: tuple[str, ...] = ()

    @property
    def duration(self) -> float:
        """Seconds of decoded audio (of the whole file, cut stretches included)."""
        return (self.samples.shape[0] if self.timeline is None else self.timeline.total) / SAMPLE_RATE

    @property
    def truncated(self) -> bool:
        """True when much less audio decoded than the header declared."""
        declared = self.declared_duration
        return declared is not None and declared > MIN_DURATION and self.duration < TRUNCATED_SHARE * declared


def decode_audio(
    path: str | Path, silence: SilenceOptions | None = None, stage: StageFactory | None = None
) -> DecodedAudio:
    """Decodes the first audio stream of a media file to 16 kHz mono float32.

    Args:
        path: An audio or video file in any format FFmpeg reads, or a listed bucket object
            (`preannotate.cloud.ObjectUrl`), which is streamed.
        silence: With `skip` on, long quiet stretches are cut out as the file decodes (never held).
        stage: Makes a step the decoded samples pass through, block by block, before the silence cutter;
            the samples returned are its (the timeline too).

    Returns:
        The samples and the duration the container declares.

    Raises:
        AudioError: The file is missing, unreadable, empty, not media, corrupt,
            or has no audio stream; an object was deleted, changed or denied.
    """
    if isinstance(path, ObjectUrl):
        with open_object(path) as stream:
            return decode_stream(stream, str(path), silence, stage)
    path = Path(path)
    check_readable(path)
    return decode_stream(str(path), str(path), silence, stage)


def decode_stream(
    source: str | IO[bytes], name: str, silence: SilenceOptions | None = None, stage: StageFactory | None = None
) -> DecodedAudio:
    """Decodes a media file or a readable, seekable binary stream to 16 kHz mono float32.

    A stream is read as FFmpeg asks for it, so only the stream's own buffer is held besides the samples.

    Args:
        source: A path, or a binary file-like object (`read`, `seek`).
        name: What error messages call it.
        silence: With `skip` on, long quiet stretches are cut out as the file decodes.
        stage: As in `decode_audio`.

    Raises:
        AudioError: Not media, corrupt, no audio stream, or the stream failed.
    """
    repairs = Repairs()
    with open_audio(source, name) as container:
        declared = declared_duration(container)
        if isinstance(source, str) and container.format.name == "wav":  # FFmpeg caps it at what the file holds
            declared = max(declared or 0.0, wav_declared_seconds(source) or 0.0) or None
        samples, timeline = _decode_stream(container, declared, silence, repairs, stage)
    if (samples.shape[0] if timeline is None else timeline.total) == 0 and (declared or 0.0) > MIN_DURATION:
        raise AudioError(f"{name}: corrupt: nothing decodes of the {declared:.2f} s its header declares")
    return DecodedAudio(samples, declared, timeline, repairs.notes())


@contextlib.contextmanager
def open_audio(source: str | IO[bytes], name: str) -> Iterator[av.container.InputContainer]:
    """Opens media that has an audio stream; what FFmpeg raises meanwhile becomes an AudioError naming `name`.

    Args:
        source: A path, or a binary file-like object (`read`, `seek`).
        name: What error messages call it.

    Raises:
        AudioError: Not media, corrupt, no audio stream, or decoding failed inside the block.
    """
    try:
        with _open(source) as container:
            if not container.streams.audio:
                raise AudioError(f"{name}: no audio stream (a video without sound?)")
            context = container.streams.audio[0].codec_context
            if context is None:  # a format tag FFmpeg knows no decoder for
                raise AudioError(f"{name}: FFmpeg has no decoder for the format of its audio stream")
            if 0 < context.sample_rate < MIN_RATE:
                raise AudioError(
                    f"{name}: its header gives a sample rate of {context.sample_rate} Hz, under the {MIN_RATE} Hz "
                    "speech needs: a broken header (decoded at 16 kHz it would make hours of audio of a few bytes)"
                )
            yield container
    except AudioError:
        raise
    except av.error.InvalidDataError as e:
        raise AudioError(f"{name}: not a media file FFmpeg can read, or corrupt ({e.strerror or e})") from e
    except (av.error.FFmpegError, ValueError, OSError) as e:
        raise AudioError(f"{name}: cannot decode audio ({e})") from e


def _open(source: str | IO[bytes]) -> av.container.InputContainer:
    """Opens media, probing a file's first 4 KiB only when its container states everything in its header."""
    if isinstance(source, str):
        try:
            container = av.open(source, "r", metadata_errors="ignore", options=_QUICK_PROBE)
        except (av.error.FFmpegError, ValueError):  # a format not told from its first bytes: probed in full
            pass
        else:
            if container.format.name in _HEADER_DURATION:
                return container
            container.close()
    return av.open(source, "r", metadata_errors="ignore", options=_DEMUX)


def declared_duration(container: av.container.InputContainer) -> float | None:
    """Seconds the first audio stream (else the container) declares; None when it does not say."""
    stream = container.streams.audio[0]
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return container.duration / av.time_base if container.duration else None


def check_readable(path: Path) -> None:
    """Raises AudioError naming `path` when it is missing, not a file, or unreadable."""
    if not path.is_file():
        raise AudioError(f"{path}: file not found")
    if not os.access(path, os.R_OK):
        raise AudioError(f"{path}: permission denied (the file cannot be read)")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")


def _decode_stream(
    container: av.container.InputContainer,
    declared: float | None,
    silence: SilenceOptions | None,
    repairs: Repairs,
    make_stage: StageFactory | None = None,
) -> tuple[np.ndarray, Timeline | None]:
    stream = container.streams.audio[0]
    stream.codec_context.thread_type = ThreadType.AUTO
    resampler = None  # set up at the first frame that needs it (a new one per file costs about 1 ms)
    out = _Samples(declared)
    cutter = SilenceCutter(silence, out.append, SAMPLE_RATE) if silence is not None and silence.skip else None
    keep = out.append if cutter is None else cutter.extend
    stage = make_stage(keep) if make_stage is not None else None
    if stage is not None and declared is not None:
        out.reserve(declared * stage.ratio)  # sized for what the stage hands on, so that it is held once
    add = Checked(keep if stage is None else stage.extend, repairs)
    for frame in decoded_frames(container, stream, repairs):
        if isinstance(frame, float):  # the resampler's held samples go first, then the silence
            _flush(resampler, add)
            resampler = None
            add(np.zeros(round(frame * SAMPLE_RATE), np.float32))
            continue
        if resampler is None and (samples := _as_is(frame)) is not None:
            add(samples)
            continue
        resampler = resampler or av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        frame.pts = None  # let the resampler ignore broken timestamps instead of failing
        for resampled in resampler.resample(frame):
            add(resampled.to_ndarray().reshape(-1))
    _flush(resampler, add)
    add.flush()
    if stage is not None:
        stage.finish()
    timeline = cutter.finish() if cutter is not None else None  # hands on the last samples
    return out.array(), timeline


def _flush(resampler: av.AudioResampler | None, add: Callable[[np.ndarray], None]) -> None:
    """Hands on the samples `resampler` still holds (it is not used again)."""
    for resampled in resampler.resample(None) if resampler is not None else ():
        add(resampled.to_ndarray().reshape(-1))


def _as_is(frame: av.AudioFrame) -> np.ndarray | None:
    """A 16-kHz mono float or 16-bit frame's samples as float32, exactly as the resampler gives them; else None.

    The resampler only scales such samples by a power of two (1 or 2**-15), which is exact in float32.
    """
    scale = _SCALES.get(frame.format.name)
    if scale is None or frame.sample_rate != SAMPLE_RATE or frame.layout.nb_channels != 1:
        return None
    samples = frame.to_ndarray().reshape(-1)
    return samples if scale == 1.0 else samples.astype(np.float32) * np.float32(scale)


class _Samples:
    """Decoded samples, in a buffer sized from the declared duration so that they are held only once.

    Collecting frames and concatenating them holds every sample twice at the end (460 MB for an hour).
    Samples beyond the declared duration (a header that says too little, or nothing) are collected
    and concatenated as before.
    """

    def __init__(self, declared: float | None) -> None:
        self.reserve(declared)
        self.size = 0
        self.rest: list[np.ndarray] = []

    def reserve(self, seconds: float | None) -> None:
        """Sizes the buffer for this many seconds; before any sample is appended (the room is not yet touched)."""
        expected = int((seconds or 0.0) * SAMPLE_RATE) + SAMPLE_RATE  # 1 s to spare for rounding
        self.head = np.empty(min(expected, MAX_PREALLOCATED), dtype=np.float32)

    def extend(self, frames: list[av.AudioFrame]) -> None:
        for frame in frames:
            self.append(frame.to_ndarray().reshape(-1))

    def append(self, data: np.ndarray) -> None:
        room = self.head.shape[0] - self.size
        if self.rest or data.shape[0] > room:
            self.head[self.size :] = data[:room]
            self.size += min(room, data.shape[0])
            self.rest.append(data[room:])
        else:
            self.head[self.size : self.size + data.shape[0]] = data
            self.size += data.shape[0]

    def array(self) -> np.ndarray:
        if self.rest:
            return np.concatenate([self.head, *self.rest]).astype(np.float32, copy=False)
        if self.size < self.head.shape[0] // 2:  # much less than declared: do not keep the unused room
            return self.head[: self.size].copy()
        return self.head[: self.size]


def centred_samples(waveform: np.ndarray, length: int, pad: int, start: int, end: int) -> np.ndarray:
    """Returns samples [start, end) of the signal a centred STFT frames, without building it.

    That signal is the waveform zero-padded to `length` samples, then reflect-padded by `pad` on both
    sides (as `torch.stft(center=True)` and `np.pad(mode="reflect")` do). Long files' spectrograms are
    computed a block of frames at a time from these slices.
    """
    index = np.abs(np.arange(start - pad, end - pad))
    index = np.where(index >= length, 2 * (length - 1) - index, index)
    inside = index < waveform.shape[0]
    return np.where(inside, waveform[np.minimum(index, waveform.shape[0] - 1)], 0.0).astype(np.float32)


def is_silent(samples: np.ndarray) -> bool:
    """Returns True when the audio holds no signal above digital silence."""
    return samples.size == 0 or float(np.max(np.abs(samples))) < SILENCE_PEAK


def probe_duration(path: str | Path) -> float | None:
    """Returns the duration a media file declares in its header, or None when unknown.

    Cheap (no decoding): used to size progress bars before the real work. None for bucket objects,
    which are not fetched twice (the decode that transcribes them is their only download).
    """
    if isinstance(path, ObjectUrl):
        return None
    try:
        with _open(str(path)) as container:
            return declared_duration(container) if container.streams.audio else None
    except (av.error.FFmpegError, OSError, ValueError):
        return None
