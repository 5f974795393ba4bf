"""Metrics, prediction files and significance tests: the numbers, for whichever task asks.

Which task uses which is :mod:`treenets.tasks`' business; scoring a trained run is
:mod:`treenets.inference`'s. Relatedness (SICK): Pearson r, Spearman rho and MSE of the expected score, on the dataset's own
score scale. Sentiment (SST): fine-grained (5-class) and binary accuracy, at the sentence root and
over all phrases. Binary is scored as in Socher et al. 2013 / Tai et al. 2015: examples whose gold
label is neutral (2) are left out, gold 0-1 is negative and 3-4 positive, and a fine-grained
model's binary prediction is positive when its probability mass on classes 3-4 exceeds the mass on
0-1; a separately trained two-class model predicts the binary label directly. Classification
(SICK entailment): accuracy and macro-averaged F1 over the classes, and the confusion matrix.

Accuracies are fractions in [0, 1]. Prediction files are TSV with a header:
``id, gold, predicted`` for relatedness (scores) and ``id, gold, predicted, predicted_binary`` for
sentiment (``gold`` is always the 5-class label; ``predicted`` is empty for a two-class model).

Nothing here needs torch, so the report and the ``significance`` command work without it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, mean_squared_error

from treenets.errors import InputError
from treenets.files import atomic_write

RELATEDNESS_METRICS = ("pearson", "spearman", "mse")
SENTIMENT_METRICS = ("fine_root", "binary_root", "fine_all", "binary_all")
NEUTRAL = 2
NOT_BINARY = -1  # the binary label of a neutral example: excluded from binary accuracy


# --------------------------------------------------------------------------- metrics
def relatedness_metrics(gold, predicted) -> dict[str, float]:
    gold, predicted = np.asarray(gold, dtype=float), np.asarray(predicted, dtype=float)
    return {
        "pearson": float(stats.pearsonr(gold, predicted).statistic),
        "spearman": float(stats.spearmanr(gold, predicted).statistic),
        "mse": float(mean_squared_error(gold, predicted)),
    }


def binary_gold(fine_labels) -> np.ndarray:
    """SST 5-class labels -> 0 (negative: 0, 1), 1 (positive: 3, 4), ``NOT_BINARY`` (neutral: 2, or
    an unlabelled node's -1)."""
    fine_labels = np.asarray(fine_labels)
    excluded = (fine_labels == NEUTRAL) | (fine_labels < 0)
    return np.where(excluded, NOT_BINARY, (fine_labels > NEUTRAL).astype(int))


def predicted_labels(probabilities) -> tuple[np.ndarray | None, np.ndarray]:
    """(fine-grained prediction or None, binary prediction) from class probabilities [N, C].

    C = 5: argmax, and positive when the mass of classes 3-4 exceeds that of 0-1 (ties negative);
    C = 2: a separately trained binary model, argmax, with no fine-grained prediction.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.ndim != 2 or probabilities.shape[1] not in (2, 5):
        raise ValueError(f"expected class probabilities of shape [N, 5] or [N, 2], got {probabilities.shape}")
    if probabilities.shape[1] == 2:
        return None, probabilities.argmax(axis=1)
    positive = probabilities[:, NEUTRAL + 1 :].sum(axis=1)
    negative = probabilities[:, :NEUTRAL].sum(axis=1)
    return probabilities.argmax(axis=1), (positive > negative).astype(int)


def sentiment_accuracy(gold, predicted, predicted_binary) -> dict[str, float]:
    """``fine`` (absent when ``predicted`` is None) and ``binary`` accuracy (neutral gold excluded)."""
    gold = np.asarray(gold)
    labelled = gold >= 0  # a dependency node that spans no SST phrase has no label
    scores = {}
    if predicted is not None:
        scores["fine"] = float(accuracy_score(gold[labelled], np.asarray(predicted)[labelled]))
    gold_binary = binary_gold(gold)
    polar = gold_binary != NOT_BINARY
    scores["binary"] = float(accuracy_score(gold_binary[polar], np.asarray(predicted_binary)[polar]))
    return scores


def sentiment_metrics(root_gold, root_probabilities, phrase_gold=None, phrase_probabilities=None) -> dict[str, float]:
    """``fine_root``, ``binary_root`` and, when phrase predictions are given, ``fine_all``, ``binary_all``."""
    metrics = {}
    scopes = [("root", root_gold, root_probabilities)]
    if phrase_gold is not None:
        scopes.append(("all", phrase_gold, phrase_probabilities))
    for scope, gold, probabilities in scopes:
        for name, value in sentiment_accuracy(gold, *predicted_labels(probabilities)).items():
            metrics[f"{name}_{scope}"] = value
    return metrics


def classification_metrics(gold, predicted, classes: int) -> dict[str, float]:
    """``accuracy`` and ``macro_f1`` (F1 averaged over all ``classes`` classes; 0 for a class never
    predicted nor present) of class indices."""
    labels = list(range(classes))
    return {"accuracy": float(accuracy_score(gold, predicted)),
            "macro_f1": float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0))}


def confusion(gold, predicted, classes: int) -> np.ndarray:
    """Counts ``[classes, classes]``: row = gold class, column = predicted class."""
    return confusion_matrix(gold, predicted, labels=list(range(classes)))


# --------------------------------------------------------------------------- prediction files
def relatedness_table(ids, gold, predicted) -> pd.DataFrame:
    return pd.DataFrame({"id": list(map(str, ids)), "gold": gold, "predicted": predicted})


def sentiment_table(ids, gold, probabilities) -> pd.DataFrame:
    fine, binary = predicted_labels(probabilities)
    fine_column = pd.array([pd.NA] * len(binary), dtype="Int64") if fine is None else fine
    return pd.DataFrame(
        {"id": list(map(str, ids)), "gold": gold, "predicted": fine_column, "predicted_binary": binary}
    )


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> None:
    with atomic_write(path) as handle:
        table.to_csv(handle, sep="\t", index=False, float_format="%.6f")


def read_predictions(path: str | os.PathLike) -> pd.DataFrame:
    """A predictions file as written by :func:`write_table`; ``InputError`` naming the file if not."""
    try:
        table = pd.read_csv(path, sep="\t", dtype={"id": str}, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise InputError(f"cannot read predictions: {err}", path) from None
    missing = {"id", "gold", "predicted"} - set(table.columns)
    if missing:
        raise InputError(f"not a predictions file: missing column(s) {', '.join(sorted(missing))}", path)
    if table["id"].duplicated().any():
        raise InputError(f"duplicate id {table['id'][table['id'].duplicated()].iloc[0]!r}", path)
    return table


# --------------------------------------------------------------------------- significance
# Each bootstrap statistic takes resampled (gold, predicted) arrays along the last axis.
def accuracy(gold, predicted):
    return np.mean(gold == predicted, axis=-1)


def pearson(gold, predicted):
    return stats.pearsonr(gold, predicted, axis=-1).statistic


def spearman(gold, predicted):
    return pearson(stats.rankdata(gold, axis=-1), stats.rankdata(predicted, axis=-1))


def mse(gold, predicted):
    return np.mean((gold - predicted) ** 2, axis=-1)


def macro_f1(classes: int):
    """The macro-averaged F1 of class indices as a bootstrap statistic (as :func:`classification_metrics`)."""

    def statistic(gold, predicted):
        f1 = []
        for c in range(classes):
            tp = np.sum((gold == c) & (predicted == c), axis=-1)
            wrong = np.sum((gold == c) != (predicted == c), axis=-1)  # false positives + false negatives
            f1.append(np.divide(2 * tp, 2 * tp + wrong, out=np.zeros(np.shape(tp)), where=(2 * tp + wrong) > 0))
        return np.mean(f1, axis=0)

    return statistic


@dataclass(frozen=True)
class Comparison:
    metric: str
    n: int
    score_a: float
    score_b: float
    delta: float  # score_a - score_b
    ci_low: float
    ci_high: float
    p_value: float

    def as_dict(self) -> dict:
        return dict(vars(self))


def bootstrap_difference(gold, pred_a, pred_b, score, metric: str, n_resamples: int = 10_000, seed: int = 0,
                         confidence: float = 0.95) -> Comparison:
    """Paired bootstrap over examples of ``score(gold, A) - score(gold, B)``.

    Examples are resampled with replacement (the same indices for A and B) by
    ``scipy.stats.bootstrap``; the interval is the percentile interval, and the two-sided p-value
    is the share of resampled differences at least as far from the observed difference as the
    observed difference is from 0 (the bootstrap distribution shifted to the null; Efron &
    Tibshirani 1993, sec. 16.4).
    """

    def difference(gold, pred_a, pred_b, axis=-1):
        return score(gold, pred_a) - score(gold, pred_b)

    result = stats.bootstrap(
        (gold, pred_a, pred_b), difference, paired=True, vectorized=True, n_resamples=n_resamples,
        batch=1000, method="percentile", confidence_level=confidence, rng=np.random.default_rng(seed),
    )
    delta = float(difference(gold, pred_a, pred_b))
    shifted = np.abs(result.bootstrap_distribution - delta)
    p_value = float((1 + np.sum(shifted >= abs(delta))) / (1 + n_resamples))
    return Comparison(
        metric=metric, n=len(gold), score_a=float(score(gold, pred_a)), score_b=float(score(gold, pred_b)),
        delta=delta, ci_low=float(result.confidence_interval.low), ci_high=float(result.confidence_interval.high),
        p_value=p_value,
    )


def williams_test(gold, predicted_a, predicted_b) -> dict[str, float]:
    """Williams' (1959) test of r(gold, A) = r(gold, B) for two correlations sharing ``gold``.

    t = (r12 - r13) sqrt((n-1)(1+r23)) / sqrt(2 K (n-1)/(n-3) + ((r12+r13)/2)^2 (1-r23)^3), with
    K = 1 - r12^2 - r13^2 - r23^2 + 2 r12 r13 r23, on n - 3 degrees of freedom (Steiger 1980, eq. 7;
    Graham & Baldwin 2014 use it for metric correlations). Two-sided p-value.
    """
    gold, a, b = (np.asarray(x, dtype=float) for x in (gold, predicted_a, predicted_b))
    n = len(gold)
    if n <= 3:
        raise ValueError(f"Williams' test needs more than 3 examples, got {n}")
    r12, r13, r23 = (stats.pearsonr(x, y).statistic for x, y in ((gold, a), (gold, b), (a, b)))
    return {"r_a": float(r12), "r_b": float(r13), "r_ab": float(r23), "n": n, **williams_t(r12, r13, r23, n)}


def williams_t(r12: float, r13: float, r23: float, n: int) -> dict[str, float]:
    k = 1 - r12**2 - r13**2 - r23**2 + 2 * r12 * r13 * r23
    denominator = np.sqrt(2 * k * (n - 1) / (n - 3) + ((r12 + r13) / 2) ** 2 * (1 - r23) ** 3)
    t = (r12 - r13) * np.sqrt((n - 1) * (1 + r23)) / denominator
    return {"t": float(t), "p_value": float(2 * stats.t.sf(abs(t), n - 3))}


# --------------------------------------------------------------------------- files of a trained run
def output_path(run_dir: str | os.PathLike, stem: str, split: str, suffix: str) -> Path:
    """``metrics.json`` / ``predictions.tsv`` / ``phrases.tsv`` for the test split (what the report
    reads), ``<stem>-<split><suffix>`` for any other split."""
    return Path(run_dir) / (f"{stem}{suffix}" if split == "test" else f"{stem}-{split}{suffix}")


def node_ids(sentence_id: str, labels, root: int) -> list[str]:
    """Ids of a tree's labelled nodes: the sentence's own id at the root, ``<id>.<node>`` elsewhere
    (the ids :func:`treenets.datasets.phrase_examples` gives, so tree and sequence runs pair up)."""
    return [sentence_id if node == root else f"{sentence_id}.{node}" for node, label in enumerate(labels) if label >= 0]
