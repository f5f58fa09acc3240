"""Regenerates tests/data/conversation.opus, call.opus and conversation.json: two voices taking turns.

Speaker A is the espeak-ng voice of tests/data/pauses.opus (its first four sentences, cut at the speech
intervals pauses.json records); speaker B is the recorded voice of samples/en (pytest-audioeval's clips).
Nothing new is synthesized, so only the project's venv is needed. Run from the repository root:

    .venv/bin/python tests/data/make_conversation.py

- conversation.opus (mono): A, B, A, B, A, B, A with 0.6 s between turns.
- call.opus (stereo): the same turns, A alone on the left channel and B alone on the right, except that
  B's second turn starts 0.7 s before A's second turn ends (overlapping speech, as in real calls).
- conversation.json: every turn of both files (start, end, speaker, text), in seconds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RATE = 16_000
GAP = 0.6  # seconds between turns
LEAD = 0.5  # seconds of silence at both ends
OVERLAP = 0.7  # seconds: B's second turn in the call starts this much before A's second turn ends
B_CLIPS = ("quick_brown_fox", "counting", "hello_world")


def voices() -> list[tuple[str, np.ndarray, str]]:
    """The turns in order: (speaker, samples, text)."""
    sys.path.insert(0, str(ROOT))
    from preannotate.audio import decode_audio

    pauses = json.loads((HERE / "pauses.json").read_text(encoding="utf-8"))
    audio = decode_audio(HERE / "pauses.opus").samples
    a = [(audio[round(s["start"] * RATE) : round(s["end"] * RATE)], s["text"]) for s in pauses["speech"][:4]]
    b = [(decode_audio(ROOT / "samples/en" / f"{n}.wav").samples, _text(n)) for n in B_CLIPS]
    turns = []
    for i, (samples, text) in enumerate(a):
        turns.append(("A", samples, text))
        if i < len(b):
            turns.append(("B", *b[i]))
    return turns


def _text(name: str) -> str:
    return (ROOT / "samples/en" / f"{name}.txt").read_text(encoding="utf-8").strip()


def lay_out(turns: list[tuple[str, np.ndarray, str]], overlap: bool) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Places the turns on one timeline; returns one track per speaker and the turn list."""
    starts, t = [], LEAD
    for i, (_, samples, _) in enumerate(turns):
        if overlap and i == 3:  # B's second turn
            t -= GAP + OVERLAP
        starts.append(t)
        t += len(samples) / RATE + GAP
    length = round((t - GAP + LEAD) * RATE)
    tracks = {s: np.zeros(length, np.float32) for s in ("A", "B")}
    listed = []
    for start, (speaker, samples, text) in zip(starts, turns):
        first = round(start * RATE)
        tracks[speaker][first : first + len(samples)] += samples
        end = (first + len(samples)) / RATE
        listed.append({"start": round(first / RATE, 4), "end": round(end, 4), "speaker": speaker, "text": text})
    return tracks, listed


def main() -> None:
    """Builds both files and their description."""
    sys.path.insert(0, str(HERE))
    from make_pauses import encode_opus

    turns = voices()
    mono, mono_turns = lay_out(turns, overlap=False)
    encode_opus(mono["A"] + mono["B"], HERE / "conversation.opus", 32_000)
    call, call_turns = lay_out(turns, overlap=True)
    encode_opus(np.stack([call["A"], call["B"]]), HERE / "call.opus", 64_000)
    description = {
        "generator": "tests/data/make_conversation.py (pauses.opus as speaker A, samples/en as speaker B)",
        "conversation": {"audio": "conversation.opus", "duration": len(mono["A"]) / RATE, "turns": mono_turns},
        "call": {"audio": "call.opus", "channels": ["A", "B"], "duration": len(call["A"]) / RATE, "turns": call_turns},
    }
    (HERE / "conversation.json").write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
