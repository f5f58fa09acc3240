"""Cutting segments out of decoded audio, exactly to the sample, and writing them as WAV or FLAC."""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import CorrectionError
from ..storage import raise_if_disk_full

US_PER_SECOND = 1_000_000
BLOCK = 1 << 16  # samples per resampler call: bounded memory for long files


def sample_span(start_us: int, end_us: int, rate: int) -> tuple[int, int]:
    """The samples [first, last) of a span: its times times the rate, rounded half up.

    Integer arithmetic on the annotation's microseconds, so the same span always gives the
    same samples (float rounding could move an edge by one).
    """
    half = US_PER_SECOND // 2
    return (start_us * rate + half) // US_PER_SECOND, (end_us * rate + half) // US_PER_SECOND


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Mono float32 samples at another rate (FFmpeg's resampler via PyAV).

    The result has exactly round(len * rate_out / rate_in) samples, so that times map to the
    same sample positions as in `sample_span`.
    """
    if rate_in == rate_out:
        return samples
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate_out)
    pieces: list[np.ndarray] = []
    for start in range(0, len(samples), BLOCK):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples[start : start + BLOCK], dtype=np.float32).reshape(1, -1),
            format="flt",
            layout="mono",
        )
        frame.sample_rate = rate_in
        pieces.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
    pieces.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    out = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    want = (len(samples) * rate_out * 2 + rate_in) // (2 * rate_in)
    # The resampler's filter delay leaves a few samples more or fewer at the very end.
    return np.pad(out, (0, max(0, want - len(out))))[:want].astype(np.float32, copy=False)


def write_clip(path: Path, samples: np.ndarray, rate: int, audio_format: str) -> None:
    """Writes mono samples in [-1, 1] as 16-bit PCM WAV or FLAC, every sample kept.

    Raises:
        CorrectionError: The file cannot be written.
    """
    try:
        if audio_format == "wav":
            _write_wav(path, samples, rate)
        else:
            _write_flac(path, samples, rate)
    except (OSError, av.error.FFmpegError, wave.Error) as e:
        if isinstance(e, OSError):
            raise_if_disk_full(e, path.parent)
        raise CorrectionError(f"cannot write clip {path}: {e}") from e


def _pcm16(samples: np.ndarray) -> np.ndarray:
    return np.round(np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")


def _write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(_pcm16(samples).tobytes())


def _write_flac(path: Path, samples: np.ndarray, rate: int) -> None:
    with av.open(str(path), "w", format="flac") as container:
        stream = container.add_stream("flac", rate=rate, layout="mono")
        stream.format = "s16"
        pcm = _pcm16(samples)
        for start in range(0, len(pcm), BLOCK):
            frame = av.AudioFrame.from_ndarray(pcm[start : start + BLOCK].reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
