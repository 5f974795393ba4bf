"""Long-range memory: the adding problem for every (model, T), with and without gradient clipping.

Every run of a model gets the same budget of training steps on the same batches (one seeded stream
per T); its MSE on a held-out set of that T is measured every ``eval_every`` steps (the learning
curves) and at the end, and a run stops early once it is below ``target_mse``. IndRNN's recurrent weights are clamped to
|u| <= mag ** (1 / T) after every step (:func:`treenets.study.recurrent.training_step`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from treenets.errors import InputError
from treenets.plots import pyplot, save_figure
from treenets.study.config import MODEL_LABELS, ModelSizes, StudyConfig
from treenets.study.output import write_results
from treenets.study.recurrent import (ADDING_BASELINE_MSE, ADDING_INPUT_DIM, Regressor, adding_problem, build_encoder,
                                      describe_device, make_optimizer, mean_prediction_mse, model_label,
                                      train_on_adding)

NO_CLIPPING = "none"
OPTIMIZER_NAMES = {"adam": "Adam", "sgd": "SGD (momentum 0.9)"}
log = logging.getLogger(__name__)


def run_one(config: StudyConfig, name: str, length: int, clip_norm: float | None, test: tuple,
            device: torch.device) -> tuple[dict, list[dict]]:
    """Train one model for its budget (or until its test MSE is below the target): its final row
    (test MSE, last training losses, steps run, wall time) and its learning curve (test MSE at
    every ``eval_every`` steps and at the end)."""
    settings = config.adding
    torch.manual_seed(config.seed)
    model = Regressor(build_encoder(name, part_sizes(config), ADDING_INPUT_DIM, length)).to(device)
    started = time.perf_counter()
    optimizer = make_optimizer(settings.optimizer, model, settings.learning_rate(name))
    budget, batches = settings.budget(name), torch.Generator().manual_seed(config.seed)
    chunk = settings.eval_every or budget
    done, losses, curve = 0, [], []
    while done < budget:
        steps = min(chunk, budget - done)
        losses += train_on_adding(model, steps, settings.batch_size, length, optimizer, clip_norm, config.seed,
                                  device, batches)
        done += steps
        with torch.no_grad():
            test_mse = F.mse_loss(model(test[0]), test[1]).item()
        curve.append({"step": done, "test_mse": test_mse, "seconds": time.perf_counter() - started})
        log.info("adding T=%d %s: test MSE %.4g after %d of %d steps (%.0f s)", length, name, test_mse, done, budget,
                 curve[-1]["seconds"])  # long runs show their progress
        if settings.target_mse is not None and test_mse < settings.target_mse:
            break
    label = model_label(name, config.models)
    clipping = NO_CLIPPING if clip_norm is None else clip_norm
    row = {
        "model": label, "T": length, "clipping": clipping, "steps": done, "budget": budget,
        "batch_size": settings.batch_size, "lr": settings.learning_rate(name), "test_mse": curve[-1]["test_mse"],
        "converged": settings.target_mse is not None and curve[-1]["test_mse"] < settings.target_mse,
        "final_train_mse": torch.stack(losses[-10:]).mean().item(),
        "seconds": time.perf_counter() - started, "device": describe_device(device),
    }
    return row, [{"model": label, "T": length, "clipping": clipping, **point} for point in curve]


def part_sizes(config: StudyConfig) -> ModelSizes:
    """The study's model sizes with this part's hidden size."""
    hidden = config.adding.hidden
    return config.models if hidden is None else dataclasses.replace(config.models, hidden=hidden)


def run_all(config: StudyConfig, device: torch.device) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The final table (one row per model, T, clipping) and the learning curves."""
    settings = config.adding
    rows, curves = [], []
    for length in settings.lengths:
        x, y = adding_problem(settings.test_size, length, torch.Generator().manual_seed(config.seed + 1))
        test = (x.to(device), y.to(device))
        baseline = mean_prediction_mse(y)
        for name in settings.models:
            for clip_norm in (settings.clip_norm, None) if settings.unclipped else (settings.clip_norm,):
                row, curve = run_one(config, name, length, clip_norm, test, device)
                row["baseline_mse"] = baseline
                log.info("adding T=%d %s, clipping %s: test MSE %.4g after %d steps (%.1f s)", length, row["model"],
                         row["clipping"], row["test_mse"], row["steps"], row["seconds"])
                rows.append(row)
                curves += curve
    return pd.DataFrame(rows), pd.DataFrame(curves)


def budget_text(table: pd.DataFrame) -> str:
    """"at most N training steps", N the commonest budget of the table's runs, then the runs with another
    (a merge may join runs made with different step budgets, e.g. a longer one at T = 5000)."""
    common = int(table["budget"].mode().iloc[0])
    others = table.loc[table["budget"] != common, ["model", "T", "budget"]].drop_duplicates()
    exceptions = ", ".join(f"{model} at T={length}: {int(steps)}"
                           for model, length, steps in others.itertuples(index=False))
    return f"at most {common} training steps" + (f" ({exceptions})" if exceptions else "")


