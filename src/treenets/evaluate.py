"""Metrics, prediction files and significance tests; ``evaluate(run_dir, split)`` for a trained run.

Relatedness (SICK): Pearson r, Spearman rho and MSE of the expected score, on the dataset's own
score scale. Sentiment (SST): fine-grained (5-class) and binary accuracy, at the sentence root and
over all phrases. Binary is scored as in Socher et al. 2013 / Tai et al. 2015: examples whose gold
label is neutral (2) are left out, gold 0-1 is negative and 3-4 positive, and a fine-grained
model's binary prediction is positive when its probability mass on classes 3-4 exceeds the mass on
0-1; a separately trained two-class model predicts the binary label directly.

Accuracies are fractions in [0, 1]. Prediction files are TSV with a header:
``id, gold, predicted`` for relatedness (scores) and ``id, gold, predicted, predicted_binary`` for
sentiment (``gold`` is always the 5-class label; ``predicted`` is empty for a two-class model).

Everything above :func:`evaluate` needs numpy/scipy/sklearn/pandas only, so the report and the
``significance`` command work without torch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import accuracy_score, mean_squared_error

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


def is_sentiment(table: pd.DataFrame) -> bool:
    return "predicted_binary" in table.columns


# --------------------------------------------------------------------------- significance
# Each bootstrap statistic takes resampled (gold, predicted) arrays along the last axis.
def _accuracy(gold, predicted):
    return np.mean(gold == predicted, axis=-1)


def _pearson(gold, predicted):
    return stats.pearsonr(gold, predicted, axis=-1).statistic


def _spearman(gold, predicted):
    return _pearson(stats.rankdata(gold, axis=-1), stats.rankdata(predicted, axis=-1))


def _mse(gold, predicted):
    return np.mean((gold - predicted) ** 2, axis=-1)


BOOTSTRAP_METRICS = {"pearson": _pearson, "spearman": _spearman, "mse": _mse, "fine": _accuracy, "binary": _accuracy}


def default_metric(table: pd.DataFrame) -> str:
    """Pearson for relatedness; fine accuracy for sentiment, binary for a two-class model."""
    if not is_sentiment(table):
        return "pearson"
    return "binary" if table["predicted"].isna().all() else "fine"


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


def _aligned(a: pd.DataFrame, b: pd.DataFrame, metric: str, a_path, b_path) -> tuple[np.ndarray, ...]:
    """Gold, A's and B's predictions for ``metric`` over the shared examples, checked for agreement.

    Binary accuracy compares the non-neutral examples only, so a two-class model (which never saw
    neutral sentences) can be compared with a fine-grained one.
    """
    if metric == "binary":
        a, b = (table[binary_gold(table["gold"]) != NOT_BINARY] for table in (a, b))
    if set(a["id"]) != set(b["id"]):
        only = sorted(set(a["id"]) ^ set(b["id"]))
        raise InputError(f"the two files cover different examples (e.g. id {only[0]!r} is in only one)", b_path)
    merged = a.merge(b, on="id", suffixes=("_a", "_b"))
    if not np.allclose(merged["gold_a"].to_numpy(float), merged["gold_b"].to_numpy(float)):
        bad = merged["id"][~np.isclose(merged["gold_a"], merged["gold_b"])].iloc[0]
        raise InputError(f"gold values differ for id {bad!r}", b_path)
    gold = merged["gold_a"].to_numpy()
    if metric in ("pearson", "spearman", "mse"):
        return gold.astype(float), merged["predicted_a"].to_numpy(float), merged["predicted_b"].to_numpy(float)
    if metric == "binary":
        columns = ("predicted_binary_a", "predicted_binary_b")
        return (binary_gold(gold),) + tuple(merged[column].to_numpy(int) for column in columns)
    return gold.astype(int), merged["predicted_a"].to_numpy(int), merged["predicted_b"].to_numpy(int)


def paired_bootstrap(
    a_path: str | os.PathLike,
    b_path: str | os.PathLike,
    metric: str | None = None,
    n_resamples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Comparison:
    """Paired bootstrap over test examples of ``metric(A) - metric(B)``.

    Examples are resampled with replacement (the same indices for A and B) by
    ``scipy.stats.bootstrap``; the interval is the percentile interval, and the two-sided p-value
    is the share of resampled differences at least as far from the observed difference as the
    observed difference is from 0 (the bootstrap distribution shifted to the null; Efron &
    Tibshirani 1993, sec. 16.4).
    """
    a, b = read_predictions(a_path), read_predictions(b_path)
    if is_sentiment(a) != is_sentiment(b):
        raise InputError("one file holds sentiment and the other relatedness predictions", b_path)
    metric = metric or default_metric(a)
    allowed = ("fine", "binary") if is_sentiment(a) else ("pearson", "spearman", "mse")
    if metric not in allowed:
        raise InputError(f"metric {metric!r} does not apply to these predictions; choose {' or '.join(allowed)}",
                         a_path)
    for table, path in ((a, a_path), (b, b_path)):
        if metric == "fine" and table["predicted"].isna().any():
            raise InputError("no fine-grained predictions (a two-class model): use --metric binary", path)
    gold, pred_a, pred_b = _aligned(a, b, metric, a_path, b_path)
    score = BOOTSTRAP_METRICS[metric]

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


def compare(a_path, b_path, metric: str | None = None, n_resamples: int = 10_000, seed: int = 0) -> dict:
    """The paired bootstrap, plus Williams' test when both files hold relatedness scores."""
    comparison = paired_bootstrap(a_path, b_path, metric, n_resamples=n_resamples, seed=seed)
    report = {"bootstrap": comparison.as_dict()}
    a, b = read_predictions(a_path), read_predictions(b_path)
    if not is_sentiment(a):
        report["williams"] = williams_test(*_aligned(a, b, "pearson", a_path, b_path))
    return report


