"""Channels as speakers: each channel of a multi-channel recording (a call) decoded on its own at 16 kHz."""

from __future__ import annotations

import logging
from pathlib import Path

import av
import numpy as np

from preannotate.audio import SAMPLE_RATE, check_readable
from preannotate.errors import AudioError, ConfigError

log = logging.getLogger(__name__)


def decode_channels(path: str | Path) -> list[np.ndarray]:
    """Decodes every channel of the first audio stream to 16 kHz float32, one array per channel.

    A mono file gives one array (and a warning: channels mode then finds one speaker).

    Raises:
        AudioError: The file is missing, unreadable, not media, or has no audio stream.
    """
    path = Path(path)
    check_readable(path)
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError(f"{path}: no audio stream (a video without sound?)")
            channels = _decode(container.streams.audio[0], container)
    except AudioError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as e:
        raise AudioError(f"{path}: cannot decode audio ({e})") from e
    if len(channels) == 1:
        log.warning("%s: mono file in speakers mode 'channels': all its words go to one speaker", path)
    return channels


def _decode(stream: av.audio.stream.AudioStream, container: av.container.InputContainer) -> list[np.ndarray]:
    """Resamples to interleaved float at 16 kHz keeping the channel layout, then splits the channels.

    Interleaved, not planar: PyAV 18 crashes (SIGSEGV) resampling 8-channel audio to planar float.
    """
    count = stream.codec_context.channels
    resampler = av.AudioResampler(format="flt", layout=stream.codec_context.layout, rate=SAMPLE_RATE)
    parts: list[np.ndarray] = []
    for frame in container.decode(stream):
        frame.pts = None  # as preannotate.audio: ignore broken timestamps
        parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
    parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    interleaved = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    frames = interleaved[: len(interleaved) - len(interleaved) % count].reshape(-1, count)
    return [np.ascontiguousarray(frames[:, i], dtype=np.float32) for i in range(count)]


def channel_names(count: int, names: tuple[str, ...] | list[str] = ()) -> list[str]:
    """The speaker name of each channel: the given names in order, then ch<N> for the rest.

    Raises:
        ConfigError: Two channels would get the same name.
    """
    chosen = [names[i] if i < len(names) else f"ch{i + 1}" for i in range(count)]
    if len(set(chosen)) != len(chosen):
        raise ConfigError(f"speakers.channel_names gives two channels the same name: {chosen}")
    return chosen