def caption(config: StudyConfig, table: pd.DataFrame) -> str:
    settings, sizes = config.adding, part_sizes(config)
    baselines = ", ".join(f"T={t}: {b:.3f}" for t, b in table.groupby("T")["baseline_mse"].first().items())
    adam_note = (" (Adam rescales every update by a running gradient scale, so clipping acts on it only where"
                 " one step's gradient stands out)") if settings.optimizer == "adam" else ""
    budget = budget_text(table)
    rates = ", ".join(f"{MODEL_LABELS[m]} {settings.learning_rate(m):g}" for m in settings.models
                      if settings.learning_rate(m) != settings.lr)
    lr = f"lr {settings.lr:g}" + (f" ({rates})" if rates else "")
    stop = (f", stopped once below {settings.target_mse:g} (tested every {settings.eval_every or settings.steps} "
            f"steps)") if settings.target_mse is not None else ""
    clipping = (f"global gradient norm <= {settings.clip_norm:g}" + (f", or none{adam_note}" if settings.unclipped
                                                                      else ""))
    init = ", Li et al.'s initialisation" if sizes.indrnn_init == "li2018" else ""
    return (f"Adding problem: MSE on {settings.test_size} held-out sequences per T after {budget}{stop}; "
            f"[n] = steps run (batch {settings.batch_size}, {OPTIMIZER_NAMES[settings.optimizer]} {lr}, "
            f"hidden {sizes.hidden}, one layer; IndRNN {sizes.indrnn_layers} layers, ReLU, |u| <= "
            f"{sizes.mag:g}^(1/T){init}); clipping: {clipping}. Predicting the mean sum "
            f"1 scores ~{ADDING_BASELINE_MSE:.3f} (Var of the sum of two U(0,1) = 1/6; on these test sets "
            f"{baselines}): a model below it remembered the marked values. Device: {', '.join(table['device'].unique())}.")


def markdown(table: pd.DataFrame, text: str) -> str:
    """MSE [steps run] per (model, clipping) and T; a non-finite MSE (the training diverged) reads "diverged",
    a (model, T) without a run (e.g. only the IndRNN at T = 5000) "not run"."""
    cells = table.assign(cell=[(f"{v:.4f}" if math.isfinite(v) else "diverged") + f" [{n}]"
                               for v, n in zip(table["test_mse"], table["steps"])])
    wide = cells.pivot(index=["model", "clipping"], columns="T", values="cell")
    wide = wide.reindex(pd.MultiIndex.from_frame(table[["model", "clipping"]].drop_duplicates())).fillna("not run")
    wide.columns = [f"T={t}" for t in wide.columns]
    return wide.reset_index().rename(columns={"model": "Model", "clipping": "Clipping"}).to_markdown(index=False) \
        + f"\n\n{text}\n"


def plot(curves: pd.DataFrame, path: str | os.PathLike, title: str) -> None:
    """Test MSE against training steps, one panel per T."""
    plt = pyplot()
    lengths = sorted(curves["T"].unique())
    figure, axes = plt.subplots(1, len(lengths), figsize=(4 * len(lengths) + 2, 4), squeeze=False, sharey=True)
    for axis, length in zip(axes[0], lengths):
        for index, (model, runs) in enumerate(curves[curves["T"] == length].groupby("model", sort=False)):
            for clipped, style in ((True, "-"), (False, "--")):
                line = runs[(runs["clipping"] != NO_CLIPPING) == clipped]
                if len(line):
                    axis.plot(line["step"], line["test_mse"], style, marker="o" if len(line) == 1 else None,
                              color=f"C{index}", label=f"{model}, {'clipped' if clipped else 'no clipping'}")
        axis.axhline(ADDING_BASELINE_MSE, color="gray", linestyle=":", label="predict the mean (1/6)")
        axis.set_yscale("log")
        axis.set_xlabel("training steps")
        axis.set_title(f"T = {length}", fontsize=9)
    axes[0][0].set_ylabel("test MSE")
    legend = {}  # every panel's lines (a model may be run at some T only), once each
    for axis in axes[0]:
        for handle, label in zip(*axis.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    axes[0][-1].legend(legend.values(), legend.keys(), fontsize=7, loc="upper left",
                       bbox_to_anchor=(1.01, 1.0))  # outside: the lines cross
    figure.suptitle(title, fontsize=9)
    save_figure(figure, path)


def run(config: StudyConfig, out_dir: str | os.PathLike, device: torch.device) -> dict[str, Path]:
    return write(config, out_dir, *run_all(config, device))


def write(config: StudyConfig, out_dir: str | os.PathLike, table: pd.DataFrame, curves: pd.DataFrame
          ) -> dict[str, Path]:
    """adding.{csv,md,png} and adding_curves.csv."""
    paths = write_results(out_dir, "adding", table, markdown(table, caption(config, table)))
    paths["curves"] = write_results(out_dir, "adding_curves", curves)["csv"]
    plot(curves, paths["plot"], f"Adding problem: test MSE against training steps ({', '.join(table['device'].unique())})")
    return paths


def merge(config: StudyConfig, out_dir: str | os.PathLike, run_dirs: list[str | os.PathLike]) -> dict[str, Path]:
    """One table and one plot from runs of this part over some lengths each (``--set study.adding.lengths=[T]``
    per folder: the workflow runs every T as its own job). Every length of the config must be there once."""
    tables = [pd.read_csv(Path(folder) / "adding.csv") for folder in run_dirs]
    curves = pd.concat([pd.read_csv(Path(folder) / "adding_curves.csv") for folder in run_dirs], ignore_index=True)
    table = pd.concat(tables, ignore_index=True)
    found = sorted(table["T"].unique().tolist())
    if found != sorted(config.adding.lengths) or table.duplicated(["model", "T", "clipping"]).any():
        raise InputError(f"study.adding.lengths {list(config.adding.lengths)}: the runs in {', '.join(map(str, run_dirs))}"
                         f" hold T = {found}" + (" (some twice)" if table.duplicated(["model", "T", "clipping"]).any()
                                                  else ""))
    order = {length: i for i, length in enumerate(config.adding.lengths)}
    table = table.sort_values("T", key=lambda t: t.map(order), kind="stable").reset_index(drop=True)
    return write(config, out_dir, table, curves)