# --------------------------------------------------------------------------- a trained run
def output_path(run_dir: str | os.PathLike, stem: str, split: str, suffix: str) -> Path:
    """``metrics.json`` / ``predictions.tsv`` / ``phrases.tsv`` for the test split (what the report
    reads), ``<stem>-<split><suffix>`` for any other split."""
    return Path(run_dir) / (f"{stem}{suffix}" if split == "test" else f"{stem}-{split}{suffix}")


def node_ids(sentence_id: str, labels, root: int) -> list[str]:
    """Ids of a tree's labelled nodes: the sentence's own id at the root, ``<id>.<node>`` elsewhere
    (the ids :func:`treenets.datasets.phrase_examples` gives, so tree and sequence runs pair up)."""
    return [sentence_id if node == root else f"{sentence_id}.{node}" for node, label in enumerate(labels) if label >= 0]


def evaluate(run_dir: str | os.PathLike, split: str = "test") -> dict[str, float]:
    """Score the best checkpoint of a complete run on ``split``; write metrics and predictions.

    Sentiment runs also get every phrase's prediction (``phrases.tsv``): a tree model's node
    outputs, or a sequence model run over each phrase as a sentence of its own.
    """
    from treenets import train  # torch: only for running a model, not for the metrics above
    from treenets.datasets import load_dataset

    config, vocab, model, device = train.load_best(run_dir)
    dataset = load_dataset(config, [split])
    examples = dataset.splits[split]
    collate = train.Collate(vocab, binary=config.task == "sentiment" and config.sentiment.classes == 2)
    predictions = train.predict(model, examples, collate, config, device)
    if config.task == "relatedness":
        metrics = relatedness_metrics(predictions.gold, predictions.predicted)
        write_table(relatedness_table(predictions.ids, predictions.gold, predictions.predicted),
                    output_path(run_dir, "predictions", split, ".tsv"))
    else:
        if split in dataset.phrases:  # a sequence model: every phrase as its own example
            phrases = train.predict(model, dataset.phrases[split], collate, config, device)
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
    summary = {**metrics, "split": split, "examples": len(examples)}
    with atomic_write(output_path(run_dir, "metrics", split, ".json")) as handle:
        json.dump(summary, handle, indent=2)
    return summary
