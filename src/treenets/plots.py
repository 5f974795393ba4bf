"""What every plot of the project shares: matplotlib without a display, and PNGs written atomically.

Used by :mod:`treenets.report` and :mod:`treenets.study`; matplotlib is imported only when a plot is drawn.
"""

from __future__ import annotations

import os

from treenets.files import atomic_write


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (files only: cluster nodes, CI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: str | os.PathLike) -> None:
    """``figure`` as a PNG at ``path`` (tight layout, 120 dpi), then closed."""
    figure.tight_layout()
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=120)
    pyplot().close(figure)
