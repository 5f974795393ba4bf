"""Sentiment (SST): a softmax classifier over every tree node's state (tree encoders) or over each
sentence vector (sequence encoders), cross-entropy summed over labelled nodes and averaged over
sentences; fine-grained and binary accuracy at the root and over all phrases (:mod:`treenets.evaluate`).

``sentiment.classes: 2`` is a separately trained binary model: it is trained on
:func:`~treenets.evaluate.binary_gold` of the 5-class labels, which the prediction files keep.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from treenets.config import Config
from treenets.datasets import Dataset, Example, sst_dataset
from treenets.evaluate import (NOT_BINARY, SENTIMENT_METRICS, accuracy, binary_gold, node_ids, output_path,
                               predicted_labels, sentiment_metrics, sentiment_table, write_table)
from treenets.errors import InputError
from treenets.tasks.base import Batch, Predictions, Task, encode_sentences, merge_predictions


class SentimentTask(Task):
    name = "sentiment"
    metrics = SENTIMENT_METRICS
    main_metrics = ("fine_root", "binary_root")  # a two-class model has no fine-grained accuracy
    labels = {"fine_root": "Fine-grained", "binary_root": "Binary", "fine_all": "Fine (all)",
              "binary_all": "Binary (all)"}
    percent = True
    decimals = 1
    bootstrap_statistics = {"fine": accuracy, "binary": accuracy}

    def load_dataset(self, config: Config, splits: Iterable[str]) -> Dataset:
        return sst_dataset(config, splits)

    def early_stopping_metric(self, config: Config) -> str:
        return "fine_root" if config.sentiment.classes == 5 else "binary_root"

    def head(self, config: Config, num_classes, score_range):
        from treenets.models.heads import SentimentHead

        return lambda hidden: SentimentHead(hidden, num_classes, config.model.dropout)

    def collate(self, examples: Sequence[Example], inputs, vocab, config: Config) -> Batch:
        """Labels of every node (trees: each example's target is a tuple) or of every sentence, in batch order."""
        import torch

        labels = np.concatenate([np.atleast_1d(np.asarray(example.target, dtype=np.int64)) for example in examples])
        batch = encode_sentences(inputs, vocab, [example.inputs[0] for example in examples])
        trained = binary_gold(labels) if config.sentiment.classes == 2 else labels
        gold = labels[inputs.sentence_rows(batch)]
        return Batch([example.id for example in examples], (batch,), torch.from_numpy(trained), gold,
                     labels if inputs.per_node else None)

    def loss(self, model, batch: Batch):
        """Cross-entropy summed over labelled nodes (or sentences), averaged over the sentences."""
        return model.head.loss(model(*batch.inputs), batch.targets, batch.size)

    def predict(self, model, batch: Batch):
        import torch

        probabilities = torch.softmax(model(*batch.inputs).float(), dim=-1)
        sentences = model.inputs.sentence_vectors(probabilities, batch.inputs[0]).cpu().numpy()
        return sentences, probabilities.cpu().numpy() if batch.node_gold is not None else None

    def scores(self, predictions: Predictions) -> dict[str, float]:
        return sentiment_metrics(predictions.gold, predictions.predicted, predictions.node_gold,
                                 predictions.node_predicted)

    def prediction_table(self, ids, gold, predicted) -> pd.DataFrame:
        return sentiment_table(ids, gold, predicted)

    def evaluate(self, predict: Callable[[list[Example]], Predictions], dataset: Dataset, split: str,
                 run_dir: str | os.PathLike) -> dict[str, float]:
        """Also every phrase's prediction (``phrases.tsv``): a tree model's node outputs, or a sequence
        model run over each phrase as a sentence of its own."""
        examples = dataset.splits[split]
        predictions = predict(examples)
        if split in dataset.phrases:  # a sequence model: every phrase as its own example
            phrases = predict(dataset.phrases[split])
            phrase_ids, phrase_gold, phrase_predicted = phrases.ids, phrases.gold, phrases.predicted
        else:
            labelled = predictions.node_gold >= 0
            phrase_ids = [i for example in examples
                          for i in node_ids(example.id, example.target, example.inputs[0].root)]
            phrase_gold, phrase_predicted = predictions.node_gold[labelled], predictions.node_predicted[labelled]
        metrics = sentiment_metrics(predictions.gold, predictions.predicted, phrase_gold, phrase_predicted)
        write_table(sentiment_table(predictions.ids, predictions.gold, predictions.predicted),
                    output_path(run_dir, "predictions", split, ".tsv"))
        write_table(sentiment_table(phrase_ids, phrase_gold, phrase_predicted),
                    output_path(run_dir, "phrases", split, ".tsv"))
        return metrics

    def prediction_columns(self, gold, predicted) -> dict:
        """The 5-class gold label, the predicted class (binary for a two-class model), the binary
        prediction of a 5-class model, and each class's probability ``p_<class>``."""
        fine, binary = predicted_labels(predicted)
        columns = {"gold": gold, "predicted": binary if fine is None else fine}
        if fine is not None:
            columns["predicted_binary"] = binary
        return {**columns, **{f"p_{label}": predicted[:, label] for label in range(predicted.shape[1])}}

    # ------------------------------------------------------------------ significance
    def owns(self, table: pd.DataFrame) -> bool:
        return "predicted_binary" in table

    def default_bootstrap_metric(self, table: pd.DataFrame) -> str:
        """Fine accuracy, or binary for a two-class model."""
        return "binary" if table["predicted"].isna().all() else "fine"

    def bootstrap_metric(self, metric: str) -> str:
        return {"fine_root": "fine", "binary_root": "binary"}[metric]

    def check_metric(self, table: pd.DataFrame, metric: str, path) -> None:
        if metric == "fine" and table["predicted"].isna().any():
            raise InputError("no fine-grained predictions (a two-class model): use --metric binary", path)

    def aligned(self, a, b, metric, b_path):
        """Binary accuracy compares the non-neutral examples only, so a two-class model (which never saw
        neutral sentences) can be compared with a fine-grained one."""
        if metric == "binary":
            a, b = (table[binary_gold(table["gold"]) != NOT_BINARY] for table in (a, b))
        merged = merge_predictions(a, b, b_path)
        gold = merged["gold_a"].to_numpy()
        if metric == "binary":
            columns = ("predicted_binary_a", "predicted_binary_b")
            return (binary_gold(gold),) + tuple(merged[column].to_numpy(int) for column in columns)
        return gold.astype(int), merged["predicted_a"].to_numpy(int), merged["predicted_b"].to_numpy(int)

    # ------------------------------------------------------------------ report
    def plot_predictions(self, axis, table: pd.DataFrame, metric: str) -> None:
        """The confusion matrix of the root labels: fine-grained, or binary for ``metric`` binary_root."""
        from sklearn.metrics import ConfusionMatrixDisplay

        if metric == "binary_root":
            gold = binary_gold(table["gold"])
            polar = gold != NOT_BINARY
            ConfusionMatrixDisplay.from_predictions(
                gold[polar], table["predicted_binary"][polar].astype(int), labels=[0, 1],
                display_labels=["negative", "positive"], normalize="true", values_format=".2f", colorbar=False, ax=axis)
        else:
            ConfusionMatrixDisplay.from_predictions(
                table["gold"].astype(int), table["predicted"].astype(int), labels=range(5),
                normalize="true", values_format=".2f", colorbar=False, ax=axis)
