"""Making and reading real media for tests: PyAV encoders (no system ffmpeg), a stdlib WAV reader, the samples."""

from __future__ import annotations

import struct
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
DATA = Path(__file__).resolve().parents[1] / "data"
PAUSES = DATA / "pauses.opus"  # 130 s of read speech with known pauses (made by data/make_pauses.py)
WAV_FORMATS = {(1, 16): "<i2", (3, 32): "<f4"}  # (format tag, bits per sample) -> numpy dtype

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
    return encode(path, data.T, rate, (fmt, codec, _codec_rate(codec, rate)), layout)


def encode(path: Path, planar: np.ndarray, rate: int, into: tuple[str, str, int], layout: str) -> Path:
    """Encodes float samples (channels, n) at `rate` Hz `into` (container, codec, its rate) with `layout`."""
    fmt, codec, out_rate = into
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=out_rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planar, np.float32), format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.time_base = Fraction(1, rate)
        resampler = av.AudioResampler(format=stream.format.name, layout=layout, rate=out_rate)
        for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(resampled):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def write_video_with_late_audio(path: Path, samples: np.ndarray, start_s: float, seconds: int = 6) -> Path:
    """An MP4 whose video starts at 0 and whose AAC sound (16 kHz mono `samples`) starts `start_s` seconds in."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = out.add_stream("aac", rate=16_000, layout="mono")
        for n in range(seconds * 10):
            picture = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            picture.pts = n
            out.mux(video.encode(picture))
        out.mux(video.encode(None))
        pcm, first = (np.clip(samples, -1, 1) * 32767).astype("<i2"), round(start_s * 16_000)
        for at in range(0, len(pcm), 1024):
            frame = av.AudioFrame.from_ndarray(pcm[at : at + 1024].reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 16_000, first + at, Fraction(1, 16_000)
            out.mux(sound.encode(frame))
        out.mux(sound.encode(None))
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
    """Writes 16-bit PCM WAV with the standard library: mono, or one channel per column of 2-D samples."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1 if pcm.ndim == 1 else pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def write_float_wav(path: Path, samples: np.ndarray, channels: int = 1, rate: int = 16_000) -> Path:
    """Writes an IEEE-float WAV of `samples` (interleaved when `channels` > 1) as they are, NaN included."""
    data = np.asarray(samples, "<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, channels, rate, rate * 4 * channels, 4 * channels, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def read_wav(path: str | Path) -> np.ndarray:
    """Reads a mono PCM16 or float32 WAV as float32 samples (no ffmpeg on CI; stdlib `wave` lacks float)."""
    data = Path(path).read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", f"{path} is not a WAV file"
    pos, fmt = 12, None
    while pos + 8 <= len(data):
        tag, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = data[pos + 8 : pos + 8 + size]
        if tag == b"fmt ":
            fmt_tag, channels, _rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            assert channels == 1, f"{path}: {channels} channels, expected mono"
            fmt = WAV_FORMATS[(fmt_tag, bits)]
        elif tag == b"data" and fmt is not None:
            samples = np.frombuffer(body, dtype=fmt)
            return samples.astype(np.float32) / (32768.0 if fmt == "<i2" else 1.0)
        pos += 8 + size + (size & 1)  # chunks are padded to even sizes
    raise AssertionError(f"{path}: no data chunk")
