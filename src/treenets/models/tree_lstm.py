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
from treenets.models.level_graphs import LevelGraphs

# Backward formulas of the activations in terms of their outputs, writing into a given tensor
# (no temporaries): tanh' = 1 - tanh^2, sigmoid' = s (1 - s).
_tanh_backward = torch.ops.aten.tanh_backward.grad_input
_sigmoid_backward = torch.ops.aten.sigmoid_backward.grad_input


OPEN_GATE = 50.0  # sigmoid(50) == 1.0 in float64 (1 - 2e-22)


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

    ``output_gate=False`` gives h_j = tanh(c_j) instead of eq. 8, as Tai et al.'s relatedness code
    runs the cell (``gate_output = false`` in TreeLSTMSim.lua); W^(o), U^(o), b^(o) are then unused.
    """

    def __init__(self, input_dim: int, hidden: int, output_gate: bool = True):
        super().__init__()
        self.input_dim, self.hidden_size, self.output_gate = input_dim, hidden, output_gate
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
            h_all[start:stop] = torch.sigmoid(o) * torch.tanh(c) if self.output_gate else torch.tanh(c)  # eq. 8
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

    ``cuda_graphs=True``: on CUDA, while gradients are recorded, the loop and its backward are
    replayed as CUDA graphs captured per bucket of padded schedule shapes (:mod:`~treenets.models.
    level_graphs`; ``self.graphs.stats`` counts them); elsewhere, and where no bucket is free, it runs
    eagerly.
    """

    def __init__(self, input_dim: int, hidden: int, arity: int = 2, output_gate: bool = True,
                 cuda_graphs: bool = False):
        super().__init__()
        if arity < 1:
            raise ValueError(f"arity must be >= 1, got {arity}")
        self.input_dim, self.hidden_size, self.arity, self.output_gate = input_dim, hidden, arity, output_gate
        self.W = nn.Parameter(torch.empty(4 * hidden, input_dim))
        self.b = nn.Parameter(torch.empty(4 * hidden))
        self.U = nn.Parameter(torch.empty((3 + arity) * hidden, arity * hidden))
        uniform_init(self, hidden)
        self.constrain_()
        self.graphs = LevelGraphs(nary_forward, nary_backward) if cuda_graphs else None

    @torch.no_grad()
    def constrain_(self) -> None:
        """``output_gate=False`` (h = tanh(c), Tai et al.'s relatedness code): the gate is pinned open,
        W^(o) = U^(o) = 0 and b^(o) = OPEN_GATE, after every optimizer step (the trainer calls this),
        so the hand-written level loop runs unchanged and sigmoid' = 0 keeps the rows still."""
        if self.output_gate:
            return
        rows = slice(2 * self.hidden_size, 3 * self.hidden_size)
        self.W[rows] = 0.0
        self.U[rows] = 0.0
        self.b[rows] = OPEN_GATE

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
        schedule = (slots, batch.level_bounds, batch.order, batch.position)
        graphs = self.graphs
        if graphs is not None and torch.is_grad_enabled() and (x.is_cuda or graphs.emulate):
            h = graphs(x, (self.W, self.b, self.U), *schedule)
            if h is not None:
                return h
        return _NaryLevels.apply(x, self.W, self.b, self.U, *schedule)


class _NaryLevels(torch.autograd.Function):
    """Eqs. 9-14 over a level schedule, with the backward derived by hand (:func:`nary_forward`,
    :func:`nary_backward`; :mod:`treenets.models.level_graphs` replays the same two as CUDA graphs)."""

    @staticmethod
    def forward(ctx, x, W, b, U, child_slots, bounds, order, position):
        h, saved = nary_forward(x, W, b, U, child_slots, bounds, order, position)
        ctx.save_for_backward(*saved)
        ctx.bounds = bounds
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h):
        dx, dW, db, dU = nary_backward(ctx.saved_tensors, ctx.bounds, grad_h, ctx.needs_input_grad[0])
        return dx, dW, db, dU, None, None, None, None


