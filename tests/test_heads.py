"""Heads against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from treenets.errors import InputError
from treenets.models.heads import RelatednessHead, SentimentHead, expected_score, sparse_target


@pytest.mark.parametrize("score,lo,hi,expected", [
    (3.6, 1, 5, [0, 0, 0.4, 0.6, 0]),
    (1.0, 1, 5, [1, 0, 0, 0, 0]),
    (2.0, 1, 5, [0, 1, 0, 0, 0]),
    (5.0, 1, 5, [0, 0, 0, 0, 1]),  # y = hi: floor(y) + 1 would be past the last class
    (4.5, 1, 5, [0, 0, 0, 0.5, 0.5]),
    (7.25, 0, 10, [0, 0, 0, 0, 0, 0, 0, 0.75, 0.25, 0, 0]),
    (-1.5, -2, 2, [0.5, 0.5, 0, 0, 0]),
    (1.0, 0, 1, [0, 1]),
])
def test_sparse_target_by_hand(score, lo, hi, expected):
    target = sparse_target(torch.tensor([score], dtype=torch.float64), lo, hi)
    torch.testing.assert_close(target, torch.tensor([expected], dtype=torch.float64))


def test_expected_score_inverts_sparse_target():
    scores = torch.tensor([1.0, 1.3, 2.5, 3.99, 4.2, 5.0], dtype=torch.float64)
    assert torch.allclose(expected_score(sparse_target(scores, 1, 5).log(), 1), scores)
    assert torch.allclose(expected_score(sparse_target(scores + 9, 10, 14).log(), 10), scores + 9)


@pytest.mark.parametrize("bad", [0.9, 5.01, float("nan")])
def test_scores_outside_the_range_are_input_errors(bad):
    with pytest.raises(InputError, match=r"outside the score range \[1, 5\]") as error:
        sparse_target(torch.tensor([3.0, bad]), 1, 5)
    assert f"relatedness score {torch.tensor(bad).item()} is outside" in str(error.value)  # names the value


def test_relatedness_head_by_hand():
    head = RelatednessHead(2, hidden=1, score_range=(1, 5)).eval()
    with torch.no_grad():
        # features [hL*hR; |hL-hR|] = [3, -2, 2, 3]; 0.5*3 - 0.5*3 = 0 -> sigmoid 0.5 -> logit 1 at class 2
        head.hidden.weight.copy_(torch.tensor([[0.5, 0.0, 0.0, -0.5]]))
        head.hidden.bias.zero_()
        head.output.weight.copy_(torch.tensor([[0.0], [2.0], [0.0], [0.0], [0.0]]))
        head.output.bias.zero_()
    log_probs = head(torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, -1.0]]))
    norm = math.log(4 + math.e)
    torch.testing.assert_close(log_probs, torch.tensor([[-norm, 1 - norm, -norm, -norm, -norm]]))
    expected = (1 + 2 * math.e + 3 + 4 + 5) / (4 + math.e)
    assert head.predict(log_probs).item() == pytest.approx(expected, rel=1e-6)


def test_relatedness_loss_is_kl_to_the_sparse_target():
    head = RelatednessHead(3)
    uniform = torch.full((2, 5), math.log(0.2))
    loss = head.loss(uniform, torch.tensor([3.6, 5.0]))
    by_hand = (0.4 * math.log(0.4 / 0.2) + 0.6 * math.log(0.6 / 0.2) + math.log(1 / 0.2)) / 2
    assert loss.item() == pytest.approx(by_hand, rel=1e-6)
    assert head.predict(uniform).tolist() == pytest.approx([3.0, 3.0])
    perfect = sparse_target(torch.tensor([3.6]), 1, 5).clamp(min=1e-30).log()
    assert head.loss(perfect, torch.tensor([3.6])).item() == pytest.approx(0.0, abs=1e-6)


def test_relatedness_head_needs_two_scores():
    with pytest.raises(InputError, match="at least two"):
        RelatednessHead(3, score_range=(2, 2))


def test_sentiment_head_by_hand():
    head = SentimentHead(2, 3)
    assert head.dropout.p == 0.5
    with torch.no_grad():
        head.output.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        head.output.bias.copy_(torch.tensor([0.0, 0.0, -1.0]))
    states = torch.tensor([[1.0, 2.0], [0.0, 0.0], [3.0, -1.0]])
    logits = head.eval()(states)
    torch.testing.assert_close(logits, torch.tensor([[1.0, 2.0, 2.0], [0.0, 0.0, -1.0], [3.0, -1.0, 1.0]]))
    # labels: node 0 -> class 1, node 1 unlabelled, node 2 -> class 0; two sentences in the batch
    loss = SentimentHead.loss(logits, torch.tensor([1, -1, 0]), num_examples=2)
    node0 = math.log(math.e + 2 * math.e ** 2) - 2
    node2 = math.log(math.e ** 3 + math.e ** -1 + math.e) - 3
    assert loss.item() == pytest.approx((node0 + node2) / 2, rel=1e-6)
    torch.manual_seed(0)
    dropped = head.train()(torch.ones(200, 2))
    assert not torch.allclose(dropped, dropped[0].expand_as(dropped))  # dropout active in training
