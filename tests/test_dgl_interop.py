"""DGL export and the DGL reference path against the native engine (skipped where DGL cannot import)."""

from __future__ import annotations

import importlib.util
import random
import sys

import pytest
import torch

from test_tree_models import MODELS, outputs_and_grads, random_batch, word_vectors
from treenets.batching import TreeBatch
from treenets.dgl_interop import import_dgl, propagate_dgl, to_dgl
from treenets.models.tree_lstm import NaryTreeLSTM
from treenets.trees import Tree

@pytest.fixture(scope="module")
def dgl():
    try:
        return import_dgl()
    except ImportError as error:
        pytest.skip(f"DGL path not tested: {error}")


def test_missing_dgl_is_an_import_error_with_the_reason(monkeypatch):
    for name in [n for n in sys.modules if n == "dgl" or n.startswith("dgl.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    with pytest.raises(ImportError, match=r"DGL is not installed \(pip install 'treenets\[dgl\]'\)"):
        import_dgl()


def test_export_has_child_to_parent_edges_with_slots(dgl):
    tree = Tree(["a", "b", "c"], [(), (), (), (1, 2), (0, 3)])
    batch = TreeBatch.from_trees([tree, tree], [[1, 2, 3], [4, 5, 6]])
    x = torch.randn(batch.num_nodes, 3)
    graph = to_dgl(batch, x)
    src, dst = graph.edges()
    edges = sorted(zip(src.tolist(), dst.tolist(), graph.edata["slot"].tolist()))
    expected = sorted((kid + offset, node + offset, slot) for offset in (0, 5)
                      for node, kids in enumerate(tree.children) for slot, kid in enumerate(kids))
    assert edges == expected
    assert graph.num_nodes() == 10 and torch.equal(graph.ndata["x"], x)


@pytest.mark.parametrize("name", list(MODELS))
def test_native_engine_equals_dgl_path(dgl, name):
    make_encoder, make_tree = MODELS[name]
    rng = random.Random(7)
    torch.manual_seed(7)
    encoder = make_encoder().double()
    _, batch = random_batch(make_tree, rng)
    x = word_vectors(batch, encoder.input_dim, 7)
    weights = torch.randn(batch.num_nodes, encoder.hidden_size, dtype=torch.float64)

    h, grads = outputs_and_grads(encoder, lambda x: encoder(batch, x), x, weights)
    h_dgl, grads_dgl = outputs_and_grads(encoder, lambda x: propagate_dgl(encoder, to_dgl(batch, x)), x, weights)
    torch.testing.assert_close(h, h_dgl, rtol=0, atol=1e-10)
    for grad, grad_dgl in zip(grads, grads_dgl):
        torch.testing.assert_close(grad, grad_dgl, rtol=0, atol=1e-10)


def test_dgl_path_on_real_sst_trees(dgl, data_mirror):
    with open(data_mirror / "sst" / "test.txt", encoding="utf-8") as lines:
        trees = [Tree.from_ptb(next(lines).rstrip("\n")) for _ in range(16)]
    batch = TreeBatch.from_trees(trees, [[1] * t.num_tokens for t in trees])
    encoder = NaryTreeLSTM(6, 5)
    x = torch.randn(batch.num_nodes, 6) * batch.has_word.unsqueeze(1)
    torch.testing.assert_close(propagate_dgl(encoder, to_dgl(batch, x)), encoder(batch, x), rtol=1e-5, atol=1e-6)
