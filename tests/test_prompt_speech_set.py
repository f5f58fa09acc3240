"""The benchmark's prompt set: which of Asterisk's prompts it takes, and how it reads them out of the packages.

The packages come from Debian when the benchmark runs; here two small .deb files laid out the same way (an
`ar` archive holding data.tar.xz; the transcript gzipped, the prompts in G.722 encoded by PyAV) stand in for
them, served from a file:// mirror with their sha256 pinned in place of Debian's.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from support.bench_modules import benchmark_module

HERE = Path(__file__).resolve().parent
TRANSCRIPT = """; Core Asterisk Sounds in English

agent-pass: Please enter your password followed by the pound key.
beep: [this is a simple beep tone]
activated: Activated.
conf-adminmenu: Please press 1 to mute or unmute yourself, 2 to lock the conference.
silence/5: (5 seconds of silence)
spy-iax2: IAX (note: does not say "2") and more words here
star-key: Press * to repeat this menu now.
dictate/both_help: Press one to pause,  and  two to resume.
missing-audio: This prompt has no recording here.
"""


@pytest.fixture(scope="module")
def prompt_speech():
    with benchmark_module("prompt_speech") as module:
        yield module


def test_only_prompts_of_four_words_or_more_with_nothing_unsaid_are_taken(prompt_speech):
    assert prompt_speech.chosen(TRANSCRIPT) == {
        "agent-pass": "Please enter your password followed by the pound key.",
        "conf-adminmenu": "Please press 1 to mute or unmute yourself, 2 to lock the conference.",
        "dictate/both_help": "Press one to pause, and two to resume.",  # spaces as one
        "missing-audio": "This prompt has no recording here.",
    }


def test_outside_english_no_prompt_with_a_digit_is_taken(prompt_speech):
    spanish = """; Core Asterisk Sounds in Spanish
agent-pass: Por favor ingrese su contrasena seguida por la tecla de numero
conf-adminmenu: Por favor marque 1 para habilitar el modo mudo
conf-adminmenu-18: Por favor presione uno para activar el modo mudo personal
"""
    assert prompt_speech.chosen(spanish, "es") == {
        "agent-pass": "Por favor ingrese su contrasena seguida por la tecla de numero",
        "conf-adminmenu-18": "Por favor presione uno para activar el modo mudo personal",
    }  # Whisper's normalizer reads numbers only in English
    assert "conf-adminmenu" in prompt_speech.chosen(spanish, "en")


def test_each_language_has_its_packages_and_speaker(prompt_speech):
    for language, prompts in prompt_speech.OTHERS.items():
        assert prompts.language == language and prompts.speaker.startswith(language)
        assert prompts.package().endswith(f"/asterisk-core-sounds-{language}_1.6.1-1_all.deb")
        assert len({prompts.texts_sha256, prompts.audio_sha256}) == 2


def _g722(samples: np.ndarray) -> bytes:
    out = io.BytesIO()
    with av.open(out, "w", format="g722") as container:
        stream = container.add_stream("g722", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return out.getvalue()


def _deb(members: dict[str, bytes]) -> bytes:
    """A .deb: `ar` with debian-binary, control.tar.xz and data.tar.xz (the members, under ./)."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w:xz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    parts = {"debian-binary": b"2.0\n", "control.tar.xz": b"", "data.tar.xz": tar_bytes.getvalue()}
    body = b"!<arch>\n"
    for name, data in parts.items():
        header = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode()
        body += header + data + (b"\n" if len(data) % 2 else b"")
    return body


def test_the_chosen_prompts_are_decoded_from_the_packages_and_checked(prompt_speech, tmp_path):
    tone = (np.sin(np.arange(16000) * 2 * np.pi * 440 / 16000) * 8000).astype("<i2")
    audio = {f"usr/share/asterisk/sounds/en_US_f_Allison/{n}.g722": _g722(tone) for n in ("agent-pass", "beep")}
    audio["usr/share/asterisk/sounds/en_US_f_Allison/dictate/both_help.g722"] = _g722(tone[:8000])
    texts = {"usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz": gzip.compress(TRANSCRIPT.encode())}
    mirror, downloads = tmp_path / "mirror", tmp_path / "downloads"  # a file:// mirror stands in for Debian's
    mirror.mkdir()
    sha256 = []
    for suffix, members in (("", texts), ("-g722", audio)):
        package = mirror / f"asterisk-core-sounds-en{suffix}_1.6.1-1_all.deb"
        package.write_bytes(_deb(members))
        sha256.append(hashlib.sha256(package.read_bytes()).hexdigest())
    english = prompt_speech.Prompts("en", *sha256, "en_US_f_Allison", pool=mirror.as_uri())
    assert english.package("-g722") == prompt_speech.ENGLISH.package("-g722").replace(
        prompt_speech.POOL, mirror.as_uri()
    )
    manifest = prompt_speech.build_prompt_set(tmp_path / "set", downloads, english)
    assert manifest == [
        {"file": "agent-pass.wav", "text": "Please enter your password followed by the pound key."},
        {"file": "dictate_both_help.wav", "text": "Press one to pause, and two to resume."},
    ]  # no recording of conf-adminmenu or missing-audio in the package: left out
    with wave.open(str(tmp_path / "set" / "agent-pass.wav")) as f:
        assert (f.getframerate(), f.getnchannels()) == (16000, 1) and abs(f.getnframes() - 16000) < 400
        decoded = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
    assert 5000 < np.abs(decoded).max() < 9000  # the tone, decoded

    (tmp_path / "set" / "manifest.json").unlink()
    name = english.package("-g722").rsplit("/", 1)[1]
    (downloads / name).unlink()
    (mirror / name).write_bytes(b"not the package")
    with pytest.raises(prompt_speech.PromptSpeechUnavailable, match="sha256"):
        prompt_speech.build_prompt_set(tmp_path / "set", downloads, english)
