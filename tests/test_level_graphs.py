"""The N-ary Tree-LSTM's level loop padded to bucket shapes and replayed as graphs (issue 16).

On the CPU the graphs are emulated (a replay reruns the captured functions into the first run's
tensors), which checks the padding, the static buffers, the bucket cache and the backward's
bookkeeping; the CUDA tests at the end capture real graphs and skip without a GPU.
"""

from __future__ import annotations

import copy
import pickle
import random

import numpy as np
import pytest
import torch
from test_tree_models import outputs_and_grads, random_batch, random_constituency_tree, word_vectors

from treenets.models.level_graphs import LevelGraphs, LevelShape, _grid, pad_schedule
from treenets.models.tree_lstm import NaryTreeLSTM, nary_backward, nary_forward

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def binary_batch(seed: int, num_trees: int = 7, max_tokens: int = 11, arity: int = 2):
    rng = random.Random(seed)
    return random_batch(lambda n, r: random_constituency_tree(n, r, arity=arity), rng, num_trees, max_tokens)[1]


def graphed(encoder: NaryTreeLSTM, **options) -> NaryTreeLSTM:
    """A copy of ``encoder`` (same weights) whose level loop runs through emulated graphs."""
    twin = copy.deepcopy(encoder)
    twin.graphs = LevelGraphs(nary_forward, nary_backward, emulate=True, **options)
    return twin


def loss_and_grads(encoder, batch, x, weights):
    """h and the gradients of sum(weights * h) w.r.t. x and every parameter, for ``encoder(batch, x)``."""
    return outputs_and_grads(encoder, lambda x: encoder(batch, x), x, weights)


def assert_same(eager, replayed, tolerance=1e-12):
    (h0, g0), (h1, g1) = eager, replayed
    torch.testing.assert_close(h1, h0, rtol=0, atol=tolerance)
    for a, b in zip(g0, g1):
        torch.testing.assert_close(b, a, rtol=0, atol=tolerance)


# ---------------------------------------------------------------------------- buckets
def test_grid_has_four_steps_per_octave():
    assert [_grid(n) for n in (0, 1, 8, 9, 10, 11, 13, 16, 17, 33, 100, 128, 129)] == \
        [8, 8, 8, 10, 10, 12, 14, 16, 20, 40, 112, 128, 160]


def test_bucket_shape_of_a_schedule():
    # 5 leaves, phrase levels of 3, 2 and 1 nodes
    shape = LevelShape.of((0, 5, 8, 10, 11))
    assert shape == LevelShape(leaves=8, width=8, depth=4)
    assert shape.rows == 8 + 4 * 8
    assert shape.bounds == (0, 8, 16, 24, 32, 40)
    assert LevelShape.of((0, 3)) == LevelShape(8, 0, 0)  # one-word trees: no phrase level


def test_padded_schedule_is_a_schedule_of_the_same_trees():
    batch = binary_batch(0)
    shape = LevelShape.of(batch.level_bounds)
    slots, order, position = pad_schedule(shape, batch.level_bounds, batch.child_slots, batch.order, batch.position)
    N, R = batch.num_nodes, shape.rows
    assert (position[order] == torch.arange(R)).all() and (order[position] == torch.arange(R)).all()
    real_at = position[:N]  # padded position of each batch-order node
    # every real node keeps its children (as padded positions), every dummy node has none
    expected = torch.where(batch.child_slots == N, R, torch.cat([position[batch.order], torch.tensor([R])])[
        batch.child_slots.clamp(max=N)])
    assert torch.equal(slots[position[batch.order]], expected)
    dummies = torch.ones(R, dtype=torch.bool)
    dummies[real_at] = False
    assert (slots[dummies] == R).all() and (order[dummies] >= N).all()
    # each node stays on its level: its padded position lies in the same level of the bucket
    level_of = np.searchsorted(batch.level_bounds, batch.position.numpy(), side="right") - 1
    padded_level = np.searchsorted(shape.bounds, real_at.numpy(), side="right") - 1
    assert (level_of == padded_level).all()


