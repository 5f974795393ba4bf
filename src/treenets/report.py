"""Result tables and plots of an experiment, from its run directories.

For one dataset (``name``: sick, sst, ...) and the runs of every model on it (one run per seed),
:func:`write_report` writes

* ``tables/<name>.csv``: one row per model: ``model, n_seeds``, then ``<metric>_mean, <metric>_std``
  (std over seeds, ddof=1; empty for one seed), ``paper_<metric>, delta_<metric>`` for the metrics
  some model has a published number for (:mod:`treenets.anchors`), and ``p_vs_best`` /
  ``significant_vs_best`` for the main metric;
* ``tables/<name>.md`` and ``.tex``: the same numbers as the papers print them, "mean (std)", with a
  caption that also names the runs' word vectors and epoch budgets (where a reproduction deviates
  from a paper most often);
* ``tables/<name>_runs.csv`` and ``.md``: one row per run (seed): its directory, epochs, best dev
  epoch, training time (the epochs' seconds, without dev scoring) and sentences/s, test main metric;
* ``plots/<name>_learning_curves.png`` (train loss and dev main metric per epoch, mean over seeds),
  ``plots/<name>_predictions.png`` (predicted vs gold: a scatter for relatedness, a confusion matrix
  of root labels for sentiment) and ``plots/<name>_bars.png`` (main metric, seed std as error bars).

Everything task-specific comes from the task (:mod:`treenets.tasks`): its metrics and their labels,
the metric that ranks the models (Pearson's r for relatedness; fine-grained root accuracy for
sentiment, binary root accuracy for two-class models; accuracy for entailment), accuracies in percent
as in the papers, how a run's predictions are plotted, and notes under the table (entailment: each
model's confusion matrix). Significance: the best model on the main metric is compared with each other
model by the task's paired bootstrap over the test examples, each model represented by its median-seed run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from treenets.anchors import published
from treenets.errors import InputError
from treenets.evaluate import output_path, read_predictions
from treenets.files import atomic_write
from treenets.plots import pyplot, save_figure
from treenets.tasks import TASKS, Task, task_for

SIGNIFICANCE_LEVEL = 0.05
EPOCHS_FILE = "epochs.jsonl"  # treenets.inference.EPOCHS (that module imports torch; the report does not)
CONFIG_FILE = "config.resolved.yaml"  # treenets.inference.RESOLVED_CONFIG


@dataclass(frozen=True)
class Run:
    model: str
    run_dir: Path
    metrics: dict[str, float]  # test metrics (sentiment in percent)
    epochs: pd.DataFrame  # epoch, train_loss, dev_<metric>... (sentiment in percent)
    settings: dict[str, str] = field(default_factory=dict)  # vectors, epochs: from its resolved config

    @property
    def predictions(self) -> Path:
        return output_path(self.run_dir, "predictions", "test", ".tsv")


def _scale(task: Task) -> float:
    """Accuracies are stored as fractions and shown in percent; relatedness metrics as they are."""
    return 100.0 if task.percent else 1.0


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path) from None
    except json.JSONDecodeError as err:
        raise InputError(f"invalid JSON: {err.msg}", path, err.lineno) from None
    if not isinstance(data, dict):
        raise InputError("expected a JSON object", path)
    return data


def _read_epochs(path: Path, task: Task) -> pd.DataFrame:
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path) from None
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
            row = {"epoch": int(record["epoch"]), "train_loss": float(record["train_loss"]),
                   "seconds": float(record.get("seconds", np.nan)),
                   "sentences_per_s": float(record.get("sentences_per_s", np.nan))}
            row.update({f"dev_{k}": float(v) * _scale(task) for k, v in record["dev"].items() if k in task.metrics})
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            raise InputError("expected a JSON object with epoch, train_loss and dev metrics", path, number) from None
        rows.append(row)
    if not rows:
        raise InputError("no epochs recorded", path)
    return pd.DataFrame(rows)


def load_run(model: str, run_dir: str | os.PathLike, task: Task | str) -> Run:
    """The test metrics and learning curve of one finished run (``InputError`` naming a bad file)."""
    task = _task(task)
    run_dir = Path(run_dir)
    metrics_file = output_path(run_dir, "metrics", "test", ".json")
    raw = _read_json(metrics_file)
    metrics = {}
    for name in task.metrics:
        if name in raw:
            if isinstance(raw[name], bool) or not isinstance(raw[name], (int, float)):
                raise InputError(f"{name}: expected a number, got {raw[name]!r}", metrics_file)
            metrics[name] = float(raw[name]) * _scale(task)
    if not set(task.main_metrics) & set(metrics):
        raise InputError(f"no {' or '.join(task.main_metrics)} among the test metrics", metrics_file)
    return Run(model, run_dir, metrics, _read_epochs(run_dir / EPOCHS_FILE, task), _read_settings(run_dir / CONFIG_FILE))


def _task(task: Task | str) -> Task:
    """The task object of a task or its name (what the CLI passes)."""
    return task if isinstance(task, Task) else task_for(task)


def _read_settings(path: Path) -> dict[str, str]:
    """The settings a caption names, from a run's resolved config; none for a run folder without one."""
    if not path.exists():
        return {}
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        embeddings, training = config["embeddings"], config["training"]
        vectors = f"{Path(str(embeddings['source'])).name}, {'frozen' if embeddings['frozen'] else 'tuned'}"
        return {"vectors": vectors, "epochs": str(int(training["epochs"]))}
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError):
        raise InputError("expected a run config with embeddings.source, embeddings.frozen and training.epochs",
                         path) from None


