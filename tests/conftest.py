"""Fixtures for every suite: the shared reference material, skipped only where it is absent."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/refkit.py for every suite

from refkit import REFERENCE  # noqa: E402


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    if not REFERENCE.is_dir():
        pytest.skip(f"../shared/reference not found at {REFERENCE}: CI has it beside the checkout")
    return REFERENCE