@pytest.mark.parametrize("arity, output_gate", [(2, True), (2, False), (3, True)])
@pytest.mark.parametrize("seed", [0, 1])
def test_padded_loop_equals_the_unpadded_one(arity, output_gate, seed):
    batch = binary_batch(seed, arity=arity)
    encoder = NaryTreeLSTM(5, 4, arity=arity, output_gate=output_gate).double()
    x = word_vectors(batch, 5, seed).detach()
    weights = torch.randn(batch.num_nodes, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    params = (encoder.W, encoder.b, encoder.U)
    slots = torch.nn.functional.pad(batch.child_slots, (0, arity - batch.child_slots.shape[1]), value=batch.num_nodes)
    shape = LevelShape.of(batch.level_bounds)
    padded = pad_schedule(shape, batch.level_bounds, slots, batch.order, batch.position)
    x_padded = torch.nn.functional.pad(x, (0, 0, 0, shape.rows - batch.num_nodes))

    with torch.no_grad():  # as inside the autograd Function
        h, saved = nary_forward(x, *params, slots, batch.level_bounds, batch.order, batch.position)
        h_pad, saved_pad = nary_forward(x_padded, *params, padded[0], shape.bounds, *padded[1:])
        grad_pad = torch.nn.functional.pad(weights, (0, 0, 0, shape.rows - batch.num_nodes))
        grads = nary_backward(saved, batch.level_bounds, weights, True)
        grads_pad = nary_backward(saved_pad, shape.bounds, grad_pad, True)
    torch.testing.assert_close(h_pad[: batch.num_nodes], h, rtol=0, atol=1e-13)
    torch.testing.assert_close(grads_pad[0][: batch.num_nodes], grads[0], rtol=0, atol=1e-13)
    assert (grads_pad[0][batch.num_nodes:] == 0).all()  # the dummy rows of x get nothing
    for a, b in zip(grads[1:], grads_pad[1:]):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-13)


# ---------------------------------------------------------------------------- replays (emulated)
def test_replays_equal_eager_across_batches_and_buckets():
    torch.manual_seed(0)
    eager = NaryTreeLSTM(5, 4).double()
    replayed = graphed(eager)
    batches = [binary_batch(seed % 4, num_trees=5 + seed % 4) for seed in range(10)]  # repeats reuse buckets
    for k, batch in enumerate(batches):
        x = word_vectors(batch, 5, k)
        weights = torch.randn(batch.num_nodes, 4, dtype=torch.float64)
        assert_same(loss_and_grads(eager, batch, x, weights), loss_and_grads(replayed, batch, x, weights))
    stats = replayed.graphs.stats
    buckets = {LevelShape.of(b.level_bounds) for b in batches}
    assert stats["captures"] == len(buckets) < len(batches)
    assert stats["replays"] == len(batches) and stats["eager"] == stats["busy"] == stats["recomputed"] == 0


def test_training_steps_with_replays_match_eager_training():
    """Parameters updated in place between replays are what the captured graphs read."""
    torch.manual_seed(1)
    eager = NaryTreeLSTM(5, 4).double()
    replayed = graphed(eager)
    optimizers = [torch.optim.Adagrad(m.parameters(), lr=0.1) for m in (eager, replayed)]
    batch = binary_batch(3)
    x = word_vectors(batch, 5, 3).detach()
    for _ in range(3):
        for model, optimizer in zip((eager, replayed), optimizers):
            optimizer.zero_grad()
            model(batch, x).square().sum().backward()
            optimizer.step()
    for a, b in zip(eager.parameters(), replayed.parameters()):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-12)
    assert replayed.graphs.stats["captures"] == 1 and replayed.graphs.stats["replays"] == 3


@pytest.mark.parametrize("max_graphs", [64, 1])
def test_a_pair_in_one_bucket_gets_a_second_capture_or_runs_eagerly(max_graphs):
    """Two forwards of one bucket before the backward (a sentence pair's two sides)."""
    eager = NaryTreeLSTM(5, 4).double()
    replayed = graphed(eager, max_graphs=max_graphs)
    left, right = binary_batch(5), binary_batch(5)
    x = word_vectors(left, 5, 0)
    for step in range(2):
        results = []
        for model in (eager, replayed):
            x_left, x_right = x.detach().clone().requires_grad_(True), (2 * x).detach().clone().requires_grad_(True)
            h_left, h_right = model(left, x_left), model(right, x_right)
            loss = (h_left * h_right).sum() + h_left.square().sum()
            results.append((torch.cat([h_left, h_right]).detach(),
                            torch.autograd.grad(loss, [x_left, x_right, *model.parameters()])))
        assert_same(*results)
    stats = replayed.graphs.stats
    if max_graphs > 1:  # the right side's capture is reused in the second step
        assert (stats["captures"], stats["replays"], stats["busy"]) == (2, 4, 0)
    else:
        assert (stats["captures"], stats["replays"], stats["busy"], stats["eager"]) == (1, 2, 2, 2)


