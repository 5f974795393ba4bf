"""Relatedness (SICK, any scored sentence-pair file): Tai et al.'s similarity head over two sentence
vectors, KL to a sparse distribution over the integer scores, the expected score as prediction;
Pearson r, Spearman rho and MSE; Williams' test beside the paired bootstrap."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from treenets.config import Config
from treenets.datasets import Dataset, Example, pair_dataset
from treenets.errors import InputError
from treenets.evaluate import (RELATEDNESS_METRICS, mse, pearson, read_predictions, relatedness_metrics,
                               relatedness_table, spearman, williams_test)
from treenets.splits import split_files
from treenets.tasks.base import Batch, Predictions, Task, encode_pairs, merge_predictions


class RelatednessTask(Task):
    name = "relatedness"
    metrics = RELATEDNESS_METRICS
    main_metrics = ("pearson",)
    labels = {"pearson": "Pearson's r", "spearman": "Spearman's ρ", "mse": "MSE"}
    lower_is_better = frozenset({"mse"})
    bootstrap_statistics = {"pearson": pearson, "spearman": spearman, "mse": mse}
    unknown_target = float("nan")

    def load_dataset(self, config: Config, splits: Iterable[str]) -> Dataset:
        return pair_dataset(config, splits, target=lambda pair: float(pair.score))

    def check_dataset(self, config: Config, dataset: Dataset) -> None:
        """Dev scores that vary: Pearson's r, which picks the best epoch, is undefined otherwise."""
        examples = dataset.splits["dev"]
        if len({example.target for example in examples}) < 2:
            raise InputError(f"every pair of the dev split has the score {examples[0].target:g}, so Pearson's r "
                             "(which picks the best epoch) is undefined", split_files(config, ("dev",))["dev"])

    def head(self, config: Config, num_classes, score_range):
        from treenets.models.heads import RelatednessHead

        return lambda hidden: RelatednessHead(hidden, config.model.head_hidden, score_range, config.model.dropout)

    def collate(self, examples: Sequence[Example], inputs, vocab, config: Config) -> Batch:
        import torch

        gold = np.array([example.target for example in examples])
        sides = encode_pairs(inputs, vocab, examples)
        return Batch([example.id for example in examples], sides, torch.from_numpy(gold.astype(np.float32)), gold)

    def predict(self, model, batch: Batch):
        return model.head.predict(model(*batch.inputs)).cpu().numpy(), None

    def scores(self, predictions: Predictions) -> dict[str, float]:
        return relatedness_metrics(predictions.gold, predictions.predicted)

    def prediction_table(self, ids, gold, predicted) -> pd.DataFrame:
        return relatedness_table(ids, gold, predicted)

    def prediction_columns(self, gold, predicted) -> dict:
        return {"gold": gold, "predicted": predicted}

    def owns(self, table: pd.DataFrame) -> bool:
        return "predicted_binary" not in table and pd.api.types.is_numeric_dtype(table["predicted"])

    def aligned(self, a, b, metric, b_path):
        merged = merge_predictions(a, b, b_path)
        return tuple(merged[column].to_numpy(float) for column in ("gold_a", "predicted_a", "predicted_b"))

    def compare(self, a_path, b_path, metric=None, n_resamples=10_000, seed=0) -> dict:
        """The paired bootstrap, plus Williams' test of the two Pearson correlations."""
        report = super().compare(a_path, b_path, metric, n_resamples, seed)
        a, b = read_predictions(a_path), read_predictions(b_path)
        report["williams"] = williams_test(*self.aligned(a, b, "pearson", b_path))
        return report

    def plot_predictions(self, axis, table: pd.DataFrame, metric: str) -> None:
        axis.scatter(table["gold"], table["predicted"], s=4, alpha=0.4)
        low, high = table["gold"].min(), table["gold"].max()
        axis.plot([low, high], [low, high], color="grey", linewidth=0.8)
        axis.set(xlabel="gold", ylabel="predicted")
