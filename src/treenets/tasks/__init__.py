"""The tasks, by name: a config's ``task`` picks one here, once (:func:`task_for`).

A new task is one module with a :class:`~treenets.tasks.base.Task` subclass, one line in
:data:`TASKS`, and its config (see ``tasks/entailment.py``, the SICK entailment task). The trainer,
inference and the report call the task object; none of them asks which task it is.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from treenets.config import SPLITS, Config
from treenets.datasets import Dataset
from treenets.errors import InputError
from treenets.evaluate import read_predictions
from treenets.tasks.base import Batch, Collate, Predictions, Task
from treenets.tasks.entailment import EntailmentTask
from treenets.tasks.relatedness import RelatednessTask
from treenets.tasks.sentiment import SentimentTask

TASKS: dict[str, Task] = {task.name: task for task in (RelatednessTask(), SentimentTask(), EntailmentTask())}

__all__ = ["TASKS", "Batch", "Collate", "Predictions", "Task", "compare", "load_dataset", "paired_bootstrap",
           "task_for", "task_of_predictions"]


def task_for(name: str) -> Task:
    """The task called ``name`` (a config's ``task``)."""
    try:
        return TASKS[name]
    except KeyError:
        raise InputError(f"task: unknown task {name!r}; choose one of {', '.join(TASKS)}") from None


def load_dataset(config: Config, splits: Iterable[str] = SPLITS) -> Dataset:
    """The examples of ``splits`` as the config's task reads them."""
    return task_for(config.task).load_dataset(config, splits)


def task_of_predictions(path: str | os.PathLike) -> Task:
    """The task whose predictions file ``path`` is (by its columns and gold values)."""
    table = read_predictions(path)
    owners = [task for task in TASKS.values() if task.owns(table)]
    if len(owners) != 1:
        raise InputError("cannot tell which task these predictions are of", path)
    return owners[0]


def paired_bootstrap(a_path, b_path, metric: str | None = None, n_resamples: int = 10_000, seed: int = 0,
                     confidence: float = 0.95):
    """The paired bootstrap of :meth:`Task.paired_bootstrap` for the task the files are of."""
    return task_of_predictions(a_path).paired_bootstrap(a_path, b_path, metric, n_resamples, seed, confidence)


def compare(a_path, b_path, metric: str | None = None, n_resamples: int = 10_000, seed: int = 0) -> dict:
    """What ``treenets significance`` prints for two prediction files of one task."""
    return task_of_predictions(a_path).compare(a_path, b_path, metric, n_resamples, seed)
