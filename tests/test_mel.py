import sys

import numpy as np
import pytest
import torch
import whisper.audio
from support.media import read_sample

from preannotate.asr.openai_whisper import mel
from preannotate.audio import centred_samples


@pytest.mark.parametrize("n_mels", [80, 128])
@pytest.mark.parametrize("padding", [0, 7, whisper.audio.N_SAMPLES])
def test_blockwise_spectrogram_is_whispers_bit_for_bit(monkeypatch, pauses, n_mels, padding):
    monkeypatch.setattr(mel, "BLOCK_FRAMES", 1700)  # uneven blocks, the last one short
    for cut in (len(pauses), len(pauses) - 12_345, 1700 * 160 + 1):
        audio = pauses[:cut]
        expected = whisper.audio.log_mel_spectrogram(audio, n_mels, padding=padding)
        assert torch.equal(mel.log_mel_spectrogram(audio, n_mels, padding=padding), expected)


def test_short_and_non_float32_audio_take_whispers_own_path():
    clip = read_sample("en/hello_world")
    assert torch.equal(mel.log_mel_spectrogram(clip), whisper.audio.log_mel_spectrogram(clip))
    doubled = np.tile(clip, 40).astype(np.float64)  # long, but Whisper rejects float64: so do we
    for function in (mel.log_mel_spectrogram, whisper.audio.log_mel_spectrogram):
        with pytest.raises(RuntimeError, match="same dtype"):
            function(doubled)


def test_centred_samples_match_reflect_padding():
    wave = np.arange(1, 11, dtype=np.float32)
    length, pad = 13, 4  # zero-padded to 13, then reflected by 4
    full = np.pad(np.pad(wave, (0, length - len(wave))), pad, mode="reflect")
    for start, end in [(0, len(full)), (3, 9), (10, len(full))]:
        assert np.array_equal(centred_samples(wave, length, pad, start, end), full[start:end])


def test_whisper_transcribe_sees_the_blockwise_function_only_inside_the_block():
    module = sys.modules["whisper.transcribe"]
    original = module.log_mel_spectrogram
    with pytest.raises(RuntimeError), mel.blockwise_in_whisper_transcribe():
        assert module.log_mel_spectrogram is mel.log_mel_spectrogram
        raise RuntimeError("a failure inside the block")
    assert module.log_mel_spectrogram is original
