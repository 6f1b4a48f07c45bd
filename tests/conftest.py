from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def shared_dir() -> Path:
    """../shared (real benchmark files); tests using it skip when it is absent."""
    if not (SHARED / "data").is_dir():
        pytest.skip("../shared is not available")
    return SHARED
