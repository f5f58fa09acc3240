"""Decoding a stream packet by packet, repairing what can be repaired instead of failing the whole file.

FFmpeg's decoding loop gives up at the first packet its decoder rejects: one damaged MP3 frame, or junk
after an ADTS stream, would fail a recording of which nearly everything decodes. Here a rejected packet is
left out and made up for with silence of its length (so later words keep their times), and samples that
are not numbers (a float file can hold NaN or infinities, which Whisper cannot take) are set to 0. Each
repair is counted, and becomes one of the file's warnings.

Times are the media's, as a player shows them: an audio stream that starts after the media does (a video
whose sound starts seconds in) gets silence before its first sample, so that chunk times match what an
annotator hears at them (until 2026-12 every time was early by that much).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import av
import numpy as np

# A rejected packet is made up for with at most this much silence (a bit rate broken with the rest would
# otherwise ask for hours of it).
MAX_PACKET_S = 60.0
# Samples beyond this are no longer audio at full scale (1.0) but, most often, integer samples stored in a float
# file unscaled; Whisper invents text for them. 4.0 leaves room for a float master's overs (12 dB).
OVER_FULL_SCALE = 4.0
CHECKED_BLOCK = 65_536  # samples gathered before they are checked for NaN and level (4 s)
MIN_LEAD_S = 0.001  # a later audio start than this is put back as silence (a few samples of rounding are not)
NOTED_LEAD_S = 0.05  # and said in a warning from this much


class Repairs:
    """What decoding repaired (or found far out of range) in one file, counted as it decodes, for its warnings."""

    def __init__(self) -> None:
        self.packets = 0  # packets the decoder rejected, left out
        self.filled = 0.0  # seconds of silence put in place of rejected packets followed by good ones
        self.non_finite = 0  # samples that were NaN or infinite, set to 0
        self.peak = 0.0  # the largest magnitude of a sample, to tell unscaled samples
        self.lead = 0.0  # seconds of silence put before the audio, which starts that far into the media

    def finite(self, samples: np.ndarray) -> np.ndarray:
        """`samples` with NaN and infinite values set to 0 (a float file can hold them; Whisper cannot)."""
        ok = np.isfinite(samples)
        if not ok.all():
            self.non_finite += int(samples.size - np.count_nonzero(ok))
            samples = np.where(ok, samples, np.float32(0.0))
        if samples.size:
            self.peak = max(self.peak, float(np.max(np.abs(samples))))
        return samples

    def notes(self) -> tuple[str, ...]:
        """One warning per kind of repair made."""
        notes = []
        if self.lead >= NOTED_LEAD_S:
            notes.append(
                f"the audio starts {self.lead:.2f} s into the media (after its video, say): silence stands before "
                "it, so that times are those a player shows"
            )
        if self.packets:
            filled = f"; {self.filled:.2f} s of silence stands in their place" if self.filled else ""
            notes.append(f"damaged: {self.packets} packet(s) could not be decoded and were left out{filled}")
        if self.non_finite:
            notes.append(f"damaged: {self.non_finite} sample(s) were not numbers (NaN or infinite) and were set to 0")
        if self.peak > OVER_FULL_SCALE:
            notes.append(
                f"too loud: samples reach {self.peak:.4g}, far above full scale (1.0): integer samples stored "
                "unscaled in a float file? Whisper may invent text for it"
            )
        return tuple(notes)


def decoded_frames(
    container: av.container.InputContainer, stream: av.audio.stream.AudioStream, repairs: Repairs
) -> Iterator[av.AudioFrame | float]:
    """The stream's frames, decoded packet by packet; a float is seconds of silence to put in before a frame.

    FFmpeg's own decoding loop stops at the first packet the decoder rejects (a damaged MP3 frame, junk
    after an ADTS stream), failing the whole file. Here such a packet is left out and counted, and the time
    it held comes back as silence before the next frame that decodes, so that every later word keeps its
    time in the file; rejected packets after the last good frame add nothing.

    The first frame comes after the silence of `Repairs.lead`, when the audio starts after the media.

    Raises:
        av.error.FFmpegError: The first rejection, when no packet decodes at all.
    """
    gap, first_error, decoded = 0.0, None, False
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.error.FFmpegError as e:
            repairs.packets += 1
            first_error = first_error or e
            gap += packet_seconds(packet, stream.bit_rate)
            continue
        for frame in frames:
            if not decoded and (lead := media_lead(container, frame)):
                repairs.lead = lead
                yield lead
            if gap:
                repairs.filled += gap
                yield gap
                gap = 0.0
            decoded = True
            yield frame
    if first_error is not None and not decoded:
        raise first_error


def media_lead(container: av.container.InputContainer, frame: av.AudioFrame) -> float:
    """Seconds from the media's start (its earliest stream's) to the audio's first frame; 0 when none or unknown.

    An AAC stream's priming or a few samples of rounding are not a lead; a timestamp beyond the media's
    duration is broken, not a lead either.
    """
    if container.start_time is None or frame.time is None:
        return 0.0
    lead = frame.time - container.start_time / av.time_base
    duration = container.duration / av.time_base if container.duration else None
    return lead if lead >= MIN_LEAD_S and (duration is None or lead < duration) else 0.0


def packet_seconds(packet: av.Packet, bit_rate: int | None) -> float:
    """How much audio a rejected packet held: its bytes at the stream's bit rate, else the duration it states.

    When an MP3 demuxer meets damaged bytes, it makes them one packet up to the next frame it recognizes, and
    states the duration of one frame for it: 500 damaged bytes of a 24 kbit/s stream held 0.216 s, the packet
    says 0.036 s. Its bytes at the bit rate give the 0.216 s (exact for a constant bit rate, the mean for a
    variable one).
    """
    stated = float(packet.duration * packet.time_base) if packet.duration and packet.time_base is not None else 0.0
    by_size = packet.size * 8 / bit_rate if bit_rate else 0.0
    return min(max(stated, by_size), MAX_PACKET_S)


class Checked:
    """Hands samples on to `keep`, checked by `repairs`, in blocks of CHECKED_BLOCK samples or more.

    A frame holds a few hundred samples: a check per frame cost a seventh of an MP3's decoding time.
    """

    def __init__(self, keep: Callable[[np.ndarray], None], repairs: Repairs) -> None:
        self.keep, self.repairs = keep, repairs
        self.parts: list[np.ndarray] = []
        self.size = 0

    def __call__(self, samples: np.ndarray) -> None:
        """Takes the next samples."""
        self.parts.append(samples)
        self.size += samples.shape[0]
        if self.size >= CHECKED_BLOCK:
            self.flush()

    def flush(self) -> None:
        """Checks and hands on what is gathered."""
        if self.parts:
            block = self.parts[0] if len(self.parts) == 1 else np.concatenate(self.parts)
            self.parts, self.size = [], 0
            self.keep(self.repairs.finite(block))
