from pathlib import Path

import pytest
import torch

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def shared_dir() -> Path:
    """../shared (real benchmark files); tests using it skip when it is absent."""
    if not (SHARED / "data").is_dir():
        pytest.skip("../shared is not available")
    return SHARED


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models gain nothing from threads, and OpenMP threads on a busy 2-core machine
    spin-wait: the same tests took 60x longer with 2 threads while other jobs ran."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
