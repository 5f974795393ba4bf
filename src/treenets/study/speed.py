"""Speed against length: training steps per second of each encoder as T grows.

A step is what training does: forward, backward, gradient clipping and an Adam update, on an
adding-problem batch of length T. On CUDA the torch.nn RNN/LSTM/GRU run cuDNN's fused kernels;
IndRNN runs its recurrence as one fused kernel call forward and one backward (C++ on the CPU, Triton
on CUDA; :mod:`treenets.models.indrnn_kernels`); SRNN(n, k) runs each of its k + 1
levels as one batched cuDNN call over sequences n^k times shorter. Timings are wall-clock with the
device synchronised around them, after untimed warm-up steps.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pandas as pd
import torch

from treenets.plots import pyplot, save_figure
from treenets.study.config import StudyConfig
from treenets.study.output import against_length, write_results
from treenets.study.recurrent import (ADDING_INPUT_DIM, Regressor, adding_problem, build_encoder, describe_device,
                                      make_optimizer, model_label, synchronize,
                                      training_step)

CLIP_NORM = 1.0  # clipping is part of the step timed (the adding runs clip too)
log = logging.getLogger(__name__)


def steps_per_second(config: StudyConfig, name: str, length: int, device: torch.device) -> float:
    settings = config.speed
    torch.manual_seed(config.seed)
    model = Regressor(build_encoder(name, config.models, ADDING_INPUT_DIM, length)).to(device)
    optimizer = make_optimizer("adam", model, 1e-3)  # torch's default rate
    x, target = (t.to(device) for t in adding_problem(settings.batch_size, length, torch.Generator().manual_seed(0)))
    for _ in range(settings.warmup_steps):
        training_step(model, optimizer, x, target, CLIP_NORM)
    synchronize(device)
    started = time.perf_counter()
    for _ in range(settings.timed_steps):
        training_step(model, optimizer, x, target, CLIP_NORM)
    synchronize(device)
    return settings.timed_steps / (time.perf_counter() - started)


def run_all(config: StudyConfig, device: torch.device) -> pd.DataFrame:
    settings = config.speed
    rows = []
    for length in settings.lengths:
        for name in settings.models:
            rate = steps_per_second(config, name, length, device)
            log.info("speed T=%d %s: %.3g steps/s", length, name, rate)
            rows.append({"model": model_label(name, config.models), "name": name, "T": length,
                         "batch_size": settings.batch_size, "hidden": config.models.hidden,
                         "steps_per_second": rate, "seconds_per_step": 1.0 / rate})
    table = pd.DataFrame(rows)
    reference = table[table["name"] == settings.reference].set_index("T")["steps_per_second"]
    table["speedup_vs_reference"] = table["steps_per_second"] / table["T"].map(reference)
    return table.drop(columns="name")


def caption(config: StudyConfig, device: torch.device) -> str:
    settings, sizes = config.speed, config.models
    cudnn = " (torch.nn RNN/LSTM/GRU on cuDNN)" if device.type == "cuda" and torch.backends.cudnn.enabled else ""
    return (f"Training steps per second (forward, backward, clipping, Adam) against sequence length T on "
            f"{describe_device(device)}{cudnn}, torch {torch.__version__}: batch {settings.batch_size}, hidden "
            f"{sizes.hidden}, one layer (IndRNN {sizes.indrnn_layers}), {settings.timed_steps} timed steps after "
            f"{settings.warmup_steps} warm-up. Speed-up: relative to "
            f"{model_label(settings.reference, sizes)} at the same T.")


def markdown(table: pd.DataFrame, text: str) -> str:
    wide = table.pivot(index="model", columns="T", values="steps_per_second").reindex(table["model"].unique())
    wide.columns = [f"T={t}" for t in wide.columns]
    longest = table[table["T"] == table["T"].max()].set_index("model")["speedup_vs_reference"]
    wide[f"speed-up at T={table['T'].max()}"] = longest.map(lambda v: f"{v:.2f}x")
    return wide.reset_index().rename(columns={"model": "Model"}).to_markdown(index=False, floatfmt=".3g") \
        + f"\n\nSteps per second. {text}\n"


def plot(table: pd.DataFrame, path: str | os.PathLike, title: str) -> None:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for model, line in table.groupby("model", sort=False):
        axis.plot(line["T"], line["steps_per_second"], "-o", label=model)
    against_length(axis, "training steps / second", title)
    axis.legend(fontsize=8)
    save_figure(figure, path)


def run(config: StudyConfig, out_dir: str | os.PathLike, device: torch.device) -> dict[str, Path]:
    table = run_all(config, device)
    paths = write_results(out_dir, "speed", table, markdown(table, caption(config, device)))
    plot(table, paths["plot"], f"Speed vs length, batch {config.speed.batch_size} ({describe_device(device)})")
    return paths
