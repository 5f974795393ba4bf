"""Recursive neural nets over binary constituency trees (Socher et al. 2013).

* :class:`RecNN`, the plain recursive net: p = tanh(W [b; c] + b_W);
* :class:`RNTN`, the recursive neural tensor network:
  p = tanh([b; c]^T V^[1:d] [b; c] + W [b; c] + b_W), V in R^{d x 2d x 2d}.

Leaf states are the word vectors themselves, as in the paper's equations, so ``input_dim == hidden``
(the paper's d) reproduces them exactly; with pretrained vectors of another size a bias-free linear
map (``leaf``) projects them to size ``hidden`` first. ``leaf_tanh=True`` takes tanh of that, as
CoreNLP's sentiment code does (SentimentCostAndGradient: a preterminal's node vector is
tanh(word vector)): it keeps leaf states in (-1, 1) like every phrase state, which matters for the
RNTN, whose tensor term is quadratic in its children. Phrase nodes compose their two children's
states; both nets need every phrase node to have exactly two children.

Both encoders map ``(batch: TreeBatch, x: Tensor[N, D])`` to ``Tensor[N, hidden]`` in batch order
and run one batched composition per level of the schedule (the tensor term as one einsum).

``identity_init=True`` starts them as CoreNLP's sentiment code (SentimentModel) does: each d x d half
of W is I + U(-1/(2 sqrt d), 1/(2 sqrt d)), so a new phrase starts as the sum of its children, b = 0
and V ~ U(-1/(4d), 1/(4d)). Otherwise every parameter is U(-1/sqrt d, 1/sqrt d) and V 1/(2d) of that.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from treenets.batching import TreeBatch
from treenets.errors import InputError
from treenets.models.tree_lstm import check_tree_input, uniform_init


class _BinaryComposition(nn.Module):
    """The level loop shared by RecNN and RNTN; subclasses define :meth:`preactivation`."""

    def __init__(self, input_dim: int, hidden: int, leaf_tanh: bool = False):
        super().__init__()
        self.input_dim, self.hidden_size, self.leaf_tanh = input_dim, hidden, leaf_tanh
        self.leaf = nn.Identity() if input_dim == hidden else nn.Linear(input_dim, hidden, bias=False)
        self.W = nn.Parameter(torch.empty(hidden, 2 * hidden))
        self.b = nn.Parameter(torch.empty(hidden))

    @torch.no_grad()
    def _identity_init(self) -> None:
        d = self.hidden_size
        nn.init.uniform_(self.W, -0.5 / math.sqrt(d), 0.5 / math.sqrt(d))
        self.W += torch.eye(d).repeat(1, 2)
        self.b.zero_()

    def linear_term(self, children: torch.Tensor) -> torch.Tensor:
        """W [b; c] + b_W, [n, d], from the concatenated children [b; c], [n, 2d]."""
        return F.linear(children, self.W, self.b)

    def preactivation(self, children: torch.Tensor) -> torch.Tensor:
        """What goes into tanh at the parents [n, d] of the concatenated children [b; c], [n, 2d]."""
        raise NotImplementedError

    def compose(self, children: torch.Tensor) -> torch.Tensor:
        """Parent states [n, d] from the concatenated children [b; c], [n, 2d]."""
        return torch.tanh(self.preactivation(children))

    def forward(self, batch: TreeBatch, x: torch.Tensor) -> torch.Tensor:
        check_tree_input(self, batch, x)
        if batch.max_children > 2 or batch.min_children == 1:
            wrong = batch.max_children if batch.max_children > 2 else 1
            raise InputError(
                f"{type(self).__name__} composes exactly two children, got a node with {wrong}; "
                "binarize the trees first"
            )
        if not batch.is_constituency:
            raise InputError(f"{type(self).__name__} takes words at the leaves only (constituency trees)")
        H, leaves = self.hidden_size, batch.level_bounds[1]
        h_all = x.new_zeros(batch.num_nodes, H)
        words = self.leaf(batch.in_level_order(x)[:leaves])
        h_all[:leaves] = torch.tanh(words) if self.leaf_tanh else words
        for start, stop in zip(batch.level_bounds[1:-1], batch.level_bounds[2:]):
            children = h_all.index_select(0, batch.child_slots[start:stop].reshape(-1)).view(-1, 2 * H)
            h_all[start:stop] = self.compose(children)
        return batch.in_batch_order(h_all)


class RecNN(_BinaryComposition):
    """Plain recursive neural net: p = tanh(W [b; c] + b_W)."""

    def __init__(self, input_dim: int, hidden: int, identity_init: bool = False, leaf_tanh: bool = False):
        super().__init__(input_dim, hidden, leaf_tanh)
        uniform_init(self, hidden)
        if identity_init:
            self._identity_init()

    def preactivation(self, children: torch.Tensor) -> torch.Tensor:
        return self.linear_term(children)


class RNTN(_BinaryComposition):
    """Recursive neural tensor network: p = tanh([b; c]^T V [b; c] + W [b; c] + b_W)."""

    def __init__(self, input_dim: int, hidden: int, identity_init: bool = False, leaf_tanh: bool = False):
        super().__init__(input_dim, hidden, leaf_tanh)
        self.V = nn.Parameter(torch.empty(hidden, 2 * hidden, 2 * hidden))
        uniform_init(self, hidden)
        if identity_init:
            self._identity_init()
            nn.init.uniform_(self.V, -0.25 / hidden, 0.25 / hidden)
        else:
            with torch.no_grad():  # the tensor term sums (2d)^2 products: start it smaller than W [b; c]
                self.V.mul_(1.0 / (2 * hidden))

    def tensor_term(self, children: torch.Tensor) -> torch.Tensor:
        """[b; c]^T V^[k] [b; c] for every k, [n, d]."""
        return torch.einsum("ni,kij,nj->nk", children, self.V, children)

    def preactivation(self, children: torch.Tensor) -> torch.Tensor:
        return self.tensor_term(children) + self.linear_term(children)
