"""Real speech with reference texts from Debian: the English prompts of Asterisk, the telephony server.

One professional speaker (Allison Smith, CC-BY-SA-3.0) reading phone-menu prompts, from a few words to a
minute, at 16 kHz (the G.722 set), with the package's own transcript of every prompt
(`core-sounds-en.txt`). Found by a survey of npm, Debian and PyPI on 2026-12-03 (npm had none). The two
packages are downloaded once from deb.debian.org and checked against their sha256 (real_speech.download).

Which prompts are in was fixed before any was transcribed: every prompt of at least 4 words whose text has
no mark that is not what is said (`[tone]`, `(5 seconds of silence)`, `<beep>`, notes in brackets or quotes)
and no symbol read as a word (`#`, `*`, `@`, `/`, `=`); Whisper's English normalizer reads the numbers of
both sides alike. Its transcripts are the package's, not verbatim transcriptions; a prompt's text that
differs from what is said counts as an error of the draft.
"""

from __future__ import annotations

import gzip
import io
import json
import lzma
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from real_speech import RealSpeechUnavailable, download, wav_bytes

POOL = "http://deb.debian.org/debian/pool/main/a/asterisk-core-sounds"
TEXTS = "./usr/share/doc/asterisk-core-sounds-{language}/core-sounds-{language}.txt.gz"
MIN_WORDS = 4
NOT_SAID = re.compile(r'[\[\]<>()"#*@/=]')


@dataclass(frozen=True)
class Prompts:
    """One language's prompts: the sha256 of its two packages (1.6.1-1), its speaker's folder, their pool."""

    language: str
    texts_sha256: str
    audio_sha256: str
    speaker: str
    pool: str = POOL

    def package(self, suffix: str = "") -> str:
        """The URL of the package of texts (`""`) or of audio (`"-g722"`)."""
        return f"{self.pool}/asterisk-core-sounds-{self.language}{suffix}_1.6.1-1_all.deb"


ENGLISH = Prompts(
    "en",
    "973e797d28e37fa6ca3c0a9d6fa717e77cf1268ae916bf09fd3503113cdffa50",
    "38c5261820b406dcb0ecb37675720da2b0864850690690352ca52707eb623806",
    "en_US_f_Allison",
)
# Other languages (other_languages.py): Mexican Spanish (Allison Smith again), Canadian French (June
# Wallack), Italian (Carlo Flamini) and Russian; checksums from Debian bookworm's archive on 2026-12-04.
OTHERS = {
    "es": Prompts(
        "es",
        "9afdab7f559f036649fb406e625899306ca1004df8ebe39c30bfbd5912d66f74",
        "e4e3b4281057d3b81b779298fd6be705f57411513955c518eed1bcaabbd615b8",
        "es_MX_f_Allison",
    ),
    "fr": Prompts(
        "fr",
        "04c82c78c570c43a7136cbc5e2488d0c470b775468dff9fbce4a131b18cf1056",
        "7add61d5e42279ecff1bbdf842a5a946ac3644fac9a0fe44384731aa7270c8e0",
        "fr_CA_f_June",
    ),
    "it": Prompts(
        "it",
        "3884d9457e12f21caa018c18f0d587df5d53ebea14b673d8453a134c5941ab3b",
        "46b4cf7afc508a5fcfc051b7ea233251c0d195dd4ef83cc4b7facb4c6429b016",
        "it_IT_m_Carlo",
    ),
    "ru": Prompts(
        "ru",
        "28a61616bb0cd3345a7ea532dec4df9f071e5d0fa9f8c1a563ea9669002f39ab",
        "673b4238a6b8269960f055d868c6a11083f7a0d00979167cb01554046b48ed9b",
        "ru_RU_f_IvrvoiceRU",
    ),
}


class PromptSpeechUnavailable(RuntimeError):
    """The packages could not be downloaded or are not what they should be."""


def chosen(transcript: str, language: str = "en") -> dict[str, str]:
    """Prompt name -> text, for the prompts the set takes (the rule above), from `core-sounds-<language>.txt`.

    Outside English no prompt with a digit is in either: Whisper's normalizer for other languages does not
    read numbers, so "marque 1" against a drafted "marque uno" would count the text's spelling as an error.
    """
    prompts = {}
    for line in transcript.splitlines():
        name, colon, text = line.partition(":")
        text = " ".join(text.split())
        if line.startswith(";") or not colon or NOT_SAID.search(text) or len(text.split()) < MIN_WORDS:
            continue
        if language != "en" and any(c.isdigit() for c in text):
            continue
        prompts[name.strip()] = text
    return prompts


def build_prompt_set(folder: Path, downloads: Path, prompts: Prompts = ENGLISH) -> list[dict]:
    """Writes the chosen prompts as 16 kHz WAV into `folder` and returns the manifest (`file`, `text`).

    Args:
        folder: Where the set goes (kept: a folder with its manifest is not built again).
        downloads: Where the packages are kept.
        prompts: The language's packages; English by default.

    Raises:
        PromptSpeechUnavailable: A package cannot be downloaded, or its sha256 is not the pinned one.
    """
    manifest_path = folder / "manifest.json"
    if manifest_path.is_file():
        return json.loads(manifest_path.read_text())
    language = prompts.language
    texts = _member(_fetch((prompts.package(), prompts.texts_sha256), downloads), TEXTS.format(language=language))
    chosen_texts = chosen(gzip.decompress(texts).decode("utf-8"), language)
    data = _data_tar(_fetch((prompts.package("-g722"), prompts.audio_sha256), downloads))
    audio = f"./usr/share/asterisk/sounds/{prompts.speaker}/"
    folder.mkdir(parents=True, exist_ok=True)
    manifest = []
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for name, text in sorted(chosen_texts.items()):
            try:
                raw = tar.extractfile(f"{audio}{name}.g722")
            except KeyError:
                continue  # a transcript line without a recording in this package
            if raw is None:
                continue
            file = f"{name.replace('/', '_')}.wav"
            (folder / file).write_bytes(wav_bytes(_decode_g722(raw.read()).tobytes(), 16000))
            manifest.append({"file": file, "text": text})
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return manifest


def _fetch(source: tuple[str, str], downloads: Path) -> bytes:
    try:
        return download(*source, downloads).read_bytes()
    except RealSpeechUnavailable as exc:
        raise PromptSpeechUnavailable(str(exc)) from exc


def _data_tar(deb: bytes) -> bytes:
    """The uncompressed data.tar of a .deb (an `ar` archive: 8-byte magic, then 60-byte member headers)."""
    position = 8
    while position < len(deb):
        header = deb[position : position + 60]
        name, size = header[:16].decode().strip().rstrip("/"), int(header[48:58].decode().strip())
        body = deb[position + 60 : position + 60 + size]
        if name == "data.tar.xz":
            return lzma.decompress(body)
        position += 60 + size + size % 2
    raise PromptSpeechUnavailable("no data.tar.xz in the package")


def _member(deb: bytes, member: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(_data_tar(deb))) as tar:
        found = tar.extractfile(member)
        if found is None:
            raise PromptSpeechUnavailable(f"{member} is not a file in the package")
        return found.read()


def _decode_g722(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data), format="g722") as container:
        return np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]).astype("<i2")
