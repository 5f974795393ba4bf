"""Shared fixtures: where the real corpora are (a local mirror laid out like ../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _mirror() -> Path | None:
    env = os.environ.get("TREENETS_DATA_MIRROR")
    if env:  # asked for explicitly (CI): a missing folder is an error, not a skip
        if not Path(env).is_dir():
            raise RuntimeError(f"TREENETS_DATA_MIRROR={env} is not a folder")
        return Path(env).resolve()
    default = REPO.parent / "shared" / "data"
    return default.resolve() if default.is_dir() else None


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
