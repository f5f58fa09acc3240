"""Shared fixtures: real bundled Whisper models, converted once per session into a private cache."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from cloud_s3 import denied_reader, moto_endpoint, s3  # noqa: F401  (S3 API on loopback, see cloud_s3.py)
from sa_server import sa_clean_env, sa_server  # noqa: F401  (SuperAnnotate loopback fixtures, see sa_server.py)

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
WAV_FORMATS = {(1, 16): "<i2", (3, 32): "<f4"}  # (format tag, bits per sample) -> numpy dtype


def read_wav(path: str | Path) -> np.ndarray:
    """Reads a mono PCM16 or float32 WAV as float32 samples (no ffmpeg on CI; stdlib `wave` lacks float)."""
    data = Path(path).read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", f"{path} is not a WAV file"
    pos, fmt = 12, None
    while pos + 8 <= len(data):
        tag, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = data[pos + 8 : pos + 8 + size]
        if tag == b"fmt ":
            fmt_tag, channels, _rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            assert channels == 1, f"{path}: {channels} channels, expected mono"
            fmt = WAV_FORMATS[(fmt_tag, bits)]
        elif tag == b"data" and fmt is not None:
            samples = np.frombuffer(body, dtype=fmt)
            return samples.astype(np.float32) / (32768.0 if fmt == "<i2" else 1.0)
        pos += 8 + size + (size & 1)  # chunks are padded to even sizes
    raise AssertionError(f"{path}: no data chunk")


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Points PREANNOTATE_CACHE at one folder for the session: tests never touch the user's cache."""
    folder = tmp_path_factory.mktemp("model-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PREANNOTATE_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="session")
def tiny_model(model_cache: Path):
    """`bundled:tiny.en` on CPU, loaded once per session."""
    from preannotate.asr import prepare
    from preannotate.asr.openai_whisper.load import load_model
    from preannotate.options import ModelOptions

    return load_model(prepare(ModelOptions(name="bundled:tiny.en", device="cpu")))


@pytest.fixture(scope="session")
def base_model(model_cache: Path):
    """`bundled:base` (multilingual) on CPU, loaded once per session."""
    from preannotate.asr import prepare
    from preannotate.asr.openai_whisper.load import load_model
    from preannotate.options import ModelOptions

    return load_model(prepare(ModelOptions(name="bundled:base", device="cpu")))
