"""Naive references for the tree encoders: one tree at a time, one node at a time.

:func:`reference_encode` recurses over each tree in plain Python and applies the papers'
equations, written out gate by gate, to one node at a time, using the encoder's own parameters.
There is no batching and no level schedule: this is what the batched engine is tested and
benchmarked against.

The cell functions take a group of nodes with the same number of child slots, their children's
states stacked as ``kid_h``, ``kid_c``: [n, K, H] (K = 0 for leaves), so that the DGL reference
path (:mod:`treenets.dgl_interop`) runs the very same equations on DGL's node groups.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from treenets.models.recursive import RNTN, RecNN
from treenets.models.tree_lstm import ChildSumTreeLSTM, NaryTreeLSTM


def child_sum_cell(enc: ChildSumTreeLSTM, x, kid_h, kid_c):
    """Tai et al. 2015, eqs. 2-8 (any number of children, none for a leaf)."""
    W_u, W_i, W_o, W_f = enc.W.split(enc.hidden_size)
    b_u, b_i, b_o, b_f = enc.b.split(enc.hidden_size)
    U_u, U_i, U_o, U_f = enc.U.split(enc.hidden_size)
    h_sum = kid_h.sum(1)  # (2)
    i = torch.sigmoid(x @ W_i.t() + h_sum @ U_i.t() + b_i)  # (3)
    f = torch.sigmoid((x @ W_f.t() + b_f).unsqueeze(1) + kid_h @ U_f.t())  # (4) one per child
    o = torch.sigmoid(x @ W_o.t() + h_sum @ U_o.t() + b_o)  # (5)
    u = torch.tanh(x @ W_u.t() + h_sum @ U_u.t() + b_u)  # (6)
    c = i * u + (f * kid_c).sum(1)  # (7)
    return (o * torch.tanh(c) if enc.output_gate else torch.tanh(c)), c  # (8)


def nary_cell(enc: NaryTreeLSTM, x, kid_h, kid_c):
    """Tai et al. 2015, eqs. 9-14: a leaf (no child slots) from x alone, a phrase node (N slots,
    zeros where a child is absent) from its children alone, as its x is zero."""
    H = enc.hidden_size
    W_u, W_i, W_o, W_f = enc.W.split(H)
    b_u, b_i, b_o, b_f = enc.b.split(H)
    if kid_h.shape[1] == 0:
        i, o, u = torch.sigmoid(x @ W_i.t() + b_i), torch.sigmoid(x @ W_o.t() + b_o), torch.tanh(x @ W_u.t() + b_u)
        c = i * u
        return (o * torch.tanh(c) if enc.output_gate else torch.tanh(c)), c
    h_cat = kid_h.reshape(len(kid_h), enc.arity * H)  # [h_j1; ...; h_jN]
    U_u, U_i, U_o, *U_f = enc.U.split(H)  # U_f[k] = [U^(f)_k1 ... U^(f)_kN]
    i = torch.sigmoid(h_cat @ U_i.t() + b_i)  # (9)
    f = [torch.sigmoid(h_cat @ U_fk.t() + b_f) for U_fk in U_f]  # (10)
    o = torch.sigmoid(h_cat @ U_o.t() + b_o)  # (11)
    u = torch.tanh(h_cat @ U_u.t() + b_u)  # (12)
    c = i * u + sum(f_k * kid_c[:, k] for k, f_k in enumerate(f))  # (13)
    return (o * torch.tanh(c) if enc.output_gate else torch.tanh(c)), c  # (14)


def recnn_cell(enc: RecNN, x, kid_h, kid_c):
    """A leaf: its (projected) word vector, or tanh of it; a phrase: p = tanh(W [b; c] + b_W)."""
    if kid_h.shape[1] == 0:
        h = torch.tanh(enc.leaf(x)) if enc.leaf_tanh else enc.leaf(x)
    else:
        h = torch.tanh(kid_h.reshape(len(kid_h), -1) @ enc.W.t() + enc.b)
    return h, torch.zeros_like(h)


def rntn_cell(enc: RNTN, x, kid_h, kid_c):
    """A leaf: as :func:`recnn_cell`; a phrase: p_k = tanh([b;c]^T V^[k] [b;c] + (W [b;c] + b_W)_k)."""
    if kid_h.shape[1] == 0:
        h = recnn_cell(enc, x, kid_h, kid_c)[0]
    else:
        bc = kid_h.reshape(len(kid_h), -1)
        tensor_term = torch.stack([((bc @ V_k) * bc).sum(1) for V_k in enc.V], dim=1)
        h = torch.tanh(tensor_term + bc @ enc.W.t() + enc.b)
    return h, torch.zeros_like(h)


_CELLS = {ChildSumTreeLSTM: child_sum_cell, NaryTreeLSTM: nary_cell, RecNN: recnn_cell, RNTN: rntn_cell}


def cell_of(encoder: nn.Module):
    """The reference cell function of a tree encoder."""
    try:
        return _CELLS[type(encoder)]
    except KeyError:
        raise TypeError(f"no reference cell for {type(encoder).__name__}") from None


def slots_of(encoder: nn.Module, num_children: int) -> int:
    """Child slots the encoder's cell takes for a node with ``num_children`` children: that many,
    except that an N-ary phrase node always has N (absent children padded with zero states)."""
    if isinstance(encoder, NaryTreeLSTM) and num_children:
        return encoder.arity
    return num_children


def reference_encode(encoder: nn.Module, trees: Sequence, x: torch.Tensor) -> torch.Tensor:
    """Node states of ``trees`` ([N, H], batch order: tree after tree), computed node by node.

    ``x`` [N, D] holds the word vectors in the same order (zero rows at phrase nodes).
    """
    cell = cell_of(encoder)
    H, out, offset = encoder.hidden_size, [], 0
    for tree in trees:
        rows = x[offset: offset + len(tree.children)]
        offset += len(tree.children)
        zero = rows.new_zeros(H)
        stack = lambda vectors: torch.stack(vectors) if vectors else rows.new_zeros(0, H)  # noqa: E731
        states: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

        def visit(node: int) -> None:
            kids = tree.children[node]
            for kid in kids:
                visit(kid)
            padding = [zero] * (slots_of(encoder, len(kids)) - len(kids))
            kid_h = stack([states[k][0] for k in kids] + padding).unsqueeze(0)
            kid_c = stack([states[k][1] for k in kids] + padding).unsqueeze(0)
            h, c = cell(encoder, rows[node: node + 1], kid_h, kid_c)
            states[node] = (h[0], c[0])

        is_child = {kid for kids in tree.children for kid in kids}
        (root,) = (node for node in range(len(tree.children)) if node not in is_child)
        visit(root)
        out.append(torch.stack([states[node][0] for node in range(len(tree.children))]))
    return torch.cat(out)
