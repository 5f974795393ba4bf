"""Metrics against hand-computed values; prediction files; paired bootstrap; Williams' test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from treenets.errors import InputError
from treenets.evaluate import (
    binary_gold,
    predicted_labels,
    read_predictions,
    relatedness_metrics,
    relatedness_table,
    sentiment_metrics,
    sentiment_table,
    williams_t,
    williams_test,
    write_table,
)
from treenets.tasks import compare, paired_bootstrap


def test_relatedness_metrics_by_hand():
    # gold deviations -1.5 -.5 .5 1.5; predicted 2 1 3 5 (mean 2.75): cross sum 5.5, sums of squares 5 and 8.75
    metrics = relatedness_metrics([1, 2, 3, 4], [2, 1, 3, 5])
    assert metrics["pearson"] == pytest.approx(5.5 / math.sqrt(5 * 8.75))
    # ranks 2 1 3 4 against 1 2 3 4: sum d^2 = 2 -> 1 - 6*2/(4*15)
    assert metrics["spearman"] == pytest.approx(0.8)
    assert metrics["mse"] == pytest.approx((1 + 1 + 0 + 1) / 4)


def test_binary_gold_drops_neutral():
    assert binary_gold([0, 1, 2, 3, 4, -1]).tolist() == [0, 0, -1, 1, 1, -1]


def test_binary_prediction_is_positive_versus_negative_mass():
    probabilities = [
        [0.0, 0.1, 0.5, 0.2, 0.2],  # argmax neutral, positive mass 0.4 > 0.1 -> positive
        [0.3, 0.0, 0.4, 0.3, 0.0],  # tie 0.3 / 0.3 -> negative
        [0.0, 0.45, 0.0, 0.3, 0.25],  # argmax 1 (negative) but positive mass 0.55 -> positive
    ]
    fine, binary = predicted_labels(probabilities)
    assert fine.tolist() == [2, 2, 1]
    assert binary.tolist() == [1, 0, 1]
    fine, binary = predicted_labels([[0.7, 0.3], [0.2, 0.8]])  # a two-class model
    assert fine is None and binary.tolist() == [0, 1]
    assert predicted_labels(probabilities)[1].dtype.kind == "i"  # labels, as predictions.tsv writes them
    for bad in ([[0.2, 0.3, 0.5]], [0.5, 0.5]):  # three classes; no batch axis
        with pytest.raises(ValueError, match="expected class probabilities of shape"):
            predicted_labels(bad)


def test_sentiment_metrics_by_hand():
    one_hot = np.eye(5)
    root_gold = [0, 1, 2, 3, 4]
    root_probabilities = one_hot[[0, 3, 2, 3, 2]]  # fine right: 0, 2, 3 -> 3/5
    # binary: gold 2 excluded; 0 -> neg (right), 1 -> pos (wrong), 3 -> pos (right),
    # 4 -> the neutral one-hot: mass 0 / 0, a tie -> neg (wrong)
    phrase_gold = [4, 4, 2, 0]
    phrase_probabilities = one_hot[[4, 3, 1, 1]]  # fine 1/4; binary (gold 2 out): pos, pos, neg all right -> 3/3
    metrics = sentiment_metrics(root_gold, root_probabilities, phrase_gold, phrase_probabilities)
    assert metrics == pytest.approx({"fine_root": 3 / 5, "binary_root": 2 / 4, "fine_all": 1 / 4, "binary_all": 1.0})
    binary_model = sentiment_metrics([0, 2, 4], [[0.9, 0.1], [0.5, 0.5], [0.6, 0.4]])
    assert binary_model == pytest.approx({"binary_root": 1 / 2})


def test_williams_matches_steigers_example():
    # Steiger (1980) / psych::r.test(103, .4, .5, .1): Williams' t = -0.89, p = 0.37
    result = williams_t(0.4, 0.5, 0.1, 103)
    assert result["t"] == pytest.approx(-0.891, abs=1e-3)
    assert result["p_value"] == pytest.approx(0.375, abs=1e-3)


def test_williams_on_data_is_antisymmetric():
    rng = np.random.default_rng(1)
    gold = rng.uniform(1, 5, 200)
    good, bad = gold + rng.normal(0, 0.5, 200), gold + rng.normal(0, 1.5, 200)
    forward, backward = williams_test(gold, good, bad), williams_test(gold, bad, good)
    assert forward["r_a"] > forward["r_b"] and forward["t"] > 3 and forward["p_value"] < 0.01
    assert backward["t"] == pytest.approx(-forward["t"]) and backward["p_value"] == pytest.approx(forward["p_value"])


@pytest.fixture
def relatedness_files(tmp_path):
    rng = np.random.default_rng(0)
    ids = [f"p{i}" for i in range(300)]
    gold = rng.uniform(1, 5, 300)
    paths = {}
    for name, noise in (("good", 0.3), ("bad", 1.0)):
        paths[name] = tmp_path / f"{name}.tsv"
        write_table(relatedness_table(ids, gold, gold + rng.normal(0, noise, 300)), paths[name])
    order = rng.permutation(300)  # same examples in another order
    paths["shuffled"] = tmp_path / "shuffled.tsv"
    write_table(read_predictions(paths["good"]).iloc[order], paths["shuffled"])
    return paths


def test_prediction_file_round_trip(tmp_path):
    probabilities = np.eye(5)[[4, 0]]
    write_table(sentiment_table(["s1", "s2"], [3, 2], probabilities), tmp_path / "fine.tsv")
    table = read_predictions(tmp_path / "fine.tsv")
    assert table["id"].tolist() == ["s1", "s2"] and table["predicted"].tolist() == [4, 0]
    assert table["predicted_binary"].tolist() == [1, 0]
    write_table(sentiment_table(["s1"], [3], [[0.1, 0.9]]), tmp_path / "binary.tsv")
    assert read_predictions(tmp_path / "binary.tsv")["predicted"].isna().all()


def test_bootstrap_finds_the_better_system(relatedness_files):
    comparison = paired_bootstrap(relatedness_files["good"], relatedness_files["bad"], n_resamples=2000)
    assert comparison.metric == "pearson" and comparison.n == 300
    assert comparison.delta == pytest.approx(comparison.score_a - comparison.score_b)
    assert comparison.delta > 0.1 and comparison.ci_low > 0 and comparison.p_value < 0.01
    assert comparison.ci_low <= comparison.delta <= comparison.ci_high
    mse = paired_bootstrap(relatedness_files["good"], relatedness_files["bad"], "mse", n_resamples=500)
    assert mse.delta < 0 and mse.p_value < 0.01


def test_bootstrap_of_a_system_against_itself_is_not_significant(relatedness_files):
    comparison = paired_bootstrap(relatedness_files["good"], relatedness_files["shuffled"], n_resamples=500)
    assert comparison.delta == pytest.approx(0, abs=1e-12) and comparison.p_value == 1.0


def test_compare_adds_williams_for_relatedness(relatedness_files):
    report = compare(relatedness_files["good"], relatedness_files["bad"], n_resamples=200)
    assert report["williams"]["p_value"] < 0.01
    assert report["williams"]["r_a"] == pytest.approx(report["bootstrap"]["score_a"])


def test_bootstrap_on_sentiment_accuracy(tmp_path):
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 5, 400)
    ids = [f"s{i}" for i in range(400)]
    right = np.eye(5)[gold]
    noisy = np.eye(5)[np.where(rng.random(400) < 0.5, gold, rng.integers(0, 5, 400))]
    write_table(sentiment_table(ids, gold, right), tmp_path / "a.tsv")
    write_table(sentiment_table(ids, gold, noisy), tmp_path / "b.tsv")
    fine = paired_bootstrap(tmp_path / "a.tsv", tmp_path / "b.tsv", n_resamples=500)
    assert fine.metric == "fine" and fine.score_a == 1.0 and fine.p_value < 0.01
    binary = paired_bootstrap(tmp_path / "a.tsv", tmp_path / "b.tsv", "binary", n_resamples=500)
    assert binary.n == int(np.sum(gold != 2)) and binary.score_a == 1.0
    with pytest.raises(InputError, match="does not apply"):
        paired_bootstrap(tmp_path / "a.tsv", tmp_path / "b.tsv", "pearson")


def test_bootstrap_rejects_files_that_do_not_match(tmp_path, relatedness_files):
    write_table(relatedness_table(["p0", "x"], [1.0, 2.0], [1.0, 2.0]), tmp_path / "other.tsv")
    with pytest.raises(InputError, match="different examples"):
        paired_bootstrap(relatedness_files["good"], tmp_path / "other.tsv")
    table = read_predictions(relatedness_files["good"])
    table.loc[0, "gold"] += 1
    write_table(table, tmp_path / "regolded.tsv")
    with pytest.raises(InputError, match="gold values differ"):
        paired_bootstrap(relatedness_files["good"], tmp_path / "regolded.tsv")
    (tmp_path / "garbage.tsv").write_text("just\tnonsense\n1\t2\n")
    with pytest.raises(InputError, match="missing column"):
        read_predictions(tmp_path / "garbage.tsv")
    with pytest.raises(InputError, match="garbage-missing.tsv"):
        read_predictions(tmp_path / "garbage-missing.tsv")


def test_binary_comparison_of_a_fine_and_a_two_class_model(tmp_path):
    gold = [0, 2, 4, 3, 1]
    write_table(sentiment_table(list("abcde"), gold, np.eye(5)[[0, 2, 0, 3, 1]]), tmp_path / "fine.tsv")
    polar = [i for i, label in enumerate(gold) if label != 2]  # the two-class model never saw "b"
    write_table(
        sentiment_table([list("abcde")[i] for i in polar], [gold[i] for i in polar], np.eye(2)[[0, 1, 1, 0]]),
        tmp_path / "binary.tsv",
    )
    comparison = paired_bootstrap(tmp_path / "fine.tsv", tmp_path / "binary.tsv", "binary", n_resamples=200)
    assert comparison.n == 4 and comparison.score_a == 3 / 4 and comparison.score_b == 1.0
    with pytest.raises(InputError, match="use --metric binary"):
        paired_bootstrap(tmp_path / "fine.tsv", tmp_path / "binary.tsv")


def test_unlabelled_nodes_do_not_count():
    metrics = sentiment_metrics([3, -1, 1], np.eye(5)[[3, 0, 1]])
    assert metrics == pytest.approx({"fine_root": 1.0, "binary_root": 1.0})


def test_sparse_target_of_tai_et_al_and_its_inverse():
    torch = pytest.importorskip("torch")
    from treenets.models.heads import expected_score, sparse_target

    # y = 3.6 on 1..5: p[floor(y)] = floor(y) - y + 1 = 0.4 on score 3, p[floor(y) + 1] = y - floor(y) = 0.6 on 4
    targets = sparse_target(torch.tensor([3.6, 1.0, 5.0, 2.0], dtype=torch.float64), 1, 5)
    expected = [[0, 0, 0.4, 0.6, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 1], [0, 1, 0, 0, 0]]
    torch.testing.assert_close(targets, torch.tensor(expected, dtype=torch.float64))
    # the prediction r^T p (r = lo..hi) inverts the target exactly, on SICK's range and on STS's 0..5
    for lo, hi in ((1, 5), (0, 5)):
        scores = torch.linspace(lo, hi, 41, dtype=torch.float64)
        torch.testing.assert_close(expected_score(sparse_target(scores, lo, hi).log(), lo), scores)
