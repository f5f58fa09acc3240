"""Shared fixtures: real bundled Whisper models, converted once per session into a private cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.sa_server import sa_clean_env, sa_server  # noqa: F401  (SuperAnnotate loopback fixtures)


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Points PREANNOTATE_CACHE at one folder for the session: tests never touch the user's cache."""
    folder = tmp_path_factory.mktemp("model-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PREANNOTATE_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="session")
def tiny_model(model_cache: Path):
    """`bundled:tiny.en` on CPU, loaded once per session."""
    from preannotate.models import load_model
    from preannotate.options import ModelOptions

    return load_model(ModelOptions(name="bundled:tiny.en", device="cpu"))


@pytest.fixture(scope="session")
def base_model(model_cache: Path):
    """`bundled:base` (multilingual) on CPU, loaded once per session."""
    from preannotate.models import load_model
    from preannotate.options import ModelOptions

    return load_model(ModelOptions(name="bundled:base", device="cpu"))
