"""Shared fixtures of the text-track tests: a tiny configuration on the shared wikitext-2 copy.

The hub is switched off before transformers is first imported: a hub id would otherwise retry for
tens of seconds before failing. Tests that need the shared data skip, with the reason, without it.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest  # noqa: E402

from collapsebench.errors import DataError  # noqa: E402
from collapsebench.experiment.data import RealData  # noqa: E402
from collapsebench.experiment.paths import shared_dataset  # noqa: E402
from text_config import TINY_DATA  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """One intra-op thread, as each chain gets in a sweep: a tiny model gains nothing from more, and
    on a loaded 2-core machine two spinning threads per process make these tests several times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def wikitext_dir():
    try:
        return shared_dataset("wikitext-2")
    except DataError as exc:
        pytest.skip(f"shared wikitext-2 data absent: {exc}")


@pytest.fixture(scope="session")
def tiny_real(wikitext_dir) -> RealData:
    from collapsebench_text.data import WikiText2, WikiTextOptions

    return WikiText2(WikiTextOptions(**TINY_DATA)).load(0)
