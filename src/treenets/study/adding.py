"""Long-range memory: the adding problem for every (model, T), with and without gradient clipping.

Every run gets the same budget of training steps on the same batches (one seeded stream per T),
then its MSE is measured on a held-out set of that T. IndRNN's recurrent weights are clamped to
|u| <= mag ** (1 / T) after every step (:func:`treenets.study.recurrent.training_step`).
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from treenets.plots import pyplot, save_figure
from treenets.study.config import StudyConfig
from treenets.study.output import against_length, write_results
from treenets.study.recurrent import (ADDING_BASELINE_MSE, ADDING_INPUT_DIM, Regressor, adding_problem, build_encoder,
                                      describe_device, make_optimizer, model_label,
                                      train_on_adding)

NO_CLIPPING = "none"
OPTIMIZER_NAMES = {"adam": "Adam", "sgd": "SGD (momentum 0.9)"}
log = logging.getLogger(__name__)


def run_one(config: StudyConfig, name: str, length: int, clip_norm: float | None, test: tuple,
            device: torch.device) -> dict:
    """Train one model for the budget; its test MSE, last training losses and wall time."""
    settings = config.adding
    torch.manual_seed(config.seed)
    model = Regressor(build_encoder(name, config.models, ADDING_INPUT_DIM, length)).to(device)
    started = time.perf_counter()
    optimizer = make_optimizer(settings.optimizer, model, settings.lr)
    losses = train_on_adding(model, settings.steps, settings.batch_size, length, optimizer, clip_norm, config.seed,
                             device)
    with torch.no_grad():
        test_mse = F.mse_loss(model(test[0]), test[1]).item()
    return {
        "model": model_label(name, config.models), "T": length,
        "clipping": NO_CLIPPING if clip_norm is None else clip_norm,
        "steps": settings.steps, "batch_size": settings.batch_size, "test_mse": test_mse,
        "final_train_mse": torch.stack(losses[-10:]).mean().item(),
        "seconds": time.perf_counter() - started,
    }


def run_all(config: StudyConfig, device: torch.device) -> pd.DataFrame:
    settings = config.adding
    rows = []
    for length in settings.lengths:
        x, y = adding_problem(settings.test_size, length, torch.Generator().manual_seed(config.seed + 1))
        test = (x.to(device), y.to(device))
        baseline = F.mse_loss(torch.ones_like(y), y).item()  # predicting E[sum] = 1 on this test set
        for name in settings.models:
            for clip_norm in (settings.clip_norm, None):
                row = {**run_one(config, name, length, clip_norm, test, device), "baseline_mse": baseline}
                log.info("adding T=%d %s, clipping %s: test MSE %.4g (%.1f s)", length, row["model"],
                         row["clipping"], row["test_mse"], row["seconds"])
                rows.append(row)
    return pd.DataFrame(rows)


def caption(config: StudyConfig, table: pd.DataFrame, device: torch.device) -> str:
    settings, sizes = config.adding, config.models
    baselines = ", ".join(f"T={t}: {b:.3f}" for t, b in table.groupby("T")["baseline_mse"].first().items())
    adam_note = (" (Adam rescales every update by a running gradient scale, so clipping acts on it only where"
                 " one step's gradient stands out)") if settings.optimizer == "adam" else ""
    return (f"Adding problem: MSE on {settings.test_size} held-out sequences per T after {settings.steps} training "
            f"steps (batch {settings.batch_size}, {OPTIMIZER_NAMES[settings.optimizer]} lr {settings.lr:g}, "
            f"hidden {sizes.hidden}; IndRNN {sizes.indrnn_layers} layers with |u| <= {sizes.mag:g}^(1/T)); "
            f"clipping: global gradient norm <= {settings.clip_norm:g}, or none{adam_note}. Predicting the mean sum "
            f"1 scores ~{ADDING_BASELINE_MSE:.3f} (Var of the sum of two U(0,1) = 1/6; on these test sets "
            f"{baselines}): a model below it remembered the marked values. Device: {describe_device(device)}.")


def markdown(table: pd.DataFrame, text: str) -> str:
    """MSE per (model, clipping) and T; a non-finite MSE (the training diverged) reads "diverged"."""
    cells = table.assign(cell=[f"{v:.4f}" if math.isfinite(v) else "diverged" for v in table["test_mse"]])
    wide = cells.pivot(index=["model", "clipping"], columns="T", values="cell")
    wide = wide.reindex(pd.MultiIndex.from_frame(table[["model", "clipping"]].drop_duplicates()))
    wide.columns = [f"T={t}" for t in wide.columns]
    return wide.reset_index().rename(columns={"model": "Model", "clipping": "Clipping"}).to_markdown(index=False) \
        + f"\n\n{text}\n"


def plot(table: pd.DataFrame, path: str | os.PathLike, title: str) -> None:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(9, 4.5))
    for index, (model, runs) in enumerate(table.groupby("model", sort=False)):
        for clipped, style in ((True, "-o"), (False, "--s")):
            line = runs[(runs["clipping"] != NO_CLIPPING) == clipped]
            axis.plot(line["T"], line["test_mse"], style, color=f"C{index}",
                      label=f"{model}, {'clipped' if clipped else 'no clipping'}")
    axis.axhline(ADDING_BASELINE_MSE, color="gray", linestyle=":", label="predict the mean (1/6)")
    against_length(axis, "test MSE", title)
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: the lines cross the plot
    save_figure(figure, path)


def run(config: StudyConfig, out_dir: str | os.PathLike, device: torch.device) -> dict[str, Path]:
    table = run_all(config, device)
    paths = write_results(out_dir, "adding", table, markdown(table, caption(config, table, device)))
    plot(table, paths["plot"], f"Adding problem, {config.adding.steps} steps per run ({describe_device(device)})")
    return paths
