"""Builds the benchmark's speech set: the English samples, tests/data/pauses.opus and espeak-ng speech.

Every file comes with its reference text. espeak-ng (with sox to resample) speaks the texts below
with several voices and speeds, joined with known pauses; one file is long (several 30-s windows and
pauses up to 10 s). `build_long_file` repeats the whole set, with silences, into a one-hour file.
Needs `espeak-ng` and `sox` on PATH (Debian: apt-get install espeak-ng sox).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

from preannotate.audio import decode_audio

ROOT = Path(__file__).resolve().parent.parent
RATE = 16_000
VERSION = 2  # bump when the set changes: a cached set of another version is rebuilt

WEATHER = (
    "Good morning, here is the weather for the coming week.",
    "Clouds will gather over the coast early on Monday.",
    "Light rain is expected in the afternoon, mostly in the north.",
    "The wind will turn to the west and grow stronger at night.",
    "Tuesday brings clear skies and a cold start to the day.",
    "Farmers should protect young plants from the morning frost.",
    "By Wednesday the temperature rises again across the valley.",
    "Thunder storms may reach the mountains late on Thursday.",
    "The weekend looks dry and warm, with long sunny spells.",
    "That was the forecast, and have a pleasant day.",
)
KITCHEN = (
    "Start by washing the vegetables in cold water.",
    "Cut the onions into thin slices and set them aside.",
    "Heat a little oil in a large pan over a medium flame.",
    "Add the onions and stir them until they turn golden.",
    "Now put in the carrots, the beans and a pinch of salt.",
    "Pour in the stock and let everything simmer slowly.",
    "While the soup cooks, bake the bread in a hot oven.",
    "Taste the soup and add pepper if it needs more flavour.",
    "Serve it in warm bowls with a spoon of fresh cream.",
    "Clean the kitchen before your guests arrive.",
)
TRAVEL = (
    "We left the harbour before sunrise on a small boat.",
    "The sea was calm and the air smelled of salt and fish.",
    "After two hours we saw the island rising from the mist.",
    "A narrow path led from the beach up to the village.",
    "The people there welcomed us with bread and cheese.",
    "In the evening we walked along the cliffs to the lighthouse.",
    "The keeper showed us the great lamp and its mirrors.",
    "From the top we could see the lights of the mainland.",
    "We slept in a simple room above the village shop.",
    "The next morning the boat carried us safely home.",
)
MEETING = (
    "The meeting opened with a short report from the chair.",
    "Sales in the spring were better than the team had hoped.",
    "The new office will be ready at the end of the summer.",
    "Several members asked for more time to review the budget.",
    "The group agreed to hire two engineers for the project.",
    "Training for the new software starts next month.",
    "Questions about travel costs should go to the finance team.",
    "The chair thanked everyone for their careful work.",
    "The next meeting will take place in the large hall.",
    "The meeting closed shortly before noon.",
)
LECTURE = (
    "Welcome to this short lecture about the history of writing.",
    "Long before books, people drew pictures on the walls of caves.",
    "Those pictures told stories of animals, hunting and the seasons.",
    "Later, traders needed a way to count goods and record promises.",
    "They pressed marks into soft clay with the end of a reed.",
    "Over many centuries, these marks became signs for sounds.",
    "In Egypt, scribes painted signs on sheets made from papyrus.",
    "Writing was slow, and only a few people learned to read.",
    "The alphabet made reading easier, because it needed fewer signs.",
    "Merchants carried the alphabet across the sea to many cities.",
    "The Greeks added letters for vowels, which made words clearer.",
    "The Romans shaped the letters that we still use today.",
    "In the middle ages, monks copied books by hand in quiet rooms.",
    "A single book could take a year or more to finish.",
    "Paper arrived from the east and was cheaper than animal skin.",
    "Then the printing press changed everything in a few decades.",
    "Printers could make hundreds of copies of the same page.",
    "Books became cheaper, and more people learned to read.",
    "News sheets spread ideas quickly from town to town.",
    "Schools opened for children who had never held a book.",
    "Libraries grew from small rooms into great public buildings.",
    "The typewriter brought printed letters into every office.",
    "Later, computers let us write, erase and share in seconds.",
    "Today, most of what we write never touches paper at all.",
    "Yet the basic idea has not changed in thousands of years.",
    "A mark stands for a sound, and sounds make up our words.",
    "Writing lets us speak to people we will never meet.",
    "It keeps our laws, our stories and our science alive.",
    "Some scholars think writing was invented several times.",
    "Each invention grew from the needs of trade and government.",
    "Poetry and stories came later, once the signs were familiar.",
    "Next week we will look at how children learn to read.",
    "Please read the first chapter of the book before then.",
    "Thank you for listening, and see you next week.",
)
# (file stem, sentences, espeak-ng voice, words per minute, pauses in seconds cycled between sentences)
SPEECH = (
    ("weather_report", WEATHER, "en-us", 165, (0.4, 0.8, 1.5)),
    ("kitchen_notes", KITCHEN, "en-gb", 150, (0.6, 1.2)),
    ("travel_diary", TRAVEL, "en-gb-x-rp", 140, (0.5, 2.0, 0.8)),
    ("meeting_minutes", MEETING, "en-us", 175, (0.3, 0.6, 1.0)),
    ("long_lecture", LECTURE, "en-us", 150, (0.5, 1.0, 0.4, 3.0, 0.7, 10.0, 1.5, 6.0)),
)


def build_set(folder: Path) -> list[dict]:
    """Writes the speech set into `folder` (reused when already built) and returns its manifest.

    Returns:
        One entry per file: `file` (relative to the folder), `text` (the reference) and `duration` (s).
    """
    manifest_path = folder / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("version") == VERSION:
            return manifest["files"]
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for wav in sorted((ROOT / "samples" / "en").glob("*.wav")):
        (folder / wav.name).write_bytes(wav.read_bytes())
        files.append(_entry(folder, wav.name, wav.with_suffix(".txt").read_text().strip()))
    pauses = ROOT / "tests" / "data" / "pauses.opus"
    (folder / pauses.name).write_bytes(pauses.read_bytes())
    files.append(_entry(folder, pauses.name, json.loads(pauses.with_suffix(".json").read_text())["text"]))
    for stem, sentences, voice, speed, gaps in SPEECH:
        samples = _speak_with_pauses(sentences, voice, speed, gaps)
        write_wav(folder / f"{stem}.wav", samples)
        files.append(_entry(folder, f"{stem}.wav", " ".join(sentences)))
    manifest_path.write_text(json.dumps({"version": VERSION, "files": files}, indent=2))
    return files


def build_long_file(folder: Path, files: list[dict], seconds: float, out: Path) -> dict:
    """Writes `out/long.wav`: the set in `folder`, 2 s of silence after each file, repeated to `seconds`.

    `out` must not be inside `folder`: preannotate would find the long file among the set's.

    Returns:
        Its manifest entry (`file` relative to `out`, `text`, `duration`).
    """
    target = out / "long.wav"
    pieces, texts, total = [], [], 0.0
    gap = np.zeros(2 * RATE, dtype=np.float32)
    audio = [decode_audio(folder / entry["file"]).samples for entry in files]
    while total < seconds:
        for entry, samples in zip(files, audio):
            pieces += [samples, gap]
            texts.append(entry["text"])
            total += (samples.size + gap.size) / RATE
            if total >= seconds:
                break
    if not target.is_file() or abs(_duration(target) - total) > 0.01:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_wav(target, np.concatenate(pieces))
    return {"file": "long.wav", "text": " ".join(texts), "duration": round(total, 3)}


def _entry(folder: Path, name: str, text: str) -> dict:
    return {"file": name, "text": text, "duration": round(_duration(folder / name), 3)}


def _duration(path: Path) -> float:
    return decode_audio(path).duration


def _speak_with_pauses(sentences: tuple[str, ...], voice: str, speed: int, gaps: tuple[float, ...]) -> np.ndarray:
    pieces = [np.zeros(int(0.5 * RATE), dtype=np.float32)]
    with tempfile.TemporaryDirectory() as tmp:
        for i, sentence in enumerate(sentences):
            pieces.append(_speak(sentence, voice, speed, Path(tmp)))
            pieces.append(np.zeros(int(gaps[i % len(gaps)] * RATE), dtype=np.float32))
    return np.concatenate(pieces)


def _speak(text: str, voice: str, speed: int, tmp: Path) -> np.ndarray:
    raw, resampled = tmp / "raw.wav", tmp / "16k.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text], check=True)
    # -R: sox seeds its dither the same way every time; without it each build of the set was other audio,
    # enough to change Whisper's words and the review flags' scores from one run to the next.
    subprocess.run(["sox", "-R", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(resampled)], check=True)
    samples = decode_audio(resampled).samples
    loud = np.flatnonzero(np.abs(samples) > 0.01)  # espeak-ng pads with silence: keep the speech only
    return samples[loud[0] : loud[-1] + 1] if loud.size else samples


def write_wav(path: Path, samples: np.ndarray) -> None:
    """Writes 16 kHz mono PCM16."""
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(RATE)
        f.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
