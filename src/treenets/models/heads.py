"""Task heads: Tai et al.'s pair classifier (relatedness as KL to a sparse score distribution, or plain
classes such as entailment) and a sentiment softmax over node states or sentence vectors.

Each head's ``read(model, *batches)`` is what :class:`treenets.models.TaskModel` calls: it asks the
model for the vectors it needs (every node's state, or one vector per sentence of each pair).
"""

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


class PairClassifierHead(nn.Module):
    """Tai et al.'s (2015) pair classifier: log-probabilities of ``classes`` classes for sentence pairs.

    ``PairClassifierHead(input_dim, hidden=50, classes=3, dropout=0.0)``.
    ``forward(left[B, input_dim], right[B, input_dim]) -> log-probabilities [B, classes]``: h_x = hL * hR,
    h_+ = |hL - hR|, sigmoid(Linear([h_x; h_+])) -> Linear -> log-softmax. ``dropout`` applies to
    the sentence vectors (0 in Tai et al.'s SICK setting). ``loss``: mean negative log-likelihood of
    the class indices.
    """

    def __init__(self, input_dim: int, hidden: int = 50, classes: int = 3, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.hidden = nn.Linear(2 * input_dim, hidden)
        self.output = nn.Linear(hidden, classes)

    def read(self, model, left, right) -> Tensor:
        return self(model.sentence_vectors(left), model.sentence_vectors(right))

    def forward(self, left: Tensor, right: Tensor) -> Tensor:
        left, right = self.dropout(left), self.dropout(right)
        features = torch.cat([left * right, (left - right).abs()], dim=-1)
        return F.log_softmax(self.output(torch.sigmoid(self.hidden(features))), dim=-1)

    @staticmethod
    def loss(log_probs: Tensor, labels: Tensor) -> Tensor:
        return F.nll_loss(log_probs, labels)


class RelatednessHead(PairClassifierHead):
    """Similarity head of Tai et al. 2015 for scores in an integer range [lo, hi]: a pair classifier
    over the K = hi - lo + 1 integer scores, trained towards :func:`sparse_target`.

    ``RelatednessHead(input_dim, hidden=50, score_range=(1, 5), dropout=0.0)``.
    """

    def __init__(self, input_dim: int, hidden: int = 50, score_range: tuple[int, int] = (1, 5), dropout: float = 0.0):
        lo, hi = score_range
        if hi <= lo:
            raise InputError(f"score range [{lo}, {hi}] needs at least two integer scores")
        super().__init__(input_dim, hidden, hi - lo + 1, dropout)
        self.lo, self.hi = lo, hi

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

    def read(self, model, batch) -> Tensor:
        return self(model.encode(batch))

    def forward(self, states: Tensor) -> Tensor:
        return self.output(self.dropout(states))

    @staticmethod
    def loss(logits: Tensor, labels: Tensor, num_examples: int) -> Tensor:
        """Cross-entropy summed over labelled rows (label -1: none) and divided by the number of
        sentences, as Tai et al. do (the loss of a tree is the sum over its nodes)."""
        return F.cross_entropy(logits, labels, ignore_index=-1, reduction="sum") / num_examples
