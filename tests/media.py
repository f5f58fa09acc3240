"""Writing real media files for tests with PyAV's encoders (no system ffmpeg)."""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

# container suffix -> (audio codec, container format)
CODECS = {
    ".wav": ("pcm_s16le", "wav"),
    ".mp3": ("libmp3lame", "mp3"),
    ".flac": ("flac", "flac"),
    ".ogg": ("libopus", "ogg"),
    ".opus": ("libopus", "opus"),
    ".m4a": ("aac", "ipod"),
    ".aac": ("aac", "adts"),
    ".webm": ("libopus", "webm"),
    ".mp4": ("aac", "mp4"),
    ".mov": ("aac", "mov"),
    ".mkv": ("libopus", "matroska"),
}


def read_sample(name: str) -> np.ndarray:
    """Reads `samples/<name>.wav` (16 kHz mono float) with PyAV."""
    from preannotate.audio import decode_audio

    return decode_audio(SAMPLES / f"{name}.wav").samples


def write_audio(path: Path, samples: np.ndarray, rate: int = 16_000, channels: int = 1) -> Path:
    """Encodes float samples in [-1, 1] (shape (n,) or (n, channels)) into the format the suffix names."""
    codec, fmt = CODECS[path.suffix.lower()]
    data = np.asarray(samples, dtype=np.float32).reshape(len(samples), -1)
    if data.shape[1] != channels:
        data = np.repeat(data[:, :1], channels, axis=1)
    layout = "mono" if channels == 1 else "stereo"
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=_codec_rate(codec, rate), layout=layout)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data.T), format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.time_base = Fraction(1, rate)
        resampler = av.AudioResampler(format=stream.format.name, layout=layout, rate=stream.rate)
        for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(resampled):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def _codec_rate(codec: str, rate: int) -> int:
    return 48_000 if codec == "libopus" and rate not in (8000, 12000, 16000, 24000, 48000) else rate


def write_video_without_audio(path: Path, seconds: float = 1.0) -> Path:
    """Writes an MP4 with only a video stream."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(int(seconds * 10)):
            img = np.full((48, 64, 3), (i * 20) % 255, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def write_wav16(path: Path, samples: np.ndarray, rate: int = 16_000) -> Path:
    """Writes 16-bit PCM mono WAV with the standard library."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path
