"""Cutting segments out of decoded audio, exactly to the sample, and writing them as WAV or FLAC."""

from __future__ import annotations

import wave
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..audio import DecodedAudio
from ..errors import CorrectionError
from ..speakers.channels import channel_names
from ..storage import raise_if_disk_full

US_PER_SECOND = 1_000_000
BLOCK = 1 << 16  # samples per resampler call: bounded memory for long files


@dataclass(frozen=True)
class ItemAudio:
    """An item's audio at the export's rate: all channels mixed, and in channels mode each one by its speaker.

    Attributes:
        mixed: The mono mix (what the run transcribed, unless in channels mode).
        duration_us: Its duration in microseconds, at the decoding rate.
        by_speaker: Speaker -> their channel, in a run with `speakers.mode: channels` (the words of a channel
            were transcribed from it alone); empty otherwise, and for a mono file.
    """

    mixed: np.ndarray
    duration_us: int
    by_speaker: dict[str, np.ndarray]

    def of(self, speaker: str | None) -> np.ndarray:
        """The samples a speaker's clip is cut from: their channel, else the mix."""
        return self.by_speaker.get(speaker or "", self.mixed)

    def mixed_notes(self, speakers: Iterable[str | None]) -> list[str]:
        """A note when some events' speakers are no channel's, so that their clips mix every channel."""
        others = sorted({s or "(none)" for s in speakers if (s or "") not in self.by_speaker})
        if not others or not self.by_speaker:
            return []
        return [
            f"speaker(s) {', '.join(others)} name no channel of the run ({', '.join(self.by_speaker)}): "
            "their clips are cut from all channels mixed"
        ]


def item_audio(
    decoded: Sequence[DecodedAudio], rate_in: int, rate_out: int, channels: tuple[str, ...] | None
) -> ItemAudio:
    """An item's decoded audio (one array, or one per channel) resampled for the export.

    Args:
        decoded: The mono decode, or each channel's in channels mode.
        rate_in: Their sample rate.
        rate_out: The export's.
        channels: `speakers.channel_names` in channels mode (the others are `ch<n>`); None otherwise.
    """
    each = [resample(d.samples, rate_in, rate_out) for d in decoded]
    duration_us = len(decoded[0].samples) * US_PER_SECOND // rate_in
    if channels is None or len(each) < 2:
        return ItemAudio(each[0], duration_us, {})
    length = min(len(c) for c in each)
    each = [c[:length] for c in each]
    mixed = np.mean(each, axis=0).astype(np.float32)
    return ItemAudio(mixed, duration_us, dict(zip(channel_names(len(each), channels), each, strict=True)))


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
