"""tools/moonshine_check.py: Moonshine base read with onnxruntime, its weights' dequantization folded."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from moonshine_check import Moonshine, model_folder, read_tokens  # noqa: E402

from preannotate.audio import decode_audio  # noqa: E402

pytestmark = pytest.mark.slow


def test_the_folded_model_decodes_as_the_wheels_own_and_reads_a_real_voice(tmp_path: Path) -> None:
    clip = decode_audio(model_folder().parent.parent / "test-data" / "beckett.wav").samples
    folded = Moonshine(tmp_path, threads=2)
    shipped = Moonshine(tmp_path, threads=2, fold=False)
    text = folded.transcribe(clip)
    assert text == shipped.transcribe(clip)
    inputs = {"input_values": clip[None, :]}
    np.testing.assert_allclose(folded.encoder.run(None, inputs)[0], shipped.encoder.run(None, inputs)[0], atol=1e-4)
    assert "try again" in text.lower() and "fail better" in text.lower()
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == ["decoder_model_merged.folded.onnx", "encoder_model.folded.onnx"]  # the ONNX exports removed
    # a chunk's span, padded, and a span too short to decode
    assert folded.chunk_text(np.concatenate([clip, np.zeros(16_000, np.float32)]), 0.3, 9.5).endswith("better.")
    assert folded.chunk_text(clip[:800], 0.0, 0.05) == ""  # 0.05 s: under the 0.1 s Moonshine takes


def test_the_tokenizer_file_is_sentencepieces_pieces() -> None:
    tokens = read_tokens(model_folder() / "tokenizer.bin")
    assert len(tokens) == 32_000 and tokens[:3] == [b"<unk>", b"<s>", b"</s>"]
    assert tokens[260] == "\u2581t".encode()
