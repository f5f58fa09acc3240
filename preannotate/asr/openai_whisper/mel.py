"""Whisper's log-mel spectrogram of long audio in bounded memory, bit for bit the same as openai-whisper's.

`whisper.transcribe` computes the spectrogram of the whole file before decoding: the padded copy of
the audio, the complex STFT, its power and the mel projection all exist at once, about 1.7 GB for one
hour. Here the STFT runs a block of frames at a time; only the output (80 floats per 10 ms, 115 MB an
hour) is held. Frames are independent, so each block gives exactly the whole-file values.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from whisper.audio import HOP_LENGTH, N_FFT, mel_filters
from whisper.audio import log_mel_spectrogram as whole_file_log_mel

from ...audio import centred_samples

BLOCK_FRAMES = 6000  # 60 s of 10-ms frames: the STFT of one block needs about 10 MB


def log_mel_spectrogram(
    audio: np.ndarray | torch.Tensor, n_mels: int = 80, padding: int = 0, device: str | torch.device | None = None
) -> torch.Tensor:
    """Returns `whisper.audio.log_mel_spectrogram(audio, n_mels, padding, device)`, computed blockwise.

    Args:
        audio: 1-D float32 samples at 16 kHz (a NumPy array or a tensor).
        n_mels: 80 or 128 mel bands, as the model expects.
        padding: Zero samples appended at the end, as Whisper's `padding`.
        device: Where the STFT runs (None: where the audio is).

    Returns:
        The (n_mels, frames) log-mel spectrogram, equal to openai-whisper's.
    """
    samples = audio if torch.is_tensor(audio) else torch.from_numpy(np.ascontiguousarray(audio))
    if device is not None:
        samples = samples.to(device)
    length = samples.shape[0] + padding
    if length <= BLOCK_FRAMES * HOP_LENGTH or samples.ndim != 1 or not _blockwise_ok(samples):
        return whole_file_log_mel(samples, n_mels, padding)  # short, or GPU memory: nothing to save
    n_frames = length // HOP_LENGTH  # the centred STFT has one more frame; Whisper drops the last
    window = torch.hann_window(N_FFT).to(samples.device)
    filters = mel_filters(samples.device, n_mels)
    log_spec = torch.empty((n_mels, n_frames), dtype=torch.float32, device=samples.device)
    for first in range(0, n_frames, BLOCK_FRAMES):
        last = min(first + BLOCK_FRAMES, n_frames)
        start, end = first * HOP_LENGTH, (last - 1) * HOP_LENGTH + N_FFT
        block = torch.from_numpy(centred_samples(samples.numpy(), length, N_FFT // 2, start, end))
        stft = torch.stft(block, N_FFT, HOP_LENGTH, window=window, center=False, return_complex=True)
        log_spec[:, first:last] = torch.clamp(filters @ (stft.abs() ** 2), min=1e-10).log10()
    # Whisper's remaining steps, in place: they need the maximum over the whole file.
    torch.maximum(log_spec, log_spec.max() - 8.0, out=log_spec)
    return log_spec.add_(4.0).div_(4.0)


def _blockwise_ok(samples: torch.Tensor) -> bool:
    # Whisper computes in the audio's own dtype; blocks are built as float32 on the CPU.
    return samples.device.type == "cpu" and samples.dtype == torch.float32


@contextlib.contextmanager
def blockwise_in_whisper_transcribe() -> Iterator[None]:
    """Makes `whisper.transcribe` use the blockwise spectrogram while the block runs.

    `whisper.transcribe` imports the function by name, so its module's reference is the one swapped
    (and put back afterwards, so other users of openai-whisper in the process see no change).
    """
    module: Any = sys.modules["whisper.transcribe"]  # a module attribute that typeshed's ModuleType does not know
    original = module.log_mel_spectrogram
    module.log_mel_spectrogram = log_mel_spectrogram
    try:
        yield
    finally:
        module.log_mel_spectrogram = original
