"""Where a model runs: one rule for every engine, each engine's runtime asked whether it sees a GPU."""

from __future__ import annotations

from collections.abc import Callable

from ...errors import ModelError


def pick_device(device: str, runtime: str, sees_cuda: Callable[[], bool]) -> str:
    """Returns `cuda` or `cpu`: `auto` takes CUDA when the runtime sees it; `cuda` without a GPU is an error.

    Args:
        device: `model.device`: `auto`, `cpu` or `cuda`.
        runtime: What runs the model, for the message (`torch`, `CTranslate2`).
        sees_cuda: Asks the runtime whether it sees a CUDA GPU.

    Raises:
        ModelError: `cuda` is asked for and the runtime sees no GPU.
    """
    cuda = sees_cuda()
    if device == "cuda" and not cuda:
        raise ModelError(f"model.device is 'cuda' but {runtime} sees no CUDA GPU; use 'auto' or 'cpu'")
    return "cuda" if device == "cuda" or (device == "auto" and cuda) else "cpu"


def torch_sees_cuda() -> bool:
    """Whether torch sees a CUDA GPU (imports torch: seconds)."""
    import torch

    return torch.cuda.is_available()


def ctranslate2_sees_cuda() -> bool:
    """Whether CTranslate2, which has its own CUDA build, sees a CUDA GPU (torch is not imported)."""
    import ctranslate2

    return ctranslate2.get_cuda_device_count() > 0
