"""Shared fixtures: where the real corpora are (a local mirror laid out like ../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _mirror() -> Path | None:
    env = os.environ.get("TREENETS_DATA_MIRROR")
    candidates = [Path(env)] if env else [REPO.parent / "shared" / "data"]
    for path in candidates:
        if path.is_dir():
            return path.resolve()
    return None


@pytest.fixture(scope="session")
def data_mirror() -> Path:
    """The real datasets. CI sets TREENETS_DATA_MIRROR; a developer checkout finds ../shared/data."""
    mirror = _mirror()
    if mirror is None:
        pytest.skip("no data mirror: set TREENETS_DATA_MIRROR to a folder laid out like shared/data")
    return mirror


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES
