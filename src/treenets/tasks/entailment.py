"""Entailment (SICK's ``entailment_judgment``): is sentence B entailed by A, neutral, or contradicted?

The pair classifier of Tai et al. (2015) over the same sentence encoders as relatedness: features
[h_L * h_R; |h_L - h_R|], a sigmoid layer of ``model.head_hidden`` units, a softmax over the three
classes, cross-entropy. Metrics: accuracy (ranks models, stops training early) and macro-averaged F1;
the report adds each model's confusion matrix. Prediction files hold the label names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from treenets.config import Config
from treenets.datasets import Dataset, Example, pair_dataset
from treenets.errors import InputError
from treenets.evaluate import accuracy, classification_metrics, confusion, macro_f1, read_predictions
from treenets.tasks.base import Batch, Predictions, Task, encode_pairs, merge_predictions

CLASSES = ("ENTAILMENT", "NEUTRAL", "CONTRADICTION")


class EntailmentTask(Task):
    name = "entailment"
    metrics = ("accuracy", "macro_f1")
    main_metrics = ("accuracy",)
    labels = {"accuracy": "Accuracy", "macro_f1": "Macro-F1"}
    percent = True
    decimals = 1
    bootstrap_statistics = {"accuracy": accuracy, "macro_f1": macro_f1(len(CLASSES))}

    def load_dataset(self, config: Config, splits: Iterable[str]) -> Dataset:
        def target(pair) -> int:
            if pair.label not in CLASSES:
                raise InputError(f"pair {pair.id}: entailment label {pair.label!r} is not one of {', '.join(CLASSES)}")
            return CLASSES.index(pair.label)

        dataset = pair_dataset(config, splits, target, labels=True)
        return dataclasses.replace(dataset, score_range=None, num_classes=len(CLASSES))

    def head(self, config: Config, num_classes, score_range):
        from treenets.models.heads import PairClassifierHead

        return lambda hidden: PairClassifierHead(hidden, config.model.head_hidden, num_classes, config.model.dropout)

    def collate(self, examples: Sequence[Example], inputs, vocab, config: Config) -> Batch:
        import torch

        gold = np.array([example.target for example in examples], dtype=np.int64)
        sides = encode_pairs(inputs, vocab, examples)
        return Batch([example.id for example in examples], sides, torch.from_numpy(gold), gold)

    def predict(self, model, batch: Batch):
        """Class probabilities ``[B, 3]``."""
        return model(*batch.inputs).float().exp().cpu().numpy(), None

    def scores(self, predictions: Predictions) -> dict[str, float]:
        return classification_metrics(predictions.gold, predictions.predicted.argmax(axis=1), len(CLASSES))

    def prediction_table(self, ids, gold, predicted) -> pd.DataFrame:
        names = np.array(CLASSES)
        return pd.DataFrame({"id": list(map(str, ids)), "gold": names[np.asarray(gold)],
                             "predicted": names[np.asarray(predicted).argmax(axis=1)]})

    def prediction_columns(self, gold, predicted) -> dict:
        names = np.array(CLASSES)
        return {"gold": names[np.asarray(gold)], "predicted": names[np.asarray(predicted).argmax(axis=1)],
                **{f"p_{name}": predicted[:, index] for index, name in enumerate(CLASSES)}}

    # ------------------------------------------------------------------ significance
    def owns(self, table: pd.DataFrame) -> bool:
        return "predicted_binary" not in table and set(table["gold"]) <= set(CLASSES)

    def aligned(self, a, b, metric, b_path):
        merged = merge_predictions(a, b, b_path, same_gold=np.equal)
        return tuple(_indices(merged[column]) for column in ("gold_a", "predicted_a", "predicted_b"))

    # ------------------------------------------------------------------ report
    def plot_predictions(self, axis, table: pd.DataFrame, metric: str) -> None:
        from sklearn.metrics import ConfusionMatrixDisplay

        ConfusionMatrixDisplay.from_predictions(
            table["gold"], table["predicted"], labels=list(CLASSES), display_labels=[c.lower() for c in CLASSES],
            normalize="true", values_format=".2f", colorbar=False, ax=axis)

    def report_notes(self, runs: Sequence[tuple[str, Path]]) -> str:
        """Each model's confusion matrix on the test set (counts; rows gold, columns predicted)."""
        header = "| gold \\ predicted | " + " | ".join(c.lower() for c in CLASSES) + " |"
        rule = "| --- |" + " ---: |" * len(CLASSES)
        parts = []
        for model, path in runs:
            table = read_predictions(path)
            counts = confusion(_indices(table["gold"]), _indices(table["predicted"]), len(CLASSES))
            rows = [f"| {c.lower()} | " + " | ".join(str(n) for n in row) + " |" for c, row in zip(CLASSES, counts)]
            parts.append(f"Confusion matrix, {model} (median-seed run):\n\n" + "\n".join([header, rule, *rows]))
        return "\n\n".join(parts)


def _indices(labels: pd.Series) -> np.ndarray:
    """Label names -> class indices."""
    return np.array([CLASSES.index(label) for label in labels])
