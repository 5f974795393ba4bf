"""What a task is: the one object the trainer, inference and the report ask about everything task-specific.

A :class:`Task` owns

* its data: which datasets it reads and the examples' targets (:meth:`Task.load_dataset`);
* its model's head and loss (:meth:`Task.head`, :meth:`Task.loss`);
* batching examples into a :class:`Batch` (:meth:`Task.collate`; the sentences go through the model's
  input kind, :mod:`treenets.models.inputs`);
* how predictions are made, scored and written (:meth:`Task.predict`, :meth:`Task.scores`,
  :meth:`Task.write_predictions`);
* its metrics, their labels and scale in tables, which metric ranks models, and how two runs'
  prediction files are compared (:meth:`Task.compare`).

Tasks are stateless singletons registered by name in :mod:`treenets.tasks`; whatever a run's config
decides (classes, input kind) is passed in. Nothing here imports torch at module level: the report
and the ``significance`` command use tasks without it.
"""

from __future__ import annotations

import abc
import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from treenets.config import Config
from treenets.datasets import Dataset, Example, tokens_of
from treenets.errors import InputError
from treenets.evaluate import Comparison, bootstrap_difference, output_path, read_predictions, write_table

if TYPE_CHECKING:
    import torch

    from treenets.embeddings import Vocab


@dataclass(frozen=True)
class Batch:
    ids: list[str]
    inputs: tuple  # one TreeBatch / SequenceBatch per sentence position (two for pairs)
    targets: Any  # torch.Tensor: what the loss compares the model's outputs with
    gold: np.ndarray  # per example, as the prediction files show it (a score, a label)
    node_gold: np.ndarray | None = None  # per-node labels of tree sentiment, in batch order

    @property
    def size(self) -> int:
        return len(self.ids)

    def to(self, device) -> "Batch":
        return dataclasses.replace(self, inputs=tuple(x.to(device) for x in self.inputs),
                                   targets=self.targets.to(device))


@dataclass
class Predictions:
    """Model outputs over a list of examples, in their order."""

    ids: list[str]
    gold: np.ndarray  # per example
    predicted: np.ndarray  # per example: what the task predicts (scores, class probabilities [B, C])
    node_gold: np.ndarray | None = None  # tree sentiment: every node's label
    node_predicted: np.ndarray | None = None  # and its class probabilities [N, C]


def encode_sentences(inputs, vocab: "Vocab", sentences: Sequence):
    """One batch of ``sentences`` (trees or token tuples) for the model's input kind."""
    return inputs.batch(sentences, [vocab.encode(tokens_of(sentence)) for sentence in sentences])


def encode_pairs(inputs, vocab: "Vocab", examples: Sequence[Example]) -> tuple:
    """The batches of the first and of the second sentences of sentence-pair examples."""
    return tuple(encode_sentences(inputs, vocab, [example.inputs[side] for example in examples]) for side in (0, 1))


class Collate:
    """``collate(examples) -> Batch`` for a DataLoader (a class, so worker processes can pickle it)."""

    def __init__(self, task: "Task", config: Config, vocab: "Vocab"):
        from treenets.models.inputs import input_kind

        self.task, self.config, self.vocab = task, config, vocab
        self.inputs = input_kind(config.model.is_tree)

    def __call__(self, examples: Sequence[Example]) -> Batch:
        return self.task.collate(examples, self.inputs, self.vocab, self.config)


