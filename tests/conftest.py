"""Fixtures for every suite: the shared reference material, skipped only where it is absent,
and a throwaway PostgreSQL (tests/pgkit.py), skipped only where its binaries are missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/kit.py and the other kits, for every suite

from pgkit import pg_server, pg_url  # noqa: E402, F401  (fixtures)
from refkit import REFERENCE  # noqa: E402


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    if not REFERENCE.is_dir():
        pytest.skip(f"../shared/reference not found at {REFERENCE}: CI has it beside the checkout")
    return REFERENCE
