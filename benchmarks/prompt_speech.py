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
from pathlib import Path

import av
import numpy as np
from real_speech import RealSpeechUnavailable, download, wav_bytes

POOL = "http://deb.debian.org/debian/pool/main/a/asterisk-core-sounds"
TEXTS_DEB = (
    f"{POOL}/asterisk-core-sounds-en_1.6.1-1_all.deb",
    "973e797d28e37fa6ca3c0a9d6fa717e77cf1268ae916bf09fd3503113cdffa50",
)
AUDIO_DEB = (
    f"{POOL}/asterisk-core-sounds-en-g722_1.6.1-1_all.deb",
    "38c5261820b406dcb0ecb37675720da2b0864850690690352ca52707eb623806",
)
TEXTS = "./usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"
AUDIO = "./usr/share/asterisk/sounds/en_US_f_Allison/"
MIN_WORDS = 4
NOT_SAID = re.compile(r'[\[\]<>()"#*@/=]')


class PromptSpeechUnavailable(RuntimeError):
    """The packages could not be downloaded or are not what they should be."""


def chosen(transcript: str) -> dict[str, str]:
    """Prompt name -> text, for the prompts the set takes (the rule above), from `core-sounds-en.txt`."""
    prompts = {}
    for line in transcript.splitlines():
        name, colon, text = line.partition(":")
        text = " ".join(text.split())
        if line.startswith(";") or not colon or NOT_SAID.search(text) or len(text.split()) < MIN_WORDS:
            continue
        prompts[name.strip()] = text
    return prompts


def build_prompt_set(folder: Path, downloads: Path) -> list[dict]:
    """Writes the chosen prompts as 16 kHz WAV into `folder` and returns the manifest (`file`, `text`).

    Raises:
        PromptSpeechUnavailable: A package cannot be downloaded, or its sha256 is not the pinned one.
    """
    manifest_path = folder / "manifest.json"
    if manifest_path.is_file():
        return json.loads(manifest_path.read_text())
    texts = _member(_fetch(TEXTS_DEB, downloads), TEXTS)
    prompts = chosen(gzip.decompress(texts).decode("utf-8"))
    data = _data_tar(_fetch(AUDIO_DEB, downloads))
    folder.mkdir(parents=True, exist_ok=True)
    manifest = []
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for name, text in sorted(prompts.items()):
            try:
                raw = tar.extractfile(f"{AUDIO}{name}.g722")
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
