"""Choosing and loading a model as a careless user does: each mistake one clear line, exit code 2, before any work."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ctranslate2
import pytest
import torch
import whisper
from support.media import SAMPLES

from preannotate.asr import prepare
from preannotate.asr.faster_whisper import folder as ct2_folder
from preannotate.asr.weights import cache, ct2convert, resolve_model
from preannotate.cli import main
from preannotate.errors import ModelError
from preannotate.options import FasterWhisperOptions, ModelOptions


class _FullDisk:
    """A file whose every write fails as on a full disk."""

    def write(self, data: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self) -> None:
        pass


@contextlib.contextmanager
def _full_disk_writer(path: Any, binary: bool = False, sync: bool = True) -> Iterator[_FullDisk]:
    yield _FullDisk()


def _one_line(message: str) -> None:
    assert "\n" not in message.strip(), message


# --- names -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "suggested"),
    [
        ("tiny-en", "'bundled:tiny.en'"),  # the official 'tiny.en' needs the internet: the offline one too
        ("Tiny.en", "'bundled:tiny.en'"),
        ("bundled:tiny_en", "did you mean 'bundled:tiny.en'"),  # the list alone left the user to spot it
    ],
)
def test_a_misspelt_name_suggests_the_bundled_name(name: str, suggested: str) -> None:
    with pytest.raises(ModelError, match=suggested.replace(".", r"\.")) as e:
        prepare(ModelOptions(name=name))
    _one_line(str(e.value))


def test_an_upper_case_pt_suffix_is_a_checkpoint(tmp_path: Path) -> None:
    pt = tmp_path / "model.PT"
    pt.write_bytes(b"x")
    assert resolve_model(ModelOptions(name=str(pt))).kind == "checkpoint"


# --- broken files ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "the file is empty"),
        (b"not a checkpoint\n" * 50, "damaged, not a torch file"),
        (b"\x80\x02]q\x00", "damaged or not a torch file"),
    ],
)
def test_a_broken_checkpoint_is_one_line(tmp_path: Path, content: bytes, problem: str) -> None:
    pt = tmp_path / "broken.pt"
    pt.write_bytes(content)
    with pytest.raises(ModelError, match=problem) as e:
        prepare(ModelOptions(name=str(pt), device="cpu")).load()
    _one_line(str(e.value))
    assert "weights_only` set to `False`" not in str(e.value)  # torch's advice to run the file's code


def test_a_damaged_tokenizer_is_a_model_error(tmp_path: Path, loads_model: None) -> None:
    tiny = resolve_model(ModelOptions(name="bundled:tiny.en"))
    for file in (tiny.parts[0], tiny.config, str(Path(tiny.config).parent / "vocabulary.txt")):
        (tmp_path / Path(file).name).symlink_to(file)
    (tmp_path / "tokenizer.json").write_text('{"not\n')  # tokenizers raises a bare Exception
    options = ModelOptions(name=str(tmp_path), engine="faster-whisper", device="cpu")
    with pytest.raises(ModelError, match="faster-whisper cannot load") as e:
        prepare(options).load()
    _one_line(str(e.value))


@pytest.mark.skipif("float16" in ctranslate2.get_supported_compute_types("cpu"), reason="this CPU runs float16")
def test_a_compute_type_the_cpu_cannot_run_names_those_it_can(loads_model: None) -> None:
    engine = FasterWhisperOptions(compute_type="float16")
    options = ModelOptions(name="bundled:tiny.en", engine="faster-whisper", device="cpu", faster_whisper=engine)
    with pytest.raises(ModelError, match=r"compute_type on cpu: auto or one of .*int8"):
        prepare(options).load()


# --- downloads while offline -------------------------------------------------------------------------------


def test_a_failed_download_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: Any, **kwargs: Any) -> None:
        raise OSError("Got: ConnectError: [Errno -2] Name or service not known\nAn error happened on the Hub.")

    monkeypatch.setattr(ct2_folder, "download_model", offline)
    monkeypatch.setattr(whisper, "load_model", offline)
    for engine in ("faster-whisper", "openai-whisper"):
        with pytest.raises(ModelError, match="bundled:base") as e:
            prepare(ModelOptions(name="tiny", engine=engine, device="cpu")).load()
        _one_line(str(e.value))


# --- the model cache ---------------------------------------------------------------------------------------


def test_a_full_disk_while_converting_is_a_model_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # torch.save wraps the failed write in a RuntimeError: it escaped as a traceback, exit code 1.
    monkeypatch.setattr(cache, "atomic_writer", _full_disk_writer)
    monkeypatch.setattr(ct2convert, "convert", lambda parts, config: {"x": torch.zeros(4096)})
    source = resolve_model(ModelOptions(name="bundled:tiny.en"))
    with pytest.raises(ModelError, match=r"the disk is full.*PREANNOTATE_CACHE") as e:
        cache.converted_checkpoint(source, key="k")
    _one_line(str(e.value))


def test_a_full_model_cache_stops_the_run_with_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PREANNOTATE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "atomic_writer", _full_disk_writer)
    monkeypatch.setattr(ct2convert, "convert", lambda parts, config: {"x": torch.zeros(4096)})
    out = tmp_path / "out"
    args = ["run", "-i", str(SAMPLES / "en"), "-o", str(out), "--no-progress"]
    code = main([*args, "--set", "superannotate.dry_run=true", "--set", "model.name=bundled:tiny.en"])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2, error
    assert error.startswith("preannotate: error: cannot write the model cache file"), error
    assert not (out / "transcripts").exists()


def test_a_joined_model_folder_is_readable_by_the_team_sharing_the_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PREANNOTATE_CACHE", str(tmp_path / "cache"))
    source = resolve_model(ModelOptions(name="bundled:base"))
    assert len(source.parts) > 1  # base ships in parts: faster-whisper's folder is joined in the cache
    old = os.umask(0o002)  # a team's group-writable umask
    try:
        folder, _, _ = ct2_folder.model_folder(prepare(ModelOptions(name="bundled:base", engine="faster-whisper")))
    finally:
        os.umask(old)
    # Before: mkdtemp made it 0700, so no one else sharing PREANNOTATE_CACHE could load the model.
    assert stat.S_IMODE(Path(folder).stat().st_mode) == 0o775
    assert (Path(folder) / "model.bin").stat().st_size == sum(Path(p).stat().st_size for p in source.parts)