class Task(abc.ABC):
    """The interface every task implements (see the module docstring); defaults where tasks agree.
    A task that leaves an abstract method out cannot be instantiated."""

    name: ClassVar[str]  # also a key of treenets.config.TASK_DATASETS (the datasets it reads)
    metrics: ClassVar[tuple[str, ...]]  # in table order
    main_metrics: ClassVar[tuple[str, ...]]  # the first one a run has ranks models (and stops training early)
    labels: ClassVar[Mapping[str, str]]  # metric -> its name in tables and plots
    lower_is_better: ClassVar[frozenset[str]] = frozenset()
    percent: ClassVar[bool] = False  # accuracies: stored as fractions, shown in percent
    decimals: ClassVar[int] = 4  # in formatted tables
    # Significance: the statistic of each metric a paired bootstrap can compare; vectorised over the
    # last axis of resampled (gold, predicted) arrays.
    bootstrap_statistics: ClassVar[Mapping[str, Callable]]
    unknown_target: ClassVar[Any] = -1  # the target of an example whose gold is unknown (new sentences)

    # ------------------------------------------------------------------ data
    @abc.abstractmethod
    def load_dataset(self, config: Config, splits: Iterable[str]) -> Dataset:
        ...

    def early_stopping_metric(self, config: Config) -> str:
        return self.main_metrics[0]

    def check_dataset(self, config: Config, dataset: Dataset) -> None:
        """InputError, before a run starts, where ``dataset`` cannot train this task."""

    # ------------------------------------------------------------------ model
    @abc.abstractmethod
    def head(self, config: Config, num_classes: int | None, score_range: tuple[int, int] | None) -> Callable:
        """``hidden_size -> nn.Module``: the head on top of an encoder of that width."""

    @abc.abstractmethod
    def collate(self, examples: Sequence[Example], inputs, vocab: "Vocab", config: Config) -> Batch:
        ...

    def loss(self, model, batch: Batch) -> "torch.Tensor":
        """The batch's loss, averaged over its examples."""
        return model.head.loss(model(*batch.inputs), batch.targets)

    @abc.abstractmethod
    def predict(self, model, batch: Batch) -> tuple[np.ndarray, np.ndarray | None]:
        """(per-example predictions, per-node predictions or None) of one batch, in its order."""

    # ------------------------------------------------------------------ scoring and files
    @abc.abstractmethod
    def scores(self, predictions: Predictions) -> dict[str, float]:
        ...

    @abc.abstractmethod
    def prediction_table(self, ids, gold, predicted) -> pd.DataFrame:
        ...

    @abc.abstractmethod
    def prediction_columns(self, gold, predicted) -> dict[str, Any]:
        """``treenets predict``'s columns: gold, the prediction, and each class's probability where there are classes."""

    def evaluate(self, predict: Callable[[list[Example]], Predictions], dataset: Dataset, split: str,
                 run_dir: str | os.PathLike) -> dict[str, float]:
        """Predict ``split`` with ``predict``, write its predictions file(s), return its metrics."""
        predictions = predict(dataset.splits[split])
        write_table(self.prediction_table(predictions.ids, predictions.gold, predictions.predicted),
                    output_path(run_dir, "predictions", split, ".tsv"))
        return self.scores(predictions)

    # ------------------------------------------------------------------ significance
    @abc.abstractmethod
    def owns(self, table: pd.DataFrame) -> bool:
        """Whether a predictions file (:func:`treenets.evaluate.read_predictions`) is this task's."""

    def default_bootstrap_metric(self, table: pd.DataFrame) -> str:
        return next(iter(self.bootstrap_statistics))

    def bootstrap_metric(self, metric: str) -> str:
        """The significance metric of a table metric (the main metric the report ranks by)."""
        return metric

    def aligned(self, a: pd.DataFrame, b: pd.DataFrame, metric: str, b_path) -> tuple[np.ndarray, ...]:
        """Gold, A's and B's predictions for ``metric`` over the shared examples."""
        merged = merge_predictions(a, b, b_path)
        return merged["gold_a"].to_numpy(), merged["predicted_a"].to_numpy(), merged["predicted_b"].to_numpy()

    def check_metric(self, table: pd.DataFrame, metric: str, path) -> None:
        """InputError when ``metric`` cannot be computed from the predictions in ``table``."""

    def paired_bootstrap(self, a_path, b_path, metric: str | None = None, n_resamples: int = 10_000, seed: int = 0,
                         confidence: float = 0.95) -> Comparison:
        """Paired bootstrap over the shared test examples of ``metric(A) - metric(B)``
        (:func:`treenets.evaluate.bootstrap_difference`)."""
        a, b = read_predictions(a_path), read_predictions(b_path)
        if not self.owns(b):
            raise InputError(f"not {self.name} predictions like {a_path}", b_path)
        metric = metric or self.default_bootstrap_metric(a)
        if metric not in self.bootstrap_statistics:
            raise InputError(f"metric {metric!r} does not apply to these predictions; choose "
                             f"{' or '.join(self.bootstrap_statistics)}", a_path)
        for table, path in ((a, a_path), (b, b_path)):
            self.check_metric(table, metric, path)
        gold, pred_a, pred_b = self.aligned(a, b, metric, b_path)
        return bootstrap_difference(gold, pred_a, pred_b, self.bootstrap_statistics[metric], metric,
                                    n_resamples=n_resamples, seed=seed, confidence=confidence)

    def compare(self, a_path, b_path, metric: str | None = None, n_resamples: int = 10_000, seed: int = 0) -> dict:
        """What ``treenets significance`` prints: the paired bootstrap (and task-specific tests)."""
        return {"bootstrap": self.paired_bootstrap(a_path, b_path, metric, n_resamples, seed).as_dict()}

    # ------------------------------------------------------------------ report
    @abc.abstractmethod
    def plot_predictions(self, axis, table: pd.DataFrame, metric: str) -> None:
        """Draw a run's test predictions (``table``) on ``axis``."""

    def report_notes(self, runs: Sequence[tuple[str, Path]]) -> str:
        """Markdown appended under the table: (model, predictions file) of each model's median-seed run."""
        return ""


def merge_predictions(a: pd.DataFrame, b: pd.DataFrame, b_path, same_gold: Callable = np.isclose) -> pd.DataFrame:
    """A's and B's rows joined on id (``_a`` / ``_b`` columns); InputError unless they cover the same
    examples with gold values that ``same_gold`` finds equal."""
    if set(a["id"]) != set(b["id"]):
        only = sorted(set(a["id"]) ^ set(b["id"]))
        raise InputError(f"the two files cover different examples (e.g. id {only[0]!r} is in only one)", b_path)
    merged = a.merge(b, on="id", suffixes=("_a", "_b"))
    same = np.asarray(same_gold(merged["gold_a"].to_numpy(), merged["gold_b"].to_numpy()), dtype=bool)
    if not same.all():
        raise InputError(f"gold values differ for id {merged['id'][~same].iloc[0]!r}", b_path)
    return merged