def nary_forward(x, W, b, U, child_slots, bounds, order, position):
    """``(h, saved)``: h in batch order, and what :func:`nary_backward` needs.

    Takes x and returns h in batch order; inside, rows are in level order (the leaves' x is
    gathered once, h scattered back once), so each level reads and writes contiguous row blocks
    of buffers allocated once per call. Every per-level view is cut up front by one ``split``
    per buffer and gate: the level loops then only launch kernels, which is what bounds their
    speed on a GPU (a level is small).

    Saved for the backward: the activated gates (u, i, o, f_1..f_N), tanh(c), and the children's
    h and c as gathered per level (so dL/dU is one matrix product over all levels). Row ``N`` of
    the state buffers is the zero state of an absent child; gradients sent to it are discarded.
    """
    N, K, H = x.shape[0], child_slots.shape[1], W.shape[0] // 4
    leaves, sizes = bounds[1], _phrase_level_sizes(bounds)
    h, c, tanh_c = x.new_zeros(N + 1, H), x.new_zeros(N + 1, H), x.new_empty(N, H)
    gates = x.new_empty(N - leaves, (3 + K) * H)  # phrase rows: activated u, i, o, f_1..f_K
    kid_h = x.new_empty(N - leaves, K * H)  # phrase rows: [h_j1; ...; h_jK]
    kid_c = x.new_empty(N - leaves, K * H)

    leaf_x = x.index_select(0, order[:leaves])
    leaf_gates = torch.addmm(b[: 3 * H], leaf_x, W[: 3 * H].t())  # u, i, o: leaves have no children
    _cell_state(*_gate_views(leaf_gates, H), [], c[:leaves], tanh_c[:leaves], h[:leaves])

    kid_bias, U_t = torch.cat([b[: 3 * H], b[3 * H:].repeat(K)]), U.t()
    levels = zip(
        _flat_slots(child_slots, leaves, sizes), gates.split(sizes), kid_h.split(sizes),
        *_kid_rows(kid_h, kid_c, sizes, H), *(_per_level(v, sizes) for v in _gate_views(gates, H)),
        _per_level(list(kid_c.split(H, dim=1)), sizes), c[leaves:N].split(sizes), tanh_c[leaves:].split(sizes),
        h[leaves:N].split(sizes),
    )
    for slots, z, kh, kh_rows, kc_rows, u, sigmoid_block, i, o, f, kc, c_level, tanh_c_level, h_level in levels:
        torch.index_select(h, 0, slots, out=kh_rows)
        torch.index_select(c, 0, slots, out=kc_rows)
        torch.addmm(kid_bias, kh, U_t, out=z)
        _cell_state(u, sigmoid_block, i, o, f, kc, c_level, tanh_c_level, h_level)

    saved = (leaf_x, W, U, child_slots, order, leaf_gates, gates, kid_h, kid_c, tanh_c)
    return h.index_select(0, position), saved


def nary_backward(saved, bounds, grad_h, need_dx: bool):
    """``(dx, dW, db, dU)`` from :func:`nary_forward`'s ``saved`` and dL/dh (batch order);
    ``dx`` is None unless ``need_dx``."""
    leaf_x, W, U, child_slots, order, leaf_gates, gates, kid_h, kid_c, tanh_c = saved
    N, K, H = len(order), child_slots.shape[1], W.shape[0] // 4
    leaves, sizes = bounds[1], _phrase_level_sizes(bounds)
    dh, dc = grad_h.new_zeros(N + 1, H), grad_h.new_zeros(N + 1, H)
    torch.index_select(grad_h, 0, order, out=dh[:N])  # into level order
    dgates = torch.empty_like(gates)  # dL/d(pre-activation gates), phrase rows
    kid_grad = torch.empty_like(kid_h)  # per level: dL/dc, then dL/dh, of the children

    by_child = lambda t: t.view(len(t), K, H).split(sizes)  # noqa: E731  [n, K, H] blocks
    levels = zip(
        _flat_slots(child_slots, leaves, sizes), *(v.split(sizes) for v in _gate_views(gates, H)[:4]),
        by_child(gates[:, 3 * H:]), dgates.split(sizes), *(v.split(sizes) for v in _gate_views(dgates, H)[:4]),
        by_child(dgates[:, 3 * H:]), by_child(kid_c), kid_grad.split(sizes), by_child(kid_grad),
        kid_grad.view(-1, H).split([n * K for n in sizes]), dh[leaves:N].split(sizes),
        dc[leaves:N].split(sizes), dc[leaves:N].unsqueeze(1).split(sizes), tanh_c[leaves:].split(sizes),
    )
    for (slots, u, sigmoid_block, i, o, f, dz, du, dz_sigmoid_block, di, do, df, kc, grad, grad_by_child,
         grad_rows, dh_level, dc_level, dc_by_child, tanh_c_level) in reversed(list(levels)):
        _uio_backward(u, i, o, du, di, do, dh_level, dc_level, tanh_c_level)
        torch.mul(dc_by_child, kc, out=df)  # c_j = i_j * u_j + sum_k f_jk * c_jk (eq. 13)
        _sigmoid_backward(dz_sigmoid_block, sigmoid_block, grad_input=dz_sigmoid_block)
        # to the children: dL/dc_jk = dL/dc_j * f_jk, and dL/dh_jk through every gate's U
        torch.mul(dc_by_child, f, out=grad_by_child)
        dc.index_copy_(0, slots, grad_rows)  # one parent per child: a copy, not a sum
        torch.mm(dz, U, out=grad)
        dh.index_add_(0, slots, grad_rows)

    leaf_dz = torch.empty_like(leaf_gates)
    u, sigmoid_block, i, o, _ = _gate_views(leaf_gates, H)
    du, dz_sigmoid_block, di, do, _ = _gate_views(leaf_dz, H)
    _uio_backward(u, i, o, du, di, do, dh[:leaves], dc[:leaves], tanh_c[:leaves])
    _sigmoid_backward(dz_sigmoid_block, sigmoid_block, grad_input=dz_sigmoid_block)

    phrase_db = dgates.sum(0)
    db = torch.cat([leaf_dz.sum(0) + phrase_db[: 3 * H], phrase_db[3 * H:].view(K, H).sum(0)])
    dU = dgates.t() @ kid_h
    dW = torch.cat([leaf_dz.t() @ leaf_x, W.new_zeros(H, W.shape[1])])  # W^(f) meets no x
    dx = None
    if need_dx:  # phrase nodes take no x: their rows stay zero
        dx = grad_h.new_zeros(N, leaf_x.shape[1]).index_copy_(0, order[:leaves], leaf_dz @ W[: 3 * H])
    return dx, dW, db, dU


