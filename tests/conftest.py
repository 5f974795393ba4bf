"""Shared fixtures: where the real corpora are (a local mirror laid out like ../shared/data), and a small
SICK training config on them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from treenets.config import load_config

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


SICK_FILES = {"train": "SICK_train.txt", "dev": "SICK_trial.txt", "test": "SICK_test_annotated.txt"}


@pytest.fixture(scope="session")
def embedding_cache(tmp_path_factory) -> str:
    """One embedding cache for the whole session: each (vocabulary, source) matrix is built once."""
    return str(tmp_path_factory.mktemp("embeddings"))


@pytest.fixture
def sick(data_mirror, embedding_cache):
    """A config factory: an LSTM on whitespace tokens of an evenly spaced SICK slice (no parser)."""
    files = {split: str(data_mirror / "sick" / "semeval2014" / name) for split, name in SICK_FILES.items()}

    def make(*overrides, train=1500, dev=150):
        base = {
            "task": "relatedness",
            "data": {"dataset": "sick", "files": files, "limit": {"train": train, "dev": dev, "test": 100}},
            "model": {"name": "lstm", "hidden": 16, "head_hidden": 16},
            "embeddings": {"frozen": True, "cache_dir": embedding_cache},
            "optimizer": {"lr": 0.1},
            "training": {"epochs": 3, "device": "cpu"},
        }
        return load_config(base, overrides)

    return make
