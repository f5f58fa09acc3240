"""Regenerates tests/data/pauses.opus and pauses.json: English speech with known silences.

Needs espeak-ng and sox on PATH (Debian: `apt-get install espeak-ng sox`) and the
project's venv (numpy, PyAV). Run from the repository root:

    .venv/bin/python tests/data/make_pauses.py               # audio and pauses.json
    .venv/bin/python tests/data/make_pauses.py --transcript  # pauses.tiny_en.json only

`--transcript` records what `bundled:tiny.en` (greedy, word timestamps) makes of the
audio, so that chunking tests run on a real Whisper transcript without the model.

Each sentence is spoken by espeak-ng, resampled to 16 kHz mono by sox, trimmed to
its speech (first and last 10 ms window above -40 dBFS), and the sentences are
joined with exact silences. `pauses.json` records every sentence's speech interval,
every pause between them, the reference text and the duration, all in seconds.
The result is committed: tests never need espeak-ng or sox.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

RATE = 16_000  # Hz
WINDOW = 160  # samples: 10 ms
THRESHOLD = 0.01  # RMS, about -40 dBFS
LEAD = 0.8  # seconds of silence before the first sentence
TAIL = 1.2  # seconds of silence after the last one
HERE = Path(__file__).resolve().parent

SENTENCES = (
    "The morning train was late again, so we walked to the old market.",
    "She bought fresh bread and a small jar of honey.",
    "Later that day, the wind grew stronger over the hills.",
    "Can you hear the birds singing near the river?",
    "My brother fixed the kitchen door with a new hinge.",
    "We waited for an hour, but nobody came to the meeting.",
    "The library closes early on Sundays.",
    "Please put the blue box on the top shelf.",
    "A quiet voice called from the garden.",
    "They painted the fence white before the summer started.",
    "Where did you leave the keys to the car?",
    "The children laughed at the funny little dog.",
    "It rained all night, and the road was covered in mud.",
    "He reads the newspaper every morning with a cup of tea.",
    "Our teacher explained the lesson very slowly.",
    "The museum has a famous painting of a ship at sea.",
    "I forgot to call my sister on her birthday.",
    "The cat slept in the warm sun by the window.",
    "We need more chairs for the guests tonight.",
    "The bridge was closed because of the storm.",
    "Send me a letter when you arrive in the city.",
    "The doctor told him to rest for a few days.",
    "Green apples are my favourite fruit.",
    "The concert ended with a long and loud applause.",
    "Thank you all for listening to this recording.",
)
# Pause after sentence i (seconds): a fixed mix of short and long silences.
PAUSES = (
    0.5, 2.5, 1.0, 8.0, 0.5, 4.0, 1.0, 0.5, 2.5, 1.0, 4.0, 0.5,
    8.0, 1.0, 2.5, 0.5, 4.0, 1.0, 0.5, 2.5, 8.0, 1.0, 0.5, 4.0,
)  # fmt: skip


def speak(text: str, workdir: Path, index: int) -> np.ndarray:
    """Returns one sentence as 16 kHz mono float32, trimmed to its speech."""
    raw, resampled = workdir / f"{index}.wav", workdir / f"{index}-16k.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), text], check=True)
    subprocess.run(["sox", "-R", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(resampled)], check=True)
    with wave.open(str(resampled)) as f:
        samples = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").astype(np.float32) / 32768
    return trim(samples)


def trim(samples: np.ndarray) -> np.ndarray:
    """Cuts leading and trailing silence at 10 ms resolution."""
    n = len(samples) // WINDOW
    rms = np.sqrt(np.mean(samples[: n * WINDOW].reshape(n, WINDOW) ** 2, axis=1))
    loud = np.flatnonzero(rms > THRESHOLD)
    return samples[loud[0] * WINDOW : (loud[-1] + 1) * WINDOW]


def encode_opus(samples: np.ndarray, path: Path, bit_rate: int = 24_000) -> None:
    """Writes Opus in Ogg (small enough to commit): 1-D samples as mono, (2, n) planes as stereo."""
    planes = samples.reshape(1, -1) if samples.ndim == 1 else samples
    layout = "mono" if planes.shape[0] == 1 else "stereo"
    pcm = (np.clip(planes, -1, 1) * 32767).astype("<i2")
    with av.open(str(path), "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=RATE, layout=layout)
        stream.bit_rate = bit_rate
        frame = av.AudioFrame.from_ndarray(pcm, format="s16p", layout=layout)
        frame.sample_rate = RATE
        frame.pts, frame.time_base = 0, Fraction(1, RATE)
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def main() -> None:
    """Builds the audio and its description."""
    assert len(PAUSES) == len(SENTENCES) - 1
    pieces, speech, pauses = [np.zeros(int(LEAD * RATE), np.float32)], [], []
    t = LEAD
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(SENTENCES):
            voice = speak(text, Path(tmp), i)
            speech.append({"start": round(t, 4), "end": round(t + len(voice) / RATE, 4), "text": text})
            pieces.append(voice)
            t += len(voice) / RATE
            gap = PAUSES[i] if i < len(PAUSES) else TAIL
            if i < len(PAUSES):
                pauses.append({"start": round(t, 4), "end": round(t + gap, 4), "length": gap})
            pieces.append(np.zeros(int(round(gap * RATE)), np.float32))
            t += int(round(gap * RATE)) / RATE
    audio = np.concatenate(pieces)
    encode_opus(audio, HERE / "pauses.opus")
    description = {
        "audio": "pauses.opus",
        "generator": "tests/data/make_pauses.py (espeak-ng -v en-us -s 150, sox)",
        "duration": round(len(audio) / RATE, 4),
        "text": " ".join(SENTENCES),
        "speech": speech,
        "pauses": pauses,
    }
    (HERE / "pauses.json").write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")


def record_transcript() -> None:
    """Writes pauses.tiny_en.json: the real tiny.en transcript the fast tests chunk."""
    sys.path.insert(0, str(HERE.parent.parent))
    from preannotate.asr import prepare
    from preannotate.asr.openai_whisper.engine import transcribe_audio
    from preannotate.asr.openai_whisper.load import load_model
    from preannotate.audio import decode_audio
    from preannotate.options import ModelOptions, TranscribeOptions

    model = load_model(prepare(ModelOptions(name="bundled:tiny.en", device="cpu"))).model
    options = TranscribeOptions(language="en", temperature=(0.0,), fp16=False)  # as tests/test_chunking.py
    transcript = transcribe_audio(model, decode_audio(HERE / "pauses.opus").samples, options)
    (HERE / "pauses.tiny_en.json").write_text(json.dumps(transcript.to_dict(), indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if "--transcript" in sys.argv[1:]:
        record_transcript()
    else:
        main()