def test_a_backward_after_its_bucket_was_replayed_again_recomputes():
    eager = NaryTreeLSTM(5, 4).double()
    replayed = graphed(eager)
    first, other = binary_batch(7), binary_batch(7)
    x = word_vectors(first, 5, 1)
    h = replayed(first, x)
    once = torch.autograd.grad(h.sum(), [x, *replayed.parameters()], retain_graph=True)
    replayed(other, 3 * x).sum().backward()  # the same bucket, replayed with other inputs
    again = torch.autograd.grad(h.sum(), [x, *replayed.parameters()])
    expected = loss_and_grads(eager, first, x, torch.ones(first.num_nodes, 4, dtype=torch.float64))
    assert_same(expected, (h.detach(), once))
    assert_same(expected, (h.detach(), again))
    assert replayed.graphs.stats["recomputed"] == 1


def test_batches_past_the_last_free_bucket_run_eagerly():
    eager = NaryTreeLSTM(5, 4).double()
    replayed = graphed(eager, max_graphs=1)
    small, large = binary_batch(0, num_trees=2, max_tokens=3), binary_batch(0, num_trees=12, max_tokens=30)
    assert LevelShape.of(small.level_bounds) != LevelShape.of(large.level_bounds)
    for batch in (small, large, small):
        x = word_vectors(batch, 5, 2)
        weights = torch.randn(batch.num_nodes, 4, dtype=torch.float64)
        assert_same(loss_and_grads(eager, batch, x, weights), loss_and_grads(replayed, batch, x, weights))
    assert replayed.graphs.stats == {**replayed.graphs.stats, "captures": 1, "replays": 2, "eager": 1}


def test_no_graphs_without_gradients_and_none_kept_by_copies():
    replayed = graphed(NaryTreeLSTM(5, 4).double())
    batch = binary_batch(1)
    with torch.no_grad():
        replayed(batch, word_vectors(batch, 5, 0))
    assert replayed.graphs.stats["replays"] == 0
    replayed(batch, word_vectors(batch, 5, 0)).sum().backward()
    assert replayed.graphs.stats["captures"] == 1
    for twin in (copy.deepcopy(replayed), pickle.loads(pickle.dumps(replayed))):
        assert twin.graphs.captures == {} and twin.graphs.emulate and twin.graphs.stats["captures"] == 0
    replayed.float()  # new parameter storage: the captures read the old one and are dropped
    replayed(batch, word_vectors(batch, 5, 0).float()).sum().backward()
    assert replayed.graphs.stats["captures"] == 1 and sum(map(len, replayed.graphs.captures.values())) == 1


def test_one_word_trees_have_a_bucket_too():
    trees_batch = random_batch(lambda n, r: random_constituency_tree(1, r), random.Random(0), num_trees=3)[1]
    eager = NaryTreeLSTM(5, 4).double()
    x = word_vectors(trees_batch, 5, 0)
    weights = torch.randn(trees_batch.num_nodes, 4, dtype=torch.float64)
    assert_same(loss_and_grads(eager, trees_batch, x, weights),
                loss_and_grads(graphed(eager), trees_batch, x, weights))


def test_the_model_config_turns_the_graphs_on():
    from treenets.config import model_config
    from treenets.models import build_encoder

    assert isinstance(build_encoder(model_config(name="nary_treelstm", cuda_graphs=True), 5).graphs, LevelGraphs)
    assert build_encoder(model_config(name="nary_treelstm"), 5).graphs is None


# ---------------------------------------------------------------------------- CUDA graphs
@CUDA
@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
def test_captured_graphs_equal_eager_on_cuda(dtype, tolerance):
    torch.manual_seed(0)
    eager = NaryTreeLSTM(5, 4).to("cuda", dtype)
    captured = copy.deepcopy(eager)
    captured.graphs = LevelGraphs(nary_forward, nary_backward, max_graphs=3)
    batches = [binary_batch(seed % 5, num_trees=3 + 4 * (seed % 5), max_tokens=5 + 5 * (seed % 5))
               for seed in range(12)]
    for k, batch in enumerate(batches):
        batch = batch.to("cuda")
        x = word_vectors(batch, 5, k).to(dtype)
        weights = torch.randn(batch.num_nodes, 4, dtype=dtype, device="cuda")
        assert_same(loss_and_grads(eager, batch, x, weights), loss_and_grads(captured, batch, x, weights), tolerance)
    stats = captured.graphs.stats
    assert stats["failures"] == [] and stats["captures"] == 3
    assert stats["eager"] > 0 and stats["replays"] + stats["eager"] == len(batches)  # past 3 buckets: eager
