"""Each task's batches, loss, metrics and prediction files on hand-computed values; the registry."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from treenets.config import load_config
from treenets.datasets import Example
from treenets.embeddings import Vocab
from treenets.errors import InputError
from treenets.evaluate import classification_metrics, macro_f1, read_predictions, write_table
from treenets.models.heads import PairClassifierHead, RelatednessHead, SentimentHead
from treenets.models.inputs import SequenceInputs, TreeInputs
from treenets.tasks import TASKS, Predictions, compare, paired_bootstrap, task_for, task_of_predictions
from treenets.trees import Tree

VOCAB = Vocab.build([["a", "dog", "runs", "cat", "sleeps"]])
SICK = {"task": "relatedness", "data": {"dataset": "sick"}, "model": {"name": "lstm"}}


class FixedOutputs:
    """A stand-in model: its head, and the outputs it returns whatever the batches."""

    def __init__(self, head, outputs, inputs=SequenceInputs()):
        self.head, self.outputs, self.inputs = head, outputs, inputs

    def __call__(self, *batches):
        return self.outputs


def pair_examples(targets) -> list[Example]:
    return [Example(str(i), (("a", "dog"), ("a", "cat", "sleeps")), target) for i, target in enumerate(targets)]


def test_the_registry_and_the_early_stopping_metric():
    assert set(TASKS) == {"relatedness", "sentiment", "entailment"}
    with pytest.raises(InputError, match="unknown task 'parsing'"):
        task_for("parsing")
    sst = {"task": "sentiment", "data": {"dataset": "sst"}, "model": {"name": "nary_treelstm"}}
    assert task_for("sentiment").early_stopping_metric(load_config(sst)) == "fine_root"
    binary = load_config({**sst, "sentiment": {"classes": 2}})
    assert task_for("sentiment").early_stopping_metric(binary) == "binary_root"
    assert task_for("relatedness").early_stopping_metric(load_config(SICK)) == "pearson"
    assert task_for("entailment").early_stopping_metric(load_config({**SICK, "task": "entailment"})) == "accuracy"
    with pytest.raises(InputError, match="task entailment needs sick"):
        load_config({**SICK, "task": "entailment", "data": {"dataset": "sst"}})


# --------------------------------------------------------------------------- relatedness
def test_relatedness_batch_loss_and_metrics_by_hand():
    task, config = task_for("relatedness"), load_config(SICK)
    batch = task.collate(pair_examples([4.2, 1.0]), SequenceInputs(), VOCAB, config)
    # ids in sorted order after padding (0) and unknown (1): a 2, cat 3, dog 4, runs 5, sleeps 6
    assert [side.token_ids.tolist() for side in batch.inputs] == [[[2, 4], [2, 4]], [[2, 3, 6], [2, 3, 6]]]
    assert batch.targets.tolist() == pytest.approx([4.2, 1.0]) and batch.gold.tolist() == [4.2, 1.0]
    # uniform predictions: KL(p || 1/5) = sum p log(5 p); 4.2 -> p = (0, 0, 0, .8, .2), 1.0 -> (1, 0, 0, 0, 0)
    uniform = torch.full((2, 5), math.log(0.2))
    loss = task.loss(FixedOutputs(RelatednessHead(4, 3), uniform), batch)
    expected = (0.8 * math.log(5 * 0.8) + 0.2 * math.log(5 * 0.2) + math.log(5)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    predicted, per_node = task.predict(FixedOutputs(RelatednessHead(4, 3), uniform), batch)
    assert predicted.tolist() == pytest.approx([3.0, 3.0]) and per_node is None  # the expected score
    scores = task.scores(Predictions(["0", "1", "2", "3"], np.array([1.0, 2, 3, 4]), np.array([2.0, 1, 3, 5])))
    assert scores["pearson"] == pytest.approx(5.5 / math.sqrt(5 * 8.75)) and scores["mse"] == pytest.approx(0.75)


# --------------------------------------------------------------------------- sentiment
def tree(labels) -> Tree:
    """(dog runs) with a label per node: tokens 0, 1, then the phrase node 2 (the root)."""
    return Tree(("dog", "runs"), [(), (), (0, 1)], labels)


def test_sentiment_batches_of_trees_and_of_sequences():
    task = task_for("sentiment")
    config = load_config({"task": "sentiment", "data": {"dataset": "sst"}, "model": {"name": "nary_treelstm"}})
    examples = [Example("1", (tree([1, -1, 4]),), (1, -1, 4)), Example("2", (tree([0, 2, 3]),), (0, 2, 3))]
    batch = task.collate(examples, TreeInputs(), VOCAB, config)
    assert batch.gold.tolist() == [4, 3] and batch.node_gold.tolist() == [1, -1, 4, 0, 2, 3]
    assert batch.targets.tolist() == [1, -1, 4, 0, 2, 3]
    binary = load_config({"task": "sentiment", "data": {"dataset": "sst"}, "model": {"name": "lstm"},
                          "sentiment": {"classes": 2}})
    sequences = [Example("1", (("dog", "runs"),), 4), Example("2", (("a", "cat"),), 0)]
    batch = task.collate(sequences, SequenceInputs(), VOCAB, binary)
    assert batch.gold.tolist() == [4, 0] and batch.targets.tolist() == [1, 0] and batch.node_gold is None


def test_sentiment_loss_sums_over_nodes_and_averages_over_sentences():
    task = task_for("sentiment")
    config = load_config({"task": "sentiment", "data": {"dataset": "sst"}, "model": {"name": "nary_treelstm"}})
    examples = [Example("1", (tree([1, -1, 4]),), (1, -1, 4)), Example("2", (tree([0, 2, 3]),), (0, 2, 3))]
    batch = task.collate(examples, TreeInputs(), VOCAB, config)
    # equal logits: every labelled node costs log 5; five labelled nodes over two sentences
    loss = task.loss(FixedOutputs(SentimentHead(4, 5), torch.zeros(6, 5), TreeInputs()), batch)
    assert loss.item() == pytest.approx(5 * math.log(5) / 2)


def test_sentiment_metrics_by_hand():
    probabilities = np.array([[0.1, 0.6, 0.1, 0.1, 0.1],   # fine 1, negative
                              [0.0, 0.1, 0.2, 0.3, 0.4],   # fine 4, positive
                              [0.2, 0.2, 0.3, 0.2, 0.1]])  # fine 2, negative (0.4 > 0.3)
    scores = task_for("sentiment").scores(Predictions(["1", "2", "3"], np.array([1, 3, 4]), probabilities))
    # fine: 1 of 3 right; binary: gold negative, positive, positive -> 2 of 3 right
    assert scores == pytest.approx({"fine_root": 1 / 3, "binary_root": 2 / 3})


# --------------------------------------------------------------------------- entailment
def test_entailment_batch_loss_and_metrics_by_hand():
    task = task_for("entailment")
    config = load_config({**SICK, "task": "entailment"})
    batch = task.collate(pair_examples([0, 2]), SequenceInputs(), VOCAB, config)
    assert batch.targets.tolist() == [0, 2] and batch.gold.tolist() == [0, 2]
    log_probs = torch.log(torch.tensor([[0.5, 0.25, 0.25], [0.2, 0.2, 0.6]]))
    loss = task.loss(FixedOutputs(PairClassifierHead(4, 3, 3), log_probs), batch)
    assert loss.item() == pytest.approx((math.log(2) - math.log(0.6)) / 2, rel=1e-6)
    predicted, _ = task.predict(FixedOutputs(PairClassifierHead(4, 3, 3), log_probs), batch)
    np.testing.assert_allclose(predicted, [[0.5, 0.25, 0.25], [0.2, 0.2, 0.6]], rtol=1e-6)
    # gold E E N C, predicted E N N N: accuracy 2/4; F1 E = 2/3, N = 2*1/(2*1+2) = 1/2, C = 0
    one_hot = np.eye(3)[[0, 1, 1, 1]]
    scores = task.scores(Predictions(list("abcd"), np.array([0, 0, 1, 2]), one_hot))
    assert scores == pytest.approx({"accuracy": 0.5, "macro_f1": (2 / 3 + 1 / 2 + 0) / 3})


def test_macro_f1_as_a_bootstrap_statistic_is_sklearns():
    rng = np.random.default_rng(0)
    gold, predicted = rng.integers(0, 3, (5, 40)), rng.integers(0, 3, (5, 40))
    expected = [classification_metrics(g, p, 3)["macro_f1"] for g, p in zip(gold, predicted)]
    np.testing.assert_allclose(macro_f1(3)(gold, predicted), expected)


def test_entailment_prediction_files_and_their_significance(tmp_path):
    task = task_for("entailment")
    rng = np.random.default_rng(1)
    gold = rng.integers(0, 3, 300)
    good = np.where(rng.random(300) < 0.8, gold, (gold + 1) % 3)  # ~80% right
    bad = np.where(rng.random(300) < 0.5, gold, (gold + 1) % 3)  # ~50% right
    ids = [f"p{i}" for i in range(300)]
    for name, predicted in (("good", good), ("bad", bad)):
        write_table(task.prediction_table(ids, gold, np.eye(3)[predicted]), tmp_path / f"{name}.tsv")
    table = read_predictions(tmp_path / "good.tsv")
    assert set(table["gold"]) == {"ENTAILMENT", "NEUTRAL", "CONTRADICTION"}
    assert task_of_predictions(tmp_path / "good.tsv") is task
    comparison = paired_bootstrap(tmp_path / "good.tsv", tmp_path / "bad.tsv", n_resamples=1000)
    assert comparison.metric == "accuracy" and comparison.score_a == pytest.approx(np.mean(good == gold))
    assert comparison.p_value < 0.01 and comparison.ci_low > 0
    f1 = compare(tmp_path / "good.tsv", tmp_path / "bad.tsv", "macro_f1", n_resamples=200)["bootstrap"]
    assert f1["score_a"] == pytest.approx(classification_metrics(gold, good, 3)["macro_f1"])
    with pytest.raises(InputError, match="does not apply"):
        paired_bootstrap(tmp_path / "good.tsv", tmp_path / "bad.tsv", "pearson")


def test_prediction_columns_of_each_task():
    """What `treenets predict` writes per task: gold, the prediction, each class's probability."""
    related = task_for("relatedness").prediction_columns(np.array([4.2]), np.array([3.9]))
    assert list(related) == ["gold", "predicted"] and related["predicted"].tolist() == [3.9]
    probabilities = np.array([[0.1, 0.1, 0.2, 0.3, 0.3]])
    sentiment = task_for("sentiment").prediction_columns(np.array([4]), probabilities)
    assert list(sentiment) == ["gold", "predicted", "predicted_binary", "p_0", "p_1", "p_2", "p_3", "p_4"]
    assert sentiment["predicted"].tolist() == [3] and sentiment["predicted_binary"].tolist() == [1]
    entailment = task_for("entailment").prediction_columns(np.array([2]), np.array([[0.2, 0.1, 0.7]]))
    assert list(entailment) == ["gold", "predicted", "p_ENTAILMENT", "p_NEUTRAL", "p_CONTRADICTION"]
    assert entailment["gold"].tolist() == entailment["predicted"].tolist() == ["CONTRADICTION"]
