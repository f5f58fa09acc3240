"""faster-whisper's log-mel features of long audio in bounded memory, bit for bit the same."""

from __future__ import annotations

import numpy as np
from faster_whisper.feature_extractor import FeatureExtractor

from ...audio import centred_samples

FEATURE_BLOCK_FRAMES = 6000  # 60 s of 10-ms frames: the STFT of one block needs about 20 MB


class BlockwiseFeatureExtractor(FeatureExtractor):
    """faster-whisper's log-mel features, with the STFT of long audio computed a block of frames at a time.

    faster-whisper computes the STFT of a whole file at once: for one hour of audio it peaks at about
    3 GB. Here only the power spectrum of the whole file is held (80 kB per second of audio, 290 MB an
    hour), in the same memory layout as faster-whisper's, so that the mel projection runs as the same
    single matrix product and the features come out bit for bit the same.
    """

    def __call__(self, waveform: np.ndarray, padding: int = 160, chunk_length: int | None = None) -> np.ndarray:
        """Returns the (n_mels, frames) log-mel features of 16 kHz samples, as the base class does."""
        if waveform.shape[0] <= FEATURE_BLOCK_FRAMES * self.hop_length:
            return super().__call__(waveform, padding, chunk_length)
        if chunk_length is not None:  # as the base class does
            self.n_samples = chunk_length * self.sampling_rate
            self.nb_max_frames = self.n_samples // self.hop_length
        length = waveform.shape[0] + padding  # zeros appended, as the base class does
        n_frames = 1 + length // self.hop_length  # of the centred STFT
        window = np.hanning(self.n_fft + 1)[:-1].astype("float32")
        power = np.empty((n_frames, self.n_fft // 2 + 1), dtype=np.float32)  # frames x bins, as numpy's rfft
        for first in range(0, n_frames, FEATURE_BLOCK_FRAMES):
            last = min(first + FEATURE_BLOCK_FRAMES, n_frames)
            start, end = first * self.hop_length, (last - 1) * self.hop_length + self.n_fft
            samples = centred_samples(waveform, length, self.n_fft // 2, start, end)
            stft = self.stft(samples, self.n_fft, self.hop_length, window=window, center=False, return_complex=True)
            power[first:last] = (np.abs(stft.astype("complex64")) ** 2).T
        log_spec = self.mel_filters @ power.T[:, :-1]  # the base class drops the last frame
        del power
        # The base class's steps, in place: float32 in, float32 out, the same values.
        np.log10(np.clip(log_spec, 1e-10, None, out=log_spec), out=log_spec)
        np.maximum(log_spec, log_spec.max() - 8.0, out=log_spec)
        log_spec += 4.0
        log_spec /= 4.0
        return log_spec
