"""Long audio cut at its quietest moments into parts that several model workers transcribe at once.

Sequential Whisper decoding of one file uses one worker however many cores there are, and on a CPU a
second thread barely speeds up beam search; so a file many windows long is cut into parts of about
`PART_S`, each cut at the quietest half second near its target, and the parts are transcribed like
separate files and joined. Each part starts without the previous part's text, as every VAD-chunked
pipeline (WhisperX, faster-whisper's batched one) does; a cut falls in a pause, never inside a word.
The cuts depend on the audio alone, never on the number of workers, so a transcript is the same on
every machine. It costs accuracy (on the benchmark's hour of speech, tiny.en: WER 6.9% whole, 8.2% in
parts, at half the wall time on 2 cores), so the engines' options turn it on, not the defaults.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..audio import SAMPLE_RATE
from ..silence import FRAME  # the 30-ms frames silence skipping measures

PART_S = 120.0  # about four 30-s windows: eight parts in 15 minutes of speech, few enough cuts
SEARCH_S = 15.0  # a cut is the quietest moment within this of its target (a quarter part at most)
QUIET_FRAMES = 16  # the span whose total energy is minimized: about half a second


def part_count(seconds: float, part_s: float = PART_S) -> int:
    """How many parts audio of `seconds` is cut into: 1 (kept whole) up to twice `part_s`, else an even number.

    An even count keeps two or four workers equally busy to the end (seven parts on two workers take as
    long as eight); it never depends on the workers, so that the transcript does not either.
    """
    if part_s <= 0 or seconds < 2 * part_s:
        return 1
    parts = int(seconds // part_s)
    return parts + parts % 2


def transcriptions_at_once(durations: Iterable[float], part_s: float = PART_S) -> int:
    """The most transcriptions a run of files of these durations can keep busy (long files count per part)."""
    return sum(part_count(d, part_s) for d in durations)


def cut_points(samples: np.ndarray, rate: int = SAMPLE_RATE, part_s: float = PART_S) -> list[int]:
    """Where to cut audio into `part_count` parts: the middle of the quietest half second near each target.

    Args:
        samples: Mono samples.
        rate: Samples per second.
        part_s: The parts' target length in seconds.

    Returns:
        The cut positions in samples, increasing, empty when the audio stays whole.
    """
    parts = part_count(samples.shape[0] / rate, part_s)
    if parts < 2:
        return []
    frames = samples[: samples.shape[0] // FRAME * FRAME].reshape(-1, FRAME)
    energy = np.einsum("ij,ij->i", frames, frames, dtype=np.float64)
    quiet = np.convolve(energy, np.ones(QUIET_FRAMES), mode="valid")  # quiet[i]: frames i .. i+QUIET_FRAMES-1
    search = min(round(SEARCH_S * rate / FRAME), frames.shape[0] // (4 * parts))  # neighbours' ranges never meet
    cuts = []
    for k in range(1, parts):
        target = round(k * frames.shape[0] / parts)
        low, high = max(target - search, 0), min(target + search, quiet.shape[0] - 1)
        best = low + int(np.argmin(quiet[low : high + 1]))
        cuts.append((best + QUIET_FRAMES // 2) * FRAME)
    return cuts


def shift_segments(segments: Sequence[dict[str, Any]], seconds: float) -> list[dict[str, Any]]:
    """Whisper-shaped segment dicts (`start`, `end`, `seek`, `words`) moved `seconds` later, as new dicts."""
    frames = round(seconds * 100)  # `seek` counts 10-ms mel frames

    def moved(d: dict[str, Any]) -> dict[str, Any]:
        return {**d, "start": round(d["start"] + seconds, 3), "end": round(d["end"] + seconds, 3)}

    shifted = []
    for segment in segments:
        segment = moved(segment)
        if "seek" in segment:
            segment["seek"] += frames
        if segment.get("words"):
            segment["words"] = [moved(w) for w in segment["words"]]
        shifted.append(segment)
    return shifted