def settings_sentence(runs: Sequence[Run]) -> str:
    """"Runs: word vectors ...; at most N epochs." naming the models where they differ."""
    per_model = {run.model: run.settings for run in runs if run.settings}
    if not per_model:
        return ""
    parts = []
    for key, unit in (("vectors", "word vectors {}"), ("epochs", "at most {} epochs")):
        groups: dict[str, list[str]] = {}
        for model, settings in per_model.items():
            groups.setdefault(settings[key], []).append(model)
        if len(groups) == 1:
            parts.append(unit.format(next(iter(groups))))
        else:
            parts.append(", ".join(f"{unit.format(value)} ({', '.join(models)})" for value, models in groups.items()))
    return "Runs: " + "; ".join(parts) + "."


def representative(runs: Sequence[Run], metric: str) -> Run:
    """The median-seed run on ``metric`` (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda run: run.metrics.get(metric, np.nan))
    return ordered[(len(ordered) - 1) // 2]


def summary_table(runs: Sequence[Run], task: Task | str, papers: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per model (in order of first appearance): seeds, mean and std per metric, paper, delta."""
    task, papers = _task(task), dict(papers or {})
    models = list(dict.fromkeys(run.model for run in runs))
    unknown = sorted(set(papers) - set(models))
    if unknown:
        raise InputError(f"published numbers given for {unknown[0]!r}, which has no runs")
    anchors = {model: published(key) for model, key in papers.items()}
    metrics = task.metrics
    with_paper = [m for m in metrics if any(m in anchor.mean for anchor in anchors.values())]
    rows = []
    for model in models:
        values = pd.DataFrame([run.metrics for run in runs if run.model == model], columns=list(metrics))
        row = {"model": model, "n_seeds": len(values)}
        for metric in metrics:
            row[f"{metric}_mean"] = values[metric].mean()
            row[f"{metric}_std"] = values[metric].std(ddof=1)  # NaN for one seed
        anchor = anchors.get(model)
        for metric in with_paper:
            paper = anchor.mean.get(metric, np.nan) if anchor else np.nan
            row[f"paper_{metric}"] = paper
            row[f"delta_{metric}"] = row[f"{metric}_mean"] - paper
        row["paper_source"] = anchor.source if anchor else ""
        row["paper_row"] = anchor.row if anchor else ""
        rows.append(row)
    return pd.DataFrame(rows)


def main_metric(table: pd.DataFrame, task: Task | str) -> str:
    """The metric that ranks the models of ``table``: the first of the task's that some model has."""
    return next(m for m in _task(task).main_metrics if table[f"{m}_mean"].notna().any())


def best_row(table: pd.DataFrame, metric: str, task: Task):
    """The index of the best model on ``metric``."""
    means = table[f"{metric}_mean"]
    return means.idxmin() if metric in task.lower_is_better else means.idxmax()


