"""Which file each split of a config's data section is, and which of its rows a ``limit`` keeps.

Shared by :mod:`treenets.datasets` (training reads these rows) and :mod:`treenets.parse` (which parses
exactly the same rows), so neither needs the other. No torch, no parser here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from treenets.config import Config
from treenets.errors import InputError


def split_files(config: Config, splits: Sequence[str]) -> dict[str, Path]:
    """Each split's file: ``data.files`` first, else the registry's copy in ``data.cache_dir``."""
    files = {}
    for split in splits:
        if config.data.pairs is not None:
            files[split] = Path(config.data.pairs.files[split])
        elif split in config.data.files:
            files[split] = Path(config.data.files[split])
        else:
            from treenets.data.fetch import fetch

            files[split] = fetch(f"{config.data.dataset}:{split}", config.data.cache_dir)
        if not files[split].is_file():
            raise InputError(f"data.files.{split}: no such file", files[split])
    return files


def spread(count: int, limit: int | None) -> list[int]:
    """``limit`` indices evenly spaced over ``range(count)`` (all of them without a limit).

    A slice taken this way is representative where the first N would not be: SST's files hold
    the positive sentences first and the negative ones after them.
    """
    if limit is None or limit >= count:
        return list(range(count))
    return np.linspace(0, count - 1, limit).round().astype(int).tolist()
