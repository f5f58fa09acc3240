"""Speech with known text for the review model: synthetic voices, speeds, pitches, noise and phone-band audio.

Every file is planned from a seed (`plan_files`), then spoken (`synthesize`): the same seed
gives the same texts, voices and noise. Sentence spans are recorded, so a word Whisper
drops can be charged to the chunk nearest to where it was said.
Needs `espeak-ng` and `sox` on PATH (Debian: apt-get install espeak-ng sox), and for the `flite:` and
`festival:` voices flite and festival with its voices (apt-get install flite festival festvox-kallpc16k
festvox-kdlpc16k festvox-us-slt-hts).
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import wave
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from review_corpus import Pool, sentence  # noqa: E402

RATE = 16_000
VERSION = 2  # in each manifest entry; a stored file of another version is spoken again (2: repeatable dither)
GAPS = (0.15, 0.3, 0.5, 0.8, 1.2, 2.0, 3.0)  # seconds between sentences: some join chunks, some split them
READING_GAPS = (0.15, 0.3, 0.4, 0.6, 0.8)  # between the sentences of a paragraph read aloud


@dataclass(frozen=True)
class Style:
    """How hard a split's files are: share of template sentences, noise, phone band and speeds."""

    template_share: float = 0.35
    snrs: tuple[float | None, ...] = (None, None, None, None, 30.0, 20.0, 12.0)  # dB of white noise; None: clean
    telephone: float = 0.1
    speeds: tuple[int, int] = (130, 185)  # words per minute


HARD = Style()
# Ordinary speech: mostly plain sentences, clean, at a usual pace; keeps the share of chunks without errors
# near what real recordings give (in HARD most chunks hold a name and an error).
EASY = Style(template_share=0.1, snrs=(None, None, None, 30.0), telephone=0.0, speeds=(140, 175))
# Clean, plain sentences with a few names: the bulk of the training data, like ordinary recordings.
PLAIN = Style(template_share=0.15, snrs=(None, None, 30.0), telephone=0.0, speeds=(145, 180))


@dataclass(frozen=True)
class FileSpec:
    """How one file is made."""

    name: str
    voice: str
    speed: int
    pitch: int
    snr: float | None
    telephone: bool
    lead: float
    sentences: tuple[str, ...]
    gaps: tuple[float, ...]
    seed: int


def plan_files(
    pool: Pool, voices: tuple[str, ...], prefix: str, count: int, seed: int, style: Style = HARD
) -> list[FileSpec]:
    """Draws `count` file specs from the pool with voices `language+variant`, deterministically."""
    rng = random.Random(seed)
    specs = []
    for i in range(count):
        n = rng.randint(5, 14)
        sentences = lambda n=n: _distinct(pool, rng, n, style.template_share)  # noqa: E731
        specs.append(_spec(rng, f"{prefix}_{i:03d}", voices, style, seed * 1000 + i, sentences, GAPS))
    return specs


def plan_stories(
    stories: tuple[tuple[str, ...], ...], voices: tuple[str, ...], prefix: str, count: int, seed: int, style: Style
) -> list[FileSpec]:
    """Draws `count` file specs of connected speech: paragraph i of `stories` (round robin), read in order."""
    rng = random.Random(seed)
    return [
        _spec(
            rng,
            f"{prefix}_{i:03d}",
            voices,
            style,
            seed * 1000 + i,
            lambda i=i: stories[i % len(stories)],
            READING_GAPS,
        )  # fmt: skip
        for i in range(count)
    ]


def _spec(
    rng: random.Random, name: str, voices: tuple[str, ...], style: Style, seed: int,
    sentences: Callable[[], tuple[str, ...]], gaps: tuple[float, ...],
) -> FileSpec:  # fmt: skip
    """One file's spec; the draws' order (voice, speed, pitch, noise, band, lead, sentences, gaps) fixes the audio."""
    voice, speed, pitch = rng.choice(voices), rng.randint(*style.speeds), rng.randint(25, 75)
    snr, telephone, lead = rng.choice(style.snrs), rng.random() < style.telephone, round(rng.uniform(0.0, 1.5), 2)
    said = sentences()
    between = tuple(rng.choice(gaps) for _ in range(len(said) - 1))
    return FileSpec(name, voice, speed, pitch, snr, telephone, lead, said, between, seed)