def add_significance(table: pd.DataFrame, runs: Sequence[Run], metric: str, task: Task | str,
                     n_resamples: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """``p_vs_best``/``significant_vs_best``: the best model on ``metric`` against each other one."""
    table = table.copy()
    table["p_vs_best"] = np.nan
    table["significant_vs_best"] = pd.array([pd.NA] * len(table), dtype="boolean")
    task = _task(task)
    best = best_row(table, metric, task)
    median_run = {model: representative([r for r in runs if r.model == model], metric) for model in table["model"]}
    best_predictions = median_run[table.at[best, "model"]].predictions
    for index, model in table["model"].items():
        if index == best or pd.isna(table.at[index, f"{metric}_mean"]):
            continue
        comparison = task.paired_bootstrap(best_predictions, median_run[model].predictions,
                                           task.bootstrap_metric(metric), n_resamples=n_resamples, seed=seed)
        table.at[index, "p_vs_best"] = comparison.p_value
        table.at[index, "significant_vs_best"] = comparison.p_value < SIGNIFICANCE_LEVEL
    return table


# --------------------------------------------------------------------------- formatted tables
@dataclass(frozen=True)
class _Style:
    """The few symbols that Markdown (Unicode) and pdfLaTeX (math mode) write differently."""

    labels: Mapping[str, str]
    dagger: str
    delta: str
    dash: str
    less: str


# Every task's metric labels; LaTeX writes a few of them its own way.
LABELS = {name: label for task in TASKS.values() for name, label in task.labels.items()}
MARKDOWN = _Style(LABELS, " †", "Δ ", "–", "<")
LATEX = _Style({**LABELS, "spearman": r"Spearman's $\rho$"}, r"$^\dagger$", r"$\Delta$ ", "--", "$<$")


def formatted_table(table: pd.DataFrame, task: Task | str, metric: str, style: _Style = MARKDOWN) -> pd.DataFrame:
    """Strings as the papers print them: "mean (std)" per metric, † where significantly below the best,
    then the paper's value and the difference to it."""
    task = _task(task)
    decimals = task.decimals

    def cell(mean: float, std: float = np.nan) -> str:
        if pd.isna(mean):
            return style.dash
        return f"{mean:.{decimals}f}" if pd.isna(std) else f"{mean:.{decimals}f} ({std:.{decimals}f})"

    shown = [m for m in task.metrics if table[f"{m}_mean"].notna().any()]
    out = pd.DataFrame({"Model": table["model"], "Seeds": table["n_seeds"].astype(str)})
    for name in shown:
        cells = [cell(m, s) for m, s in zip(table[f"{name}_mean"], table[f"{name}_std"])]
        if name == metric and "significant_vs_best" in table:
            significant = table["significant_vs_best"].fillna(False).astype(bool)
            cells = [c + style.dagger if worse else c for c, worse in zip(cells, significant)]
        out[style.labels[name]] = cells
    for name in shown:
        if f"paper_{name}" in table:
            out[f"{style.labels[name]} (paper)"] = [cell(v) for v in table[f"paper_{name}"]]
            out[f"{style.delta}{style.labels[name]}"] = [
                style.dash if pd.isna(d) else f"{d:+.{decimals}f}" for d in table[f"delta_{name}"]]
    return out


def caption(table: pd.DataFrame, task: Task, metric: str, name: str, n_resamples: int, style: _Style = MARKDOWN,
            settings: str = "") -> str:
    text = f"{name}: test set, mean (std) over seeds"
    text += "; accuracy in percent." if task.percent else "."
    if table["p_vs_best"].notna().any():
        text += (f" Best model in bold; {style.dagger.strip()} significantly below it on "
                 f"{style.labels[metric]} (paired bootstrap over test examples, median-seed runs, "
                 f"{n_resamples} resamples, p {style.less} {SIGNIFICANCE_LEVEL}).")
    sources = sorted({source for source in table["paper_source"] if source})
    if sources:
        text += f" Paper: {'; '.join(sources)}."
    return text + (f" {settings}" if settings else "")


def write_tables(table: pd.DataFrame, task: Task | str, metric: str, name: str, stem: str | os.PathLike,
                 n_resamples: int, settings: str = "", notes: str = "") -> list[Path]:
    """``stem``.csv (the numbers), .md and .tex (formatted, with a caption; ``notes``: Markdown put
    under the .md's caption); returns the paths."""
    task = _task(task)
    stem = Path(stem)
    paths = [stem.with_suffix(suffix) for suffix in (".csv", ".md", ".tex")]
    best = best_row(table, metric, task)
    with atomic_write(paths[0]) as handle:
        table.to_csv(handle, index=False, float_format="%.10g")
    markdown = formatted_table(table, task, metric, MARKDOWN)
    markdown.at[best, "Model"] = f"**{markdown.at[best, 'Model']}**"
    with atomic_write(paths[1]) as handle:
        handle.write(markdown.to_markdown(index=False, disable_numparse=True) + f"\n\n{caption(table, task, metric, name, n_resamples, settings=settings)}\n"
                     + (f"\n{notes}\n" if notes else ""))
    latex = (formatted_table(table, task, metric, LATEX).style.hide(axis="index")
             .format(escape="latex", subset=["Model"])
             .apply(lambda column: ["font-weight: bold" if i == best else "" for i in column.index], subset=["Model"]))
    with atomic_write(paths[2]) as handle:
        handle.write(latex.to_latex(
            hrules=True, convert_css=True, position="t", label=f"tab:{stem.name}",
            caption=caption(table, task, metric, name.replace("_", r"\_"), n_resamples, LATEX,
                            settings.replace("_", r"\_")),
            column_format="l" + "r" * (latex.data.shape[1] - 1)))
    return paths


def runs_table(runs: Sequence[Run], metric: str) -> pd.DataFrame:
    """One row per run: where it is, how long it trained and how fast, and its test ``metric``."""
    rows = []
    for run in runs:
        epochs = run.epochs
        seconds = epochs["seconds"].sum(min_count=len(epochs))
        sentences = (epochs["seconds"] * epochs["sentences_per_s"]).sum(min_count=len(epochs))
        rows.append({"model": run.model, "run_dir": str(run.run_dir), "epochs": len(epochs),
                     "best_epoch": int(epochs.loc[epochs[f"dev_{metric}"].idxmax(), "epoch"])
                     if f"dev_{metric}" in epochs and epochs[f"dev_{metric}"].notna().any() else np.nan,
                     "train_seconds": seconds, "sentences_per_s": sentences / seconds,
                     metric: run.metrics.get(metric, np.nan)})
    return pd.DataFrame(rows)


def write_runs_table(runs: Sequence[Run], task: Task | str, metric: str, name: str, stem: str | os.PathLike) -> list[Path]:
    """``stem``.csv and .md of :func:`runs_table`; returns the paths."""
    table = runs_table(runs, metric)
    paths = [Path(stem).with_suffix(suffix) for suffix in (".csv", ".md")]
    with atomic_write(paths[0]) as handle:
        table.to_csv(handle, index=False, float_format="%.10g")
    shown = table.rename(columns={"model": "Model", "run_dir": "Run", "epochs": "Epochs", "best_epoch": "Best epoch",
                                  "train_seconds": "Training (s)", "sentences_per_s": "Sentences/s",
                                  metric: f"Test {LABELS[metric]}"})
    decimals = _task(task).decimals
    with atomic_write(paths[1]) as handle:
        handle.write(shown.to_markdown(index=False, floatfmt=("", "", ".0f", ".0f", ".0f", ".0f", f".{decimals}f"))
                     + f"\n\n{name}: every run. Training: the epochs' training passes (without dev scoring and"
                     " test evaluation); sentences/s: trees or sequences trained per second (two per pair).\n")
    return paths


# --------------------------------------------------------------------------- plots
def plot_learning_curves(runs: Sequence[Run], metric: str, path: str | os.PathLike) -> None:
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    figure, (loss_axis, dev_axis) = plt.subplots(1, 2, figsize=(11, 4))
    for model in dict.fromkeys(run.model for run in runs):
        epochs = pd.concat([run.epochs for run in runs if run.model == model])
        mean = epochs.groupby("epoch").mean(numeric_only=True)
        loss_axis.plot(mean.index, mean["train_loss"], marker="o", label=model)
        if f"dev_{metric}" in mean:
            dev_axis.plot(mean.index, mean[f"dev_{metric}"], marker="o", label=model)
    # Tree models sum the loss over every node, sequence models average it: a log scale shows both.
    loss_axis.set(xlabel="epoch", ylabel="training loss", title="Training loss (mean over seeds)", yscale="log")
    dev_axis.set(xlabel="epoch", ylabel=f"dev {LABELS[metric]}", title=f"Dev {LABELS[metric]} (mean over seeds)")
    for axis in (loss_axis, dev_axis):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    dev_axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    save_figure(figure, path)


def plot_predictions(runs: Sequence[Run], task: Task | str, metric: str, path: str | os.PathLike) -> None:
    """Each model's median-seed test predictions as its task draws them (:meth:`Task.plot_predictions`:
    predicted vs gold for relatedness, a confusion matrix for the classification tasks)."""
    task = _task(task)
    plt = pyplot()

    models = list(dict.fromkeys(run.model for run in runs))
    columns = min(4, len(models))
    rows = -(-len(models) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 3.4 * rows), squeeze=False)
    for axis, model in zip(axes.flat, models):
        run = representative([r for r in runs if r.model == model], metric)
        table = read_predictions(run.predictions)
        task.plot_predictions(axis, table, metric)
        axis.set_title(f"{model} ({LABELS[metric]} {run.metrics.get(metric, np.nan):.{task.decimals}f})",
                       fontsize="small")
    for axis in list(axes.flat)[len(models):]:
        axis.axis("off")
    save_figure(figure, path)


