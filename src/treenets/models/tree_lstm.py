"""Tree-LSTMs of Tai, Socher & Manning (2015): Child-Sum (eqs. 2-8) and N-ary (eqs. 9-14).

Both encoders map ``(batch: TreeBatch, x: Tensor[N, D])`` to one hidden state per node,
``Tensor[N, hidden]`` in batch order; ``x`` holds each node's word vector and is zero at phrase
nodes (the embedding of id 0). They run one step per level of the batch's schedule: no Python loop
over nodes or trees and no host-device synchronisation.

Parameters follow the paper's notation, gates stacked in the order u, i, o, f:

* ``W`` [4H, D] and ``b`` [4H]: the input weights W^(u), W^(i), W^(o), W^(f) and biases;
* Child-Sum ``U`` [4H, H]: U^(u), U^(i), U^(o) act on the sum of the children's states h~_j,
  U^(f) on each child's own state (one forget gate per child, eq. 4);
* N-ary ``U`` [(3 + N) H, N H]: rows U^(u), U^(i), U^(o), then U^(f)_k for each child slot k;
  columns act on the concatenated children [h_j1; ...; h_jN], so the forget gate of child k sees
  every child's state through U^(f)_{kl} (eq. 10). W^(f) and b^(f) are shared by the N forget gates.

Where DGL's tree-LSTM example (examples/pytorch/tree_lstm) differs: its cells have no W^(f) x_j
term, f_jk = sigmoid(U^(f) h + b^(f)); this matters for the Child-Sum cell on dependency trees
(a word at every node) and never for constituency trees, whose phrase nodes carry no word. Its
N-ary cell also learns a separate forget bias per child, and it computes W^(iou) x at leaves only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from treenets.batching import TreeBatch
from treenets.errors import InputError

# Backward formulas of the activations in terms of their outputs, writing into a given tensor
# (no temporaries): tanh' = 1 - tanh^2, sigmoid' = s (1 - s).
_tanh_backward = torch.ops.aten.tanh_backward.grad_input
_sigmoid_backward = torch.ops.aten.sigmoid_backward.grad_input


def check_tree_input(encoder: nn.Module, batch: TreeBatch, x: torch.Tensor) -> None:
    """Shape checks shared by the tree encoders (a mismatch is a programming error)."""
    if x.dim() != 2 or x.shape[0] != batch.num_nodes or x.shape[1] != encoder.input_dim:
        raise ValueError(
            f"{type(encoder).__name__}: x must be [{batch.num_nodes}, {encoder.input_dim}] "
            f"(one word vector per node), got {list(x.shape)}"
        )


def uniform_init(module: nn.Module, hidden: int) -> None:
    """U(-1/sqrt(H), 1/sqrt(H)) for every parameter, as torch.nn.LSTM initialises its own."""
    bound = 1.0 / math.sqrt(hidden)
    for parameter in module.parameters():
        nn.init.uniform_(parameter, -bound, bound)


class ChildSumTreeLSTM(nn.Module):
    """Child-Sum Tree-LSTM (eqs. 2-8), for trees with any number of children per node.

    For dependency trees (a word at every node). Runs on autograd, level by level; children are
    summed per parent with ``index_add`` over the batch's CSR-style child segments.
    """

    def __init__(self, input_dim: int, hidden: int):
        super().__init__()
        self.input_dim, self.hidden_size = input_dim, hidden
        self.W = nn.Parameter(torch.empty(4 * hidden, input_dim))
        self.b = nn.Parameter(torch.empty(4 * hidden))
        self.U = nn.Parameter(torch.empty(4 * hidden, hidden))
        uniform_init(self, hidden)

    def forward(self, batch: TreeBatch, x: torch.Tensor) -> torch.Tensor:
        check_tree_input(self, batch, x)
        H, N = self.hidden_size, batch.num_nodes
        # W x_j + b for every node at once; one level's rows are then a contiguous slice.
        inputs = F.linear(batch.in_level_order(x), self.W, self.b)
        h_all, c_all = x.new_zeros(N, H), x.new_zeros(N, H)
        U_uio, U_f = self.U[: 3 * H], self.U[3 * H:]
        for level, (start, stop) in enumerate(zip(batch.level_bounds[:-1], batch.level_bounds[1:])):
            uio, c_from_kids = inputs[start:stop, : 3 * H], 0.0
            if level > 0:
                segment = slice(batch.kid_bounds[level], batch.kid_bounds[level + 1])
                kids, parent = batch.kid_positions[segment], batch.kid_parent_in_level[segment]
                kid_h, kid_c = h_all.index_select(0, kids), c_all.index_select(0, kids)
                h_sum = kid_h.new_zeros(stop - start, H).index_add(0, parent, kid_h)  # h~_j (eq. 2)
                uio = uio + h_sum @ U_uio.t()
                f = torch.sigmoid(inputs[start:stop, 3 * H:].index_select(0, parent) + kid_h @ U_f.t())  # eq. 4
                c_from_kids = h_sum.new_zeros(stop - start, H).index_add(0, parent, f * kid_c)
            u, i, o = uio.split(H, dim=1)
            c = torch.sigmoid(i) * torch.tanh(u) + c_from_kids  # eq. 7
            h_all[start:stop] = torch.sigmoid(o) * torch.tanh(c)  # eq. 8
            c_all[start:stop] = c
        return batch.in_batch_order(h_all)


class NaryTreeLSTM(nn.Module):
    """N-ary Tree-LSTM (eqs. 9-14; N = 2 for binarized constituency trees).

    Nodes with fewer than N children get zero states in the missing slots; more than N children
    is an :class:`InputError` (binarize the trees). Leaves compute from x alone (their children
    are absent), phrase nodes from their children alone (their x is zero), so each level does one
    matrix product: the leaves' [n, D] x [D, 3H] or a phrase level's [n, NH] x [NH, (3+N)H].

    The level loop and its backward are written by hand (:class:`_NaryLevels`): states and saved
    activations live in buffers allocated once per call, each level writes its rows in place, and
    the backward walks the levels top-down reusing them. That is several times fewer kernel
    launches than autograd recording each level, which is what bounds the speed of small levels.
    """

    def __init__(self, input_dim: int, hidden: int, arity: int = 2):
        super().__init__()
        if arity < 1:
            raise ValueError(f"arity must be >= 1, got {arity}")
        self.input_dim, self.hidden_size, self.arity = input_dim, hidden, arity
        self.W = nn.Parameter(torch.empty(4 * hidden, input_dim))
        self.b = nn.Parameter(torch.empty(4 * hidden))
        self.U = nn.Parameter(torch.empty((3 + arity) * hidden, arity * hidden))
        uniform_init(self, hidden)

    def forward(self, batch: TreeBatch, x: torch.Tensor) -> torch.Tensor:
        check_tree_input(self, batch, x)
        if batch.max_children > self.arity:
            raise InputError(
                f"the N-ary Tree-LSTM (N={self.arity}) got a node with {batch.max_children} children; "
                "binarize the trees first"
            )
        if not batch.is_constituency:
            raise InputError("the N-ary Tree-LSTM takes words at the leaves only (constituency trees)")
        slots = batch.child_slots
        if slots.shape[1] < self.arity:  # e.g. a batch of one-word trees: every slot absent
            slots = F.pad(slots, (0, self.arity - slots.shape[1]), value=batch.num_nodes)
        return _NaryLevels.apply(x, self.W, self.b, self.U, slots, batch.level_bounds, batch.order, batch.position)


class _NaryLevels(torch.autograd.Function):
    """Eqs. 9-14 over a level schedule, with the backward derived by hand.

    Takes x and returns h in batch order; inside, rows are in level order (the leaves' x is
    gathered once, h scattered back once).

    Saved for the backward: the activated gates (u, i, o, f_1..f_N), tanh(c), and the children's
    h and c as gathered per level (the product dL/dU is then one matrix product over all levels).
    Row ``N`` of the state buffers is the zero state of an absent child; gradients that flow to
    it are discarded.
    """

    @staticmethod
    def forward(ctx, x, W, b, U, child_slots, bounds, order, position):
        N, K, H = x.shape[0], child_slots.shape[1], W.shape[0] // 4
        leaves = bounds[1]
        h, c = x.new_zeros(N + 1, H), x.new_zeros(N + 1, H)
        tanh_c = x.new_empty(N, H)

        leaf_x = x.index_select(0, order[:leaves])
        leaf_gates = torch.addmm(b[: 3 * H], leaf_x, W[: 3 * H].t())  # [u, i, o] of the leaves
        _activate(leaf_gates, H)
        _cell_state(leaf_gates, None, c[:leaves], tanh_c[:leaves], h[:leaves], H)

        # Phrase levels: rows of these buffers are level-order positions minus `leaves`.
        gates = x.new_empty(N - leaves, (3 + K) * H)
        kid_h = x.new_empty(N - leaves, K * H)
        kid_c = x.new_empty(N - leaves, K, H)
        kid_bias = torch.cat([b[: 3 * H], b[3 * H:].repeat(K)])
        for level in range(1, len(bounds) - 1):
            start, stop = bounds[level], bounds[level + 1]
            rows = slice(start - leaves, stop - leaves)
            slots = child_slots[start:stop].reshape(-1)
            torch.index_select(h, 0, slots, out=kid_h[rows].view(-1, H))
            torch.index_select(c, 0, slots, out=kid_c[rows].view(-1, H))
            torch.addmm(kid_bias, kid_h[rows], U.t(), out=gates[rows])
            _activate(gates[rows], H)
            _cell_state(gates[rows], kid_c[rows], c[start:stop], tanh_c[start:stop], h[start:stop], H)

        ctx.save_for_backward(leaf_x, W, U, child_slots, order, leaf_gates, gates, kid_h, kid_c, tanh_c)
        ctx.bounds = bounds
        return h.index_select(0, position)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h):
        leaf_x, W, U, child_slots, order, leaf_gates, gates, kid_h, kid_c, tanh_c = ctx.saved_tensors
        bounds = ctx.bounds
        N, K, H = len(order), child_slots.shape[1], W.shape[0] // 4
        leaves = bounds[1]
        dh = grad_h.new_zeros(N + 1, H)
        torch.index_select(grad_h, 0, order, out=dh[:N])  # into level order
        dc = grad_h.new_zeros(N + 1, H)
        dgates = torch.empty_like(gates)  # dL/d(pre-activation), phrase rows
        widest = max((b - a for a, b in zip(bounds[1:-1], bounds[2:])), default=0)
        kid_grad = grad_h.new_empty(widest * K, H)  # per-level scratch: dL/dh or dL/dc of children

        for level in range(len(bounds) - 2, 0, -1):
            start, stop = bounds[level], bounds[level + 1]
            rows, n = slice(start - leaves, stop - leaves), stop - start
            slots = child_slots[start:stop].reshape(-1)
            z, dz, dc_level = gates[rows], dgates[rows], dc[start:stop]
            _uio_backward(dh[start:stop], dc_level, z, tanh_c[start:stop], dz, H)
            # forget gates (eq. 12): c_j = ... + sum_k f_jk * c_jk
            torch.mul(dc_level.unsqueeze(1), kid_c[rows], out=dz[:, 3 * H:].view(n, K, H))
            _sigmoid_backward(dz[:, H:], z[:, H:], grad_input=dz[:, H:])
            # to the children: dL/dc_jk = dL/dc_j * f_jk; dL/dh_jk through every gate (U)
            scratch = kid_grad[: n * K]
            torch.mul(dc_level.unsqueeze(1), z[:, 3 * H:].view(n, K, H), out=scratch.view(n, K, H))
            dc.index_copy_(0, slots, scratch)  # one parent per child: a copy, not a sum
            torch.mm(dz, U, out=scratch.view(n, K * H))
            dh.index_add_(0, slots, scratch)

        leaf_dz = torch.empty_like(leaf_gates)
        _uio_backward(dh[:leaves], dc[:leaves], leaf_gates, tanh_c[:leaves], leaf_dz, H)
        _sigmoid_backward(leaf_dz[:, H:], leaf_gates[:, H:], grad_input=leaf_dz[:, H:])

        db = torch.cat([leaf_dz.sum(0) + dgates[:, : 3 * H].sum(0), dgates[:, 3 * H:].sum(0).view(K, H).sum(0)])
        dU = dgates.t() @ kid_h.view(-1, K * H)
        dW = torch.zeros_like(W)
        dW[: 3 * H] = leaf_dz.t() @ leaf_x
        dx = None
        if ctx.needs_input_grad[0]:  # phrase nodes take no x: their rows stay zero
            dx = grad_h.new_zeros(N, leaf_x.shape[1]).index_copy_(0, order[:leaves], leaf_dz @ W[: 3 * H])
        return dx, dW, db, dU, None, None, None, None


def _activate(gates: torch.Tensor, H: int) -> None:
    """In place: tanh on the u block, sigmoid on the rest (i, o and any forget gates)."""
    gates[:, :H].tanh_()
    gates[:, H:].sigmoid_()


def _cell_state(gates, kid_c, c, tanh_c, h, H) -> None:
    """c = i * u + sum_k f_k * c_k (eq. 12), h = o * tanh(c) (eq. 13), written into c, tanh_c, h."""
    torch.mul(gates[:, H: 2 * H], gates[:, :H], out=c)
    if kid_c is not None:
        for k in range(kid_c.shape[1]):  # the N child slots
            c.addcmul_(gates[:, (3 + k) * H: (4 + k) * H], kid_c[:, k])
    torch.tanh(c, out=tanh_c)
    torch.mul(gates[:, 2 * H: 3 * H], tanh_c, out=h)


def _uio_backward(dh, dc, z, tanh_c, dz, H) -> None:
    """Backward of c = i * u + ..., h = o * tanh(c) for the u, i, o gates.

    ``dh``/``dc`` hold dL/dh and dL/dc that arrived from the parent; ``dc`` becomes the total
    dL/dc. Writes dL/d(activated u, i, o) into ``dz[:, :3H]`` with tanh' already applied to u
    (the caller applies sigmoid' to i, o and any forget gates together).
    """
    u, i, o = z[:, :H], z[:, H: 2 * H], z[:, 2 * H: 3 * H]
    dz_u, dz_i, dz_o = dz[:, :H], dz[:, H: 2 * H], dz[:, 2 * H: 3 * H]
    torch.mul(dh, o, out=dz_u)  # scratch: dL/dtanh(c)
    _tanh_backward(dz_u, tanh_c, grad_input=dz_u)
    dc.add_(dz_u)
    torch.mul(dh, tanh_c, out=dz_o)
    torch.mul(dc, i, out=dz_u)
    torch.mul(dc, u, out=dz_i)
    _tanh_backward(dz_u, u, grad_input=dz_u)