def _distinct(pool: Pool, rng: random.Random, n: int, template_share: float) -> tuple[str, ...]:
    """Draws n different sentences (a repeated sentence would let Whisper copy its previous text)."""
    sentences: list[str] = []
    while len(sentences) < n:
        text = sentence(pool, rng, template_share)
        if text not in sentences:
            sentences.append(text)
    return tuple(sentences)


def synthesize(spec: FileSpec, folder: Path) -> dict:
    """Writes `<folder>/<name>.wav` and returns its manifest entry with each sentence's span."""
    pieces = [np.zeros(int(spec.lead * RATE), dtype=np.float32)]
    spans, position = [], pieces[0].size
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(spec.sentences):
            speech = _speak(text, spec, Path(tmp))
            spans.append([text, round(position / RATE, 3), round((position + speech.size) / RATE, 3)])
            gap = np.zeros(int((spec.gaps[i] if i < len(spec.gaps) else 0.5) * RATE), dtype=np.float32)
            pieces += [speech, gap]
            position += speech.size + gap.size
    samples = _degrade(np.concatenate(pieces), spec)
    write_wav(folder / f"{spec.name}.wav", samples)
    duration = round(samples.size / RATE, 3)
    return {**asdict(spec), "version": VERSION, "file": f"{spec.name}.wav", "duration": duration, "spans": spans}


def _speak(text: str, spec: FileSpec, tmp: Path) -> np.ndarray:
    raw, resampled = tmp / "raw.wav", tmp / "16k.wav"
    subprocess.run(speak_command(text, spec, raw, tmp), check=True)
    resample = ["sox", "-R", "-V1", "-v", "0.9", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(resampled)]
    # -v 0.9: espeak-ng peaks clip when resampled; -R: the same dither every time (the same audio each build)
    subprocess.run(resample, check=True)
    samples = read_wav(resampled)
    loud = np.flatnonzero(np.abs(samples) > 0.01)  # espeak-ng pads with silence: the span is the speech
    return samples[loud[0] : loud[-1] + 1] if loud.size else samples


def speak_command(text: str, spec: FileSpec, raw: Path, tmp: Path) -> list[str]:
    """The synthesizer's command line for one sentence: espeak-ng, or `flite:<voice>` / `festival:<voice>`.

    flite and festival take the speed as a duration stretch (espeak-ng's 165 words per minute = 1.0) and
    keep their voice's own pitch; festival's HTS voices ignore the stretch.
    """
    engine, _, voice = spec.voice.rpartition(":")
    stretch = f"{165 / spec.speed:.2f}"
    if engine == "flite":
        return ["flite", "-voice", voice, "--setf", f"duration_stretch={stretch}", "-t", text, "-o", str(raw)]
    if engine == "festival":
        said = tmp / "text.txt"  # a file, so that quotes in the text need no Scheme escaping
        said.write_text(text + "\n", encoding="utf-8")
        stretch_eval = f"(Parameter.set 'Duration_Stretch {stretch})"
        return ["text2wave", "-eval", f"(voice_{voice})", "-eval", stretch_eval, str(said), "-o", str(raw)]
    return ["espeak-ng", "-v", voice, "-s", str(spec.speed), "-p", str(spec.pitch), "-w", str(raw), text]


def _degrade(samples: np.ndarray, spec: FileSpec) -> np.ndarray:
    """Phone-band filtering and white noise at the spec's SNR (relative to the speech's power)."""
    if spec.telephone:
        spectrum = np.fft.rfft(samples)
        freqs = np.fft.rfftfreq(samples.size, 1 / RATE)
        spectrum[(freqs < 300) | (freqs > 3400)] = 0
        samples = np.fft.irfft(spectrum, samples.size).astype(np.float32)
    if spec.snr is not None:
        speech = samples[np.abs(samples) > 0.01]
        power = float(np.mean(speech**2)) if speech.size else 1e-4
        noise = np.random.default_rng(spec.seed).normal(0.0, np.sqrt(power / 10 ** (spec.snr / 10)), samples.size)
        samples = samples + noise.astype(np.float32)
    return samples


def read_wav(path: Path) -> np.ndarray:
    """Reads 16-bit mono PCM as float32 in [-1, 1]."""
    with wave.open(str(path), "rb") as f:
        return np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def write_wav(path: Path, samples: np.ndarray) -> None:
    """Writes 16 kHz mono PCM16."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(RATE)
        f.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
