"""DGL interop (optional extra ``dgl``): a TreeBatch as a DGLGraph, and a reference path through DGL.

:func:`to_dgl` exports a batch as one graph with edges child -> parent (node ids = batch order,
node feature ``x``, edge feature ``slot`` = the child's index among its parent's children).
:func:`propagate_dgl` runs an encoder's reference cell (:mod:`treenets.models.reference`, the same
parameters and equations) with ``dgl.prop_nodes_topo``, the way DGL's tree-LSTM example does:
leaves first, then one message/reduce round per topological frontier. It is an independent
second path for the tests, and the DGL baseline of the speed benchmark.

Import DGL only through :func:`import_dgl`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types
import warnings

import torch
from torch import nn

from treenets.batching import TreeBatch
from treenets.models.reference import cell_of, slots_of


def import_dgl():
    """Import DGL, working around its GraphBolt library where torch is newer than DGL.

    DGL 2.1.0, the newest Linux wheel on PyPI, loads ``libgraphbolt_pytorch_<torch version>.so``
    at import and ships it only for torch 2.0.0-2.2.1 (and GraphBolt imports torchdata), so with a
    newer torch ``import dgl`` fails. Tree propagation needs no GraphBolt: registering an empty
    ``dgl.graphbolt`` module first lets the rest of DGL import (GraphBolt and dgl.distributed are
    then unusable). Raises ImportError with the reason when DGL cannot be imported.
    """
    if "dgl" in sys.modules and hasattr(sys.modules["dgl"], "prop_nodes_topo"):
        return sys.modules["dgl"]
    if importlib.util.find_spec("dgl") is None:
        raise ImportError("DGL is not installed (pip install 'treenets[dgl]')")
    os.environ.setdefault("DGLBACKEND", "pytorch")  # else DGL writes ~/.dgl/config.json
    sys.modules.setdefault("dgl.graphbolt", types.ModuleType("dgl.graphbolt"))
    try:
        import dgl
    except Exception as error:
        raise ImportError(f"DGL cannot be imported: {type(error).__name__}: {error}") from error
    return dgl


def to_dgl(batch: TreeBatch, x: torch.Tensor):
    """The batch as one DGLGraph: edges child -> parent, ``ndata['x']`` = x, ``edata['slot']``."""
    dgl = import_dgl()
    n = batch.num_nodes
    parent, slot = torch.nonzero(batch.child_slots < n, as_tuple=True)  # by parent, then left to right
    child = batch.child_slots[parent, slot]
    graph = dgl.graph((batch.order[child], batch.order[parent]), num_nodes=n)
    graph.ndata["x"] = x
    graph.edata["slot"] = slot
    return graph


def propagate_dgl(encoder: nn.Module, graph) -> torch.Tensor:
    """Node states [N, H] (graph node order) of ``encoder``'s reference cell, via prop_nodes_topo."""
    dgl = import_dgl()
    cell, H = cell_of(encoder), encoder.hidden_size
    x = graph.ndata["x"]
    leaves = torch.nonzero(graph.in_degrees() == 0, as_tuple=True)[0]
    leaf_h, leaf_c = cell(encoder, x[leaves], x.new_zeros(len(leaves), 0, H), x.new_zeros(len(leaves), 0, H))
    graph.ndata["h"] = x.new_zeros(graph.num_nodes(), H).index_copy(0, leaves, leaf_h)
    graph.ndata["c"] = x.new_zeros(graph.num_nodes(), H).index_copy(0, leaves, leaf_c)

    def message(edges):
        return {"h": edges.src["h"], "c": edges.src["c"], "slot": edges.data["slot"]}

    def reduce(nodes):  # one call per in-degree among the frontier's nodes
        mail_h, mail_c, slot = nodes.mailbox["h"], nodes.mailbox["c"], nodes.mailbox["slot"]
        n, degree = slot.shape
        where = slot.unsqueeze(2).expand(n, degree, H)  # DGL's mailbox order is not the children's
        shape = (n, slots_of(encoder, degree), H)
        kid_h = mail_h.new_zeros(shape).scatter(1, where, mail_h)
        kid_c = mail_c.new_zeros(shape).scatter(1, where, mail_c)
        h, c = cell(encoder, nodes.data["x"], kid_h, kid_c)
        return {"h": h, "c": c}

    with warnings.catch_warnings():  # the leaves' frontier has no edges to pull over
        warnings.filterwarnings("ignore", message=".*does not contain valid edges")
        dgl.prop_nodes_topo(graph, message, reduce)
    return graph.ndata["h"]
