"""The length a WAV file's header declares, read from its RIFF chunks.

FFmpeg's WAV reader caps a stream's duration at what the file holds, so a PCM WAV cut short (a copy or an
upload that stopped) declared only what was left, and the truncation check compared the decoded length with
itself. The `data` chunk's size over the `fmt ` chunk's byte rate is what the writer meant.
"""

from __future__ import annotations

import struct

_LOOKED = 64 * 1024  # the chunks before `data` (fmt, fact, LIST, bext...) fit well within this
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # what streaming writers put while the length is not known yet


def riff_data_seconds(header: bytes) -> float | None:
    """Seconds of audio a RIFF/WAVE header's `data` chunk declares; None when it does not say.

    Args:
        header: The file's first bytes (the chunks up to `data`'s header).

    Returns:
        The data chunk's size divided by the format's byte rate; None for another format, an RF64 file, a
        size left unknown by a streaming writer, or a header this does not reach.
    """
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        return None
    at, byte_rate = 12, 0
    while at + 8 <= len(header):
        name, size = header[at : at + 4], struct.unpack_from("<I", header, at + 4)[0]
        if name == b"fmt " and size >= 16 and at + 24 <= len(header):
            byte_rate = struct.unpack_from("<I", header, at + 16)[0]
        elif name == b"data":
            return size / byte_rate if byte_rate and size not in _UNKNOWN_SIZES else None
        at += 8 + size + (size & 1)  # chunks are padded to an even length
    return None


def wav_declared_seconds(path: str) -> float | None:
    """`riff_data_seconds` of the file at `path`; None when it cannot be read."""
    try:
        with open(path, "rb") as f:
            return riff_data_seconds(f.read(_LOOKED))
    except OSError:
        return None
