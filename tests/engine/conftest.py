from __future__ import annotations

from pathlib import Path

import pytest

from refkit import SHARED


@pytest.fixture
def shared_dir() -> Path:
    if not (SHARED / "seeds").is_dir():
        pytest.skip(f"../shared not found at {SHARED}: the seeds and references live beside the checkout in CI")
    return SHARED
