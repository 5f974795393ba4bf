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


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory, data_mirror):
    """Stanza parsers bootstrapped at the tiny budget from real UD / PTB sentences (~20-60 s), once
    per session: (models folder, metrics)."""
    pytest.importorskip("stanza")
    from treenets.parse.bootstrap import Sources, bootstrap

    ud = data_mirror / "ud" / "UD_English-LinES"
    sources = Sources(ud={split: ud / f"en_lines-ud-{split}.conllu" for split in ("train", "dev", "test")},
                      ptb_zip=data_mirror / "ptb_sample" / "nltk_data" / "corpora" / "treebank.zip")
    out = tmp_path_factory.mktemp("parsers") / "tiny"
    metrics = bootstrap(out, sources, "tiny", device="cpu", seed=1, log=lambda line: None)
    return out, metrics
