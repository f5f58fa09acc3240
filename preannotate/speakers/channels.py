"""Channels as speakers: each channel of a multi-channel recording (a call) decoded on its own at 16 kHz.

A file of more than MAX_CHANNELS channels is refused (an AudioError, so that file fails alone): each
channel is transcribed in full, so a 32-track session would cost 32 transcriptions, almost always by
mistake. Eight covers stereo calls, conference bridges that record one line per participant, and 7.1.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import IO

import av
import numpy as np

from preannotate.audio import SAMPLE_RATE, DecodedAudio, check_readable, declared_duration, open_audio
from preannotate.audio_frames import Repairs, decoded_frames
from preannotate.cloud import ObjectUrl, open_object
from preannotate.errors import AudioError, ConfigError

log = logging.getLogger(__name__)
MAX_CHANNELS = 8


def decode_channels(path: str | Path | ObjectUrl) -> list[np.ndarray]:
    """Decodes every channel of the first audio stream to 16 kHz float32, one array per channel.

    A mono file gives one array (and a warning: channels mode then finds one speaker).

    Raises:
        AudioError: The file is missing, unreadable, not media, has no audio stream, or has more
            than MAX_CHANNELS channels.
    """
    return [channel.samples for channel in decode_channel_audio(path)]


def decode_channel_audio(path: str | Path | ObjectUrl) -> list[DecodedAudio]:
    """As `decode_channels`, each channel with the duration the file declares (to tell a truncated file).

    Args:
        path: A media file, or a listed bucket object (`preannotate.cloud.ObjectUrl`), which is streamed.
    """
    repairs = Repairs()
    if isinstance(path, ObjectUrl):
        with open_object(path) as stream:
            channels, declared = _decode_source(stream, str(path), repairs)
    else:
        path = Path(path)
        check_readable(path)
        channels, declared = _decode_source(str(path), str(path), repairs)
    if len(channels) == 1:
        log.warning("%s: mono file in speakers mode 'channels': all its words go to one speaker", path)
    return [DecodedAudio(samples, declared, None, repairs.notes()) for samples in channels]


def _decode_source(source: str | IO[bytes], name: str, repairs: Repairs) -> tuple[list[np.ndarray], float | None]:
    with open_audio(source, name) as container:
        stream = container.streams.audio[0]
        count = stream.codec_context.channels
        if count > MAX_CHANNELS:
            raise AudioError(
                f"{name}: {count} channels; speakers.mode channels transcribes at most {MAX_CHANNELS} "
                "(one speaker each): mix it down or use speakers.mode diarize"
            )
        return _decode(stream, container, repairs), declared_duration(container)


def _decode(
    stream: av.audio.stream.AudioStream, container: av.container.InputContainer, repairs: Repairs
) -> list[np.ndarray]:
    """Resamples to interleaved float at 16 kHz keeping the channel layout, then splits the channels.

    Interleaved, not planar: PyAV 18 crashes (SIGSEGV) resampling 8-channel audio to planar float.
    Damaged packets and samples are repaired as `preannotate.audio` does.
    """
    count = stream.codec_context.channels
    resampler = av.AudioResampler(format="flt", layout=stream.codec_context.layout, rate=SAMPLE_RATE)
    parts: list[np.ndarray] = []
    for frame in decoded_frames(container, stream, repairs):
        if isinstance(frame, float):  # what the resampler holds goes first, then the silence
            parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
            resampler = av.AudioResampler(format="flt", layout=stream.codec_context.layout, rate=SAMPLE_RATE)
            parts.append(np.zeros(round(frame * SAMPLE_RATE) * count, np.float32))
            continue
        frame.pts = None  # as preannotate.audio: ignore broken timestamps
        parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
    parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    interleaved = repairs.finite(np.concatenate(parts)) if parts else np.zeros(0, np.float32)
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
