"""Decoding media files to 16 kHz mono float32 with PyAV (FFmpeg inside its wheels).

No system ffmpeg is needed. Every failure becomes an `AudioError` that names
the file and says what is wrong with it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from .errors import AudioError

SAMPLE_RATE = 16_000  # Hz, what Whisper expects
# Below this peak amplitude (about -80 dBFS) a file is digital silence: Whisper
# would only invent text for it, so it is not sent to the model at all.
SILENCE_PEAK = 1e-4
# Whisper cannot say anything useful about less than this much audio.
MIN_DURATION = 0.1  # seconds


# A file whose decoded audio is shorter than this share of the duration its
# header declares is reported as truncated (the part that decodes is still used).
TRUNCATED_SHARE = 0.9


@dataclass(frozen=True)
class DecodedAudio:
    """Samples of one file and what its header promised.

    Attributes:
        samples: 1-D float32 samples at 16 kHz, mono.
        declared_duration: Seconds the container declares, or None when it does not say.
    """

    samples: np.ndarray
    declared_duration: float | None = None

    @property
    def duration(self) -> float:
        """Seconds of decoded audio."""
        return self.samples.shape[0] / SAMPLE_RATE

    @property
    def truncated(self) -> bool:
        """True when much less audio decoded than the header declared."""
        declared = self.declared_duration
        return declared is not None and declared > MIN_DURATION and self.duration < TRUNCATED_SHARE * declared


def decode_audio(path: str | Path) -> DecodedAudio:
    """Decodes the first audio stream of a media file to 16 kHz mono float32.

    Args:
        path: An audio or video file in any format FFmpeg reads.

    Returns:
        The samples and the duration the container declares.

    Raises:
        AudioError: The file is missing, unreadable, empty, not media, corrupt,
            or has no audio stream.
    """
    path = Path(path)
    _check_readable(path)
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError(f"{path}: no audio stream (a video without sound?)")
            declared = _declared_duration(container)
            samples = _decode_stream(container)
    except AudioError:
        raise
    except av.error.InvalidDataError as e:
        raise AudioError(f"{path}: not a media file FFmpeg can read, or corrupt ({e.strerror or e})") from e
    except (av.error.FFmpegError, ValueError, OSError) as e:
        raise AudioError(f"{path}: cannot decode audio ({e})") from e
    return DecodedAudio(samples, declared)


def _declared_duration(container: av.container.InputContainer) -> float | None:
    stream = container.streams.audio[0]
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return container.duration / av.time_base if container.duration else None


def _check_readable(path: Path) -> None:
    if not path.is_file():
        raise AudioError(f"{path}: file not found")
    if not os.access(path, os.R_OK):
        raise AudioError(f"{path}: permission denied (the file cannot be read)")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")


def _decode_stream(container: av.container.InputContainer) -> np.ndarray:
    stream = container.streams.audio[0]
    stream.thread_type = "AUTO"
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    pieces: list[np.ndarray] = []
    for frame in container.decode(stream):
        frame.pts = None  # let the resampler ignore broken timestamps instead of failing
        pieces.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
    pieces.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    if not pieces:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(pieces).astype(np.float32, copy=False)


def is_silent(samples: np.ndarray) -> bool:
    """Returns True when the audio holds no signal above digital silence."""
    return samples.size == 0 or float(np.max(np.abs(samples))) < SILENCE_PEAK


def probe_duration(path: str | Path) -> float | None:
    """Returns the duration a media file declares in its header, or None when unknown.

    Cheap (no decoding): used to size progress bars before the real work.
    """
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            return _declared_duration(container) if container.streams.audio else None
    except (av.error.FFmpegError, OSError, ValueError):
        return None