def plot_bars(table: pd.DataFrame, metric: str, path: str | os.PathLike) -> None:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(max(4.0, 0.9 * len(table) + 1.5), 4))
    positions = np.arange(len(table))
    axis.bar(positions, table[f"{metric}_mean"], yerr=table[f"{metric}_std"].fillna(0.0), capsize=4,
             color="tab:blue", label="this run (mean ± std over seeds)")
    if f"paper_{metric}" in table and table[f"paper_{metric}"].notna().any():
        axis.scatter(positions, table[f"paper_{metric}"], marker="D", color="tab:red", zorder=3, label="paper")
    axis.set_xticks(positions, table["model"], rotation=30, ha="right")
    axis.set(ylabel=LABELS[metric], title=f"Test {LABELS[metric]}")
    low = np.nanmin(np.concatenate([table[f"{metric}_mean"], table.get(f"paper_{metric}", pd.Series(dtype=float))]))
    axis.set_ylim(bottom=max(0.0, low - 0.1 * abs(low)) if np.isfinite(low) else 0.0)
    axis.legend(fontsize="small", loc="lower left", bbox_to_anchor=(0.0, 1.08), ncol=2, frameon=False)
    save_figure(figure, path)


# --------------------------------------------------------------------------- everything for one dataset
def output_paths(out_dir: str | os.PathLike, name: str) -> dict[str, Path]:
    """Where :func:`write_report` puts each file (what the Snakemake report rule declares)."""
    out_dir = Path(out_dir)
    paths = {f"table_{suffix}": out_dir / "tables" / f"{name}.{suffix}" for suffix in ("csv", "md", "tex")}
    paths.update({f"runs_{suffix}": out_dir / "tables" / f"{name}_runs.{suffix}" for suffix in ("csv", "md")})
    for plot in ("learning_curves", "predictions", "bars"):
        paths[plot] = out_dir / "plots" / f"{name}_{plot}.png"
    return paths


