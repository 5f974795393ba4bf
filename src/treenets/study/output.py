"""Writing a study part's files: its numbers (csv), a captioned table (md) and where its plot goes."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from treenets.files import atomic_write


def write_results(out_dir: str | os.PathLike, stem: str, table: pd.DataFrame, markdown: str | None = None
                  ) -> dict[str, Path]:
    """``stem.csv`` and, when given, ``stem.md``; returns their paths and the plot's, ``stem.png``."""
    out_dir = Path(out_dir)
    paths = {"csv": out_dir / f"{stem}.csv"}
    with atomic_write(paths["csv"]) as handle:
        table.to_csv(handle, index=False, float_format="%.6g")
    if markdown is not None:
        paths["markdown"] = out_dir / f"{stem}.md"
        with atomic_write(paths["markdown"]) as handle:
            handle.write(markdown)
    paths["plot"] = out_dir / f"{stem}.png"
    return paths


def against_length(axis, ylabel: str, title: str) -> None:
    """Log-log axes of a quantity against the sequence length T."""
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("sequence length T")
    axis.set_ylabel(ylabel)
    axis.set_title(title, fontsize=9)