def _phrase_level_sizes(bounds) -> list[int]:
    return [stop - start for start, stop in zip(bounds[1:-1], bounds[2:])]


def _flat_slots(child_slots, leaves, sizes):
    """Per phrase level: its nodes' child slots, flattened (n * K positions)."""
    return child_slots[leaves:].reshape(-1).split([n * child_slots.shape[1] for n in sizes])


def _kid_rows(kid_h, kid_c, sizes, H):
    """Per level, the children buffers [rows, K * H] as [n * K, H]: one row per child slot."""
    rows = [n * (kid_h.shape[1] // H) for n in sizes]
    return kid_h.view(-1, H).split(rows), kid_c.view(-1, H).split(rows)


def _gate_views(gates, H):
    """Column views of gates [u, i, o, f_1..f_K]: u, the sigmoid block (i to f_K), i, o, [f_1..f_K]."""
    u, i, o, *f = gates.split(H, dim=1)
    return u, gates[:, H:], i, o, f


def _per_level(view, sizes):
    """The row blocks of ``view`` per level; for a list of views, per level the list of blocks."""
    if isinstance(view, list):
        return list(zip(*(v.split(sizes) for v in view))) if view else [[]] * len(sizes)
    return view.split(sizes)


def _cell_state(u, sigmoid_block, i, o, f, kid_c, c, tanh_c, h) -> None:
    """Activate the gates in place, then c = i * u + sum_k f_k * c_k and h = o * tanh(c)
    (eqs. 13-14), written into ``c``, ``tanh_c``, ``h``."""
    u.tanh_()
    sigmoid_block.sigmoid_()
    torch.mul(i, u, out=c)
    for f_k, c_k in zip(f, kid_c):  # the N child slots
        c.addcmul_(f_k, c_k)
    torch.tanh(c, out=tanh_c)
    torch.mul(o, tanh_c, out=h)


def _uio_backward(u, i, o, du, di, do, dh, dc, tanh_c) -> None:
    """Backward of c = i * u + ..., h = o * tanh(c) for the u, i, o gates.

    ``dh``/``dc`` hold dL/dh and dL/dc that arrived from the parent; ``dc`` becomes the total
    dL/dc. Writes dL/d(pre-activation u) into ``du`` and dL/d(activated i, o) into ``di``, ``do``
    (the caller applies sigmoid' to them and any forget gates at once).
    """
    torch.mul(dh, o, out=du)  # scratch: dL/dtanh(c)
    _tanh_backward(du, tanh_c, grad_input=du)
    dc.add_(du)
    torch.mul(dh, tanh_c, out=do)
    torch.mul(dc, i, out=du)
    torch.mul(dc, u, out=di)
    _tanh_backward(du, u, grad_input=du)