def write_report(task: Task | str, name: str, runs: Sequence[tuple[str, str | os.PathLike]], out_dir: str | os.PathLike,
                 papers: Mapping[str, str] | None = None, n_resamples: int = 10_000, seed: int = 0) -> dict[str, Path]:
    """Tables and plots of dataset ``name`` from ``runs`` = (model, run directory) pairs."""
    if not runs:
        raise InputError(f"{name}: no runs to report")
    task = _task(task)
    loaded = [load_run(model, run_dir, task) for model, run_dir in runs]
    table = summary_table(loaded, task, papers)
    metric = main_metric(table, task)
    table = add_significance(table, loaded, metric, task, n_resamples, seed)
    paths = output_paths(out_dir, name)
    median_runs = [(model, representative([r for r in loaded if r.model == model], metric).predictions)
                   for model in table["model"]]
    write_tables(table, task, metric, name, paths["table_csv"].with_suffix(""), n_resamples, settings_sentence(loaded),
                 task.report_notes(median_runs))
    write_runs_table(loaded, task, metric, name, paths["runs_csv"].with_suffix(""))
    plot_learning_curves(loaded, metric, paths["learning_curves"])
    plot_predictions(loaded, task, metric, paths["predictions"])
    plot_bars(table, metric, paths["bars"])
    return paths
