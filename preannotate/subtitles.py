"""SubRip and WebVTT subtitles of one item's chunks, optionally with doubtful words marked."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from .chunking import Chunk

_ARROW = re.compile(r"-{2,}>")  # any run of dashes a SubRip reader may take for the timing arrow

DOUBT_MARK = "[{}?]"  # brackets and a question mark read as "unsure" and survive both formats


def srt_text(chunks: Sequence[Chunk], mark_doubtful: bool = False) -> str:
    """SubRip subtitles: numbered cues from 1, `HH:MM:SS,mmm` times; doubtful words as `[word?]` if asked.

    A chunk with a speaker has `[speaker] ` before its text.
    """
    return "".join(
        f"{n}\n{_clock(c.start, ',')} --> {_clock(c.end, ',', after=c.start)}\n"
        f"{_no_arrow(_who(c) + _cue(c, mark_doubtful))}\n\n"
        for n, c in enumerate(chunks, start=1)
    )


def vtt_text(chunks: Sequence[Chunk], mark_doubtful: bool = False) -> str:
    """WebVTT subtitles: `HH:MM:SS.mmm` times, cue text with `&`, `<` and `>` escaped; speakers as `<v name>`."""
    cues = "".join(
        f"{_clock(c.start, '.')} --> {_clock(c.end, '.', after=c.start)}\n"
        f"{_voice(c)}{_escape_vtt(_cue(c, mark_doubtful))}\n\n"
        for c in chunks
    )
    return "WEBVTT\n\n" + cues


def marked_text(chunk: Chunk, mark: str = DOUBT_MARK) -> str:
    """The chunk's text with each doubtful word wrapped in `mark`.

    Words are found in the text in order (the text is the words joined, but a segment whose
    alignment failed adds text without words), so a word that appears twice is marked where
    the model put it, not at its first occurrence.
    """
    doubtful = {index for index, _, _ in chunk.doubtful_words}
    text, out, pos = chunk.text, [], 0
    for index, word in enumerate(chunk.words):
        token = word.word.strip()
        found = text.find(token, pos) if token else -1
        if found < 0:
            continue
        out.append(text[pos:found])
        out.append(mark.format(token) if index in doubtful else token)
        pos = found + len(token)
    return "".join(out) + text[pos:]


def _who(chunk: Chunk) -> str:
    return "" if chunk.speaker is None else f"[{_one_line(chunk.speaker)}] "


def _voice(chunk: Chunk) -> str:
    # A voice tag's annotation ends at `>`: escaped like cue text.
    return "" if chunk.speaker is None else f"<v {_escape_vtt(_one_line(chunk.speaker))}>"


def _cue(chunk: Chunk, mark_doubtful: bool) -> str:
    return _one_line(marked_text(chunk) if mark_doubtful else chunk.text)


def _milliseconds(seconds: float) -> int:
    return max(0, int(math.floor(seconds * 1000 + 0.5)))  # neither format has a time before the start


def _clock(seconds: float, separator: str, after: float | None = None) -> str:
    ms = _milliseconds(seconds)
    if after is not None:
        ms = max(ms, _milliseconds(after) + 1)  # a cue never ends where it starts
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def _one_line(text: str) -> str:
    # A blank line ends a cue in both formats, so line breaks inside a text become spaces.
    return " ".join(text.split())


def _no_arrow(text: str) -> str:
    # SubRip has no escapes, and readers take a line holding `-->` for a cue's timing: as Whisper's own writer does,
    # but a whole run of dashes at once (one pass of `replace` makes `--->` into `-->`).
    return _ARROW.sub("->", text)


def _escape_vtt(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
