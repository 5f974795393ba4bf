"""Task heads: Tai et al.'s relatedness head (KL to a sparse score distribution) and a sentiment softmax."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from treenets.errors import InputError


def sparse_target(scores: Tensor, lo: int, hi: int) -> Tensor:
    """Tai et al.'s target distribution over the K = hi - lo + 1 integer scores lo..hi: ``[B, K]``.

    With y shifted to class positions (y - lo): p[floor(y) + 1] = y - floor(y) and
    p[floor(y)] = floor(y) - y + 1; y = hi puts all mass on the last class.
    """
    outside = ~((scores >= lo) & (scores <= hi))  # NaN counts as outside
    if bool(outside.any()):
        bad = scores[outside][0].item()
        raise InputError(f"relatedness score {bad} is outside the score range [{lo}, {hi}]")
    classes = hi - lo + 1
    position = scores - lo
    lower = position.floor().clamp(max=classes - 2).long()  # y = hi: lower = K-2, all mass above it
    upper_mass = (position - lower).unsqueeze(1)
    return (F.one_hot(lower, classes) * (1 - upper_mass) + F.one_hot(lower + 1, classes) * upper_mass).to(scores.dtype)


def expected_score(log_probs: Tensor, lo: int) -> Tensor:
    """The prediction r^T p with r = [lo, ..., hi]: ``[B]`` from log-probabilities ``[B, K]``."""
    scores = torch.arange(lo, lo + log_probs.shape[1], dtype=log_probs.dtype, device=log_probs.device)
    return log_probs.exp() @ scores


class RelatednessHead(nn.Module):
    """Similarity head of Tai et al. 2015 for scores in an integer range [lo, hi].

    ``RelatednessHead(input_dim, hidden=50, score_range=(1, 5), dropout=0.0)``.
    ``forward(left[B, input_dim], right[B, input_dim]) -> log-probabilities [B, K]``: h_x = hL * hR,
    h_+ = |hL - hR|, sigmoid(Linear([h_x; h_+])) -> Linear -> log-softmax. ``dropout`` applies to
    the sentence vectors (0 in Tai et al.'s SICK setting).
    """

    def __init__(self, input_dim: int, hidden: int = 50, score_range: tuple[int, int] = (1, 5), dropout: float = 0.0):
        super().__init__()
        self.lo, self.hi = score_range
        if self.hi <= self.lo:
            raise InputError(f"score range [{self.lo}, {self.hi}] needs at least two integer scores")
        self.dropout = nn.Dropout(dropout)
        self.hidden = nn.Linear(2 * input_dim, hidden)
        self.output = nn.Linear(hidden, self.hi - self.lo + 1)

    def forward(self, left: Tensor, right: Tensor) -> Tensor:
        left, right = self.dropout(left), self.dropout(right)
        features = torch.cat([left * right, (left - right).abs()], dim=-1)
        return F.log_softmax(self.output(torch.sigmoid(self.hidden(features))), dim=-1)

    def loss(self, log_probs: Tensor, scores: Tensor) -> Tensor:
        """KL(target || predicted), summed over classes and averaged over the batch."""
        return F.kl_div(log_probs, sparse_target(scores, self.lo, self.hi), reduction="batchmean")

    def predict(self, log_probs: Tensor) -> Tensor:
        """Expected scores ``[B]``."""
        return expected_score(log_probs, self.lo)


class SentimentHead(nn.Module):
    """Dropout + linear softmax classifier over node states (trees) or sentence vectors (sequences).

    ``SentimentHead(input_dim, num_classes, dropout=0.5)`` (0.5: Tai et al., DGL's example).
    ``forward(states[N, input_dim]) -> logits [N, num_classes]``.
    """

    def __init__(self, input_dim: int, num_classes: int, dropout: float = 0.5):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(input_dim, num_classes)

    def forward(self, states: Tensor) -> Tensor:
        return self.output(self.dropout(states))

    @staticmethod
    def loss(logits: Tensor, labels: Tensor, num_examples: int) -> Tensor:
        """Cross-entropy summed over labelled rows (label -1: none) and divided by the number of
        sentences, as Tai et al. do (the loss of a tree is the sum over its nodes)."""
        return F.cross_entropy(logits, labels, ignore_index=-1, reduction="sum") / num_examples
