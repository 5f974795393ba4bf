"""Batched tree encoders against the naive one-node-at-a-time references, and real SST training."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from treenets.batching import TreeBatch
from treenets.errors import InputError
from treenets.models.recursive import RNTN, RecNN
from treenets.models.reference import reference_encode
from treenets.models.tree_lstm import ChildSumTreeLSTM, NaryTreeLSTM
from treenets.trees import Tree


# ---------------------------------------------------------------------------- random trees
def random_constituency_tree(num_tokens: int, rng: random.Random, arity: int = 2, labelled: bool = True) -> Tree:
    """Merge 2..arity adjacent constituents at random until one is left (binary for arity 2)."""
    items, children = list(range(num_tokens)), [()] * num_tokens
    while len(items) > 1:
        width = rng.randint(2, min(arity, len(items)))
        at = rng.randrange(len(items) - width + 1)
        children.append(tuple(items[at:at + width]))
        items[at:at + width] = [len(children) - 1]
    labels = [rng.randrange(5) for _ in children] if labelled else None
    return Tree([f"w{k}" for k in range(num_tokens)], children, labels)


def random_dependency_tree(num_tokens: int, rng: random.Random) -> Tree:
    """A random recursive tree over the tokens: any number of children, a word at every node."""
    attach_order = rng.sample(range(num_tokens), num_tokens)
    parents = [0] * num_tokens  # 1-based, 0 = root
    for k, token in enumerate(attach_order[1:], start=1):
        parents[token] = attach_order[rng.randrange(k)] + 1
    return Tree.from_parents([f"w{k}" for k in range(num_tokens)], parents)


def random_batch(make_tree, rng: random.Random, num_trees: int = 7, max_tokens: int = 11):
    trees = [make_tree(rng.randint(1, max_tokens), rng) for _ in range(num_trees)]
    ids = [[rng.randrange(1, 40) for _ in range(t.num_tokens)] for t in trees]
    return trees, TreeBatch.from_trees(trees, ids)


def word_vectors(batch: TreeBatch, dim: int, seed: int) -> torch.Tensor:
    """Random vectors at word nodes, zeros at phrase nodes (what an embedding of id 0 gives)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch.num_nodes, dim, generator=generator, dtype=torch.float64)
    return (x * batch.has_word.unsqueeze(1)).requires_grad_(True)


MODELS = {  # name: (constructor, tree maker); RecNN/RNTN with d = hidden (the paper) and with a projection
    "childsum": (lambda: ChildSumTreeLSTM(5, 4), random_dependency_tree),
    "childsum_no_output_gate": (lambda: ChildSumTreeLSTM(5, 4, output_gate=False), random_dependency_tree),
    "nary2_no_output_gate": (lambda: NaryTreeLSTM(5, 4, output_gate=False), random_constituency_tree),
    "childsum_on_constituency": (lambda: ChildSumTreeLSTM(5, 4), lambda n, r: random_constituency_tree(n, r, arity=4)),
    "nary2": (lambda: NaryTreeLSTM(5, 4), random_constituency_tree),
    "nary3": (lambda: NaryTreeLSTM(5, 4, arity=3), lambda n, r: random_constituency_tree(n, r, arity=3)),
    "recnn": (lambda: RecNN(4, 4), random_constituency_tree),
    "recnn_projected": (lambda: RecNN(6, 4), random_constituency_tree),
    "rntn": (lambda: RNTN(4, 4), random_constituency_tree),
    "rntn_projected": (lambda: RNTN(6, 4), random_constituency_tree),
    "recnn_corenlp": (lambda: RecNN(4, 4, identity_init=True, leaf_tanh=True), random_constituency_tree),
    "rntn_corenlp": (lambda: RNTN(6, 4, identity_init=True, leaf_tanh=True), random_constituency_tree),
}


def outputs_and_grads(encoder, run, x, weights):
    """Forward, then the gradient of sum(weights * h) w.r.t. x and every parameter."""
    x = x.detach().clone().requires_grad_(True)
    h = run(x)
    grads = torch.autograd.grad((h * weights).sum(), [x, *encoder.parameters()])
    return h.detach(), grads


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", list(MODELS))
def test_batched_equals_naive_reference_in_outputs_and_gradients(name, seed):
    make_encoder, make_tree = MODELS[name]
    rng = random.Random(seed)
    torch.manual_seed(seed)
    encoder = make_encoder().double()
    trees, batch = random_batch(make_tree, rng)
    x = word_vectors(batch, encoder.input_dim, seed)
    weights = torch.randn(batch.num_nodes, encoder.hidden_size, dtype=torch.float64)

    h, grads = outputs_and_grads(encoder, lambda x: encoder(batch, x), x, weights)
    h_ref, grads_ref = outputs_and_grads(encoder, lambda x: reference_encode(encoder, trees, x), x, weights)

    torch.testing.assert_close(h, h_ref, rtol=0, atol=1e-10)
    for what, grad, grad_ref in zip(["x", *dict(encoder.named_parameters())], grads, grads_ref):
        torch.testing.assert_close(grad, grad_ref, rtol=0, atol=1e-10, msg=lambda m: f"d/d{what}: {m}")
    assert h.abs().sum() > 0 and all(g.abs().sum() > 0 for g in grads)  # nothing trivially zero


def test_without_output_gate_a_leaf_state_is_tanh_of_its_cell():
    torch.manual_seed(0)
    gated, ungated = ChildSumTreeLSTM(5, 4).double(), ChildSumTreeLSTM(5, 4, output_gate=False).double()
    ungated.load_state_dict(gated.state_dict())
    trees, batch = random_batch(random_dependency_tree, random.Random(0))
    x = word_vectors(batch, 5, 0)
    h_gated, h_ungated = gated(batch, x), ungated(batch, x)
    assert not torch.allclose(h_gated, h_ungated)
    leaf = next(node for node, kids in enumerate(trees[0].children) if not kids)
    W_u, W_i, *_ = gated.W.split(4)
    b_u, b_i, *_ = gated.b.split(4)
    c = torch.sigmoid(x[leaf] @ W_i.t() + b_i) * torch.tanh(x[leaf] @ W_u.t() + b_u)
    torch.testing.assert_close(h_ungated[leaf], torch.tanh(c))


def test_nary_without_output_gate_stays_pinned_open_through_training_steps():
    torch.manual_seed(0)
    encoder = NaryTreeLSTM(5, 4, output_gate=False).double()
    trees, batch = random_batch(random_constituency_tree, random.Random(1))
    optimizer = torch.optim.Adagrad(encoder.parameters(), lr=0.5, weight_decay=0.1)
    x = word_vectors(batch, 5, 1)
    encoder(batch, x).sum().backward()
    assert encoder.U.grad[8:12].abs().sum() == 0 and encoder.W.grad[8:12].abs().sum() == 0  # sigmoid'(50) = 0
    optimizer.step()  # weight decay moves the pinned rows ...
    assert encoder.b[8:12].ne(50.0).all()
    encoder.constrain_()  # ... and the trainer's constrain_() pins them again
    assert encoder.b[8:12].eq(50.0).all() and encoder.W[8:12].eq(0).all() and encoder.U[8:12].eq(0).all()
    torch.testing.assert_close(encoder(batch, x), reference_encode(encoder, trees, x), rtol=0, atol=1e-10)


@pytest.mark.parametrize("make", [lambda: RecNN(6, 25, identity_init=True), lambda: RNTN(6, 25, identity_init=True)])
def test_identity_init_starts_a_phrase_as_the_sum_of_its_children(make):
    """CoreNLP's initialisation: W = [I + noise, I + noise] with noise in +-1/(2 sqrt d), b = 0,
    V in +-1/(4d); so before training p ~ tanh(b + c)."""
    torch.manual_seed(0)
    encoder, d = make().double(), 25
    noise = encoder.W.detach() - torch.eye(d).repeat(1, 2)
    assert noise.abs().max() <= 0.5 / d**0.5 and noise.abs().max() > 0.4 / d**0.5
    assert encoder.b.eq(0).all()
    if isinstance(encoder, RNTN):
        assert encoder.V.abs().max() <= 0.25 / d and encoder.V.abs().max() > 0.2 / d
    trees, batch = random_batch(random_constituency_tree, random.Random(2))
    x = word_vectors(batch, 6, 2).detach()
    h = encoder(batch, x)
    torch.testing.assert_close(h, reference_encode(encoder, trees, x))
    leaves = encoder.leaf(x)
    offsets = np.cumsum([0] + [len(tree.children) for tree in trees])
    lowest_phrases = [(offset + node, [offset + k for k in kids]) for tree, offset in zip(trees, offsets)
                      for node, kids in enumerate(tree.children) if kids and not any(tree.children[k] for k in kids)]
    nodes, kids = zip(*lowest_phrases)
    kids = torch.tensor(kids)
    similarity = torch.nn.functional.cosine_similarity(h[list(nodes)], torch.tanh(leaves[kids].sum(1)), dim=1)
    assert len(nodes) > 5 and similarity.mean() > 0.7 and similarity.min() > 0.4, similarity


def test_leaf_tanh_bounds_the_leaf_states():
    torch.manual_seed(0)
    plain, bounded = RNTN(6, 4).double(), RNTN(6, 4, leaf_tanh=True).double()
    bounded.load_state_dict(plain.state_dict())
    trees, batch = random_batch(random_constituency_tree, random.Random(3))
    x = 3 * word_vectors(batch, 6, 3).detach()
    is_leaf = torch.tensor([not kids for tree in trees for kids in tree.children])
    leaves = plain(batch, x)[is_leaf]
    assert leaves.abs().max() > 1
    torch.testing.assert_close(bounded(batch, x)[is_leaf], torch.tanh(leaves))


def test_nary_handwritten_backward_passes_gradcheck():
    rng = random.Random(5)
    encoder = NaryTreeLSTM(3, 2).double()
    _, batch = random_batch(random_constituency_tree, rng, num_trees=3, max_tokens=5)
    x = word_vectors(batch, 3, 5)
    assert torch.autograd.gradcheck(lambda x, *params: encoder(batch, x), (x, *encoder.parameters()))


@pytest.mark.parametrize("name", ["childsum", "nary2", "recnn", "rntn"])
def test_a_trees_states_do_not_depend_on_its_batch_mates_or_their_order(name):
    make_encoder, make_tree = MODELS[name]
    rng = random.Random(11)
    encoder = make_encoder().double()
    trees = [make_tree(rng.randint(1, 12), rng) for _ in range(9)]
    ids = [[rng.randrange(1, 40) for _ in range(t.num_tokens)] for t in trees]
    vectors = [torch.randn(t.num_tokens, encoder.input_dim, dtype=torch.float64) for t in trees]

    def encode(indices):
        batch = TreeBatch.from_trees([trees[i] for i in indices], [ids[i] for i in indices])
        x = torch.cat([torch.cat([vectors[i], vectors[i].new_zeros(trees[i].num_nodes - trees[i].num_tokens,
                                                                      encoder.input_dim)]) for i in indices])
        h = encoder(batch, x)
        return {i: h[batch.tree_offsets[k]:batch.tree_offsets[k + 1]] for k, i in enumerate(indices)}

    alone = {i: encode([i])[i] for i in range(len(trees))}
    shuffled = rng.sample(range(len(trees)), len(trees))
    for together in (encode(list(range(len(trees)))), encode(shuffled), encode(shuffled[:4])):
        for i, h in together.items():
            torch.testing.assert_close(h, alone[i], rtol=0, atol=1e-12)


def test_one_word_trees_have_no_phrase_levels():
    rng = random.Random(3)
    trees, batch = random_batch(random_constituency_tree, rng, num_trees=4, max_tokens=1)
    assert batch.num_levels == 1 and batch.max_children == 0
    for make in (lambda: NaryTreeLSTM(5, 4), lambda: ChildSumTreeLSTM(5, 4), lambda: RNTN(4, 4)):
        encoder = make().double()
        x = word_vectors(batch, encoder.input_dim, 3)
        torch.testing.assert_close(encoder(batch, x), reference_encode(encoder, trees, x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("encoder,tree,message", [
    (NaryTreeLSTM(5, 4), Tree(["a", "b", "c"], [(), (), (), (0, 1, 2)]), "N=2.*3 children; binarize"),
    (RecNN(4, 4), Tree(["a", "b", "c"], [(), (), (), (0, 1, 2)]), "exactly two children, got a node with 3"),
    (RNTN(4, 4), Tree(["a", "b"], [(), (), (0, 1), (2,)]), "exactly two children, got a node with 1"),
    (NaryTreeLSTM(5, 4), Tree(["a", "b"], [(1,), ()]), "words at the leaves only"),
    (RecNN(4, 4), Tree(["a", "b", "c"], [(), (0, 2), ()]), "words at the leaves only"),
])
def test_trees_a_model_cannot_compose_are_input_errors(encoder, tree, message):
    batch = TreeBatch.from_trees([tree], [[1] * tree.num_tokens])
    with pytest.raises(InputError, match=message):
        encoder(batch, torch.zeros(batch.num_nodes, encoder.input_dim))


def test_word_vectors_of_the_wrong_shape_are_rejected():
    batch = TreeBatch.from_trees([Tree(["a", "b"], [(), (), (0, 1)])], [[1, 2]])
    with pytest.raises(ValueError, match=r"x must be \[3, 5\]"):
        NaryTreeLSTM(5, 4)(batch, torch.zeros(3, 4))


# ---------------------------------------------------------------------------- real SST trees
@pytest.fixture(scope="module")
def sst_slice(data_mirror):
    with open(data_mirror / "sst" / "train.txt", encoding="utf-8") as lines:
        trees = [Tree.from_ptb(next(lines).rstrip("\n")) for _ in range(40)]
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(w, len(vocab) + 1) for w in t.tokens] for t in trees]
    return trees, ids, len(vocab) + 1


@pytest.mark.parametrize("make", [
    lambda: NaryTreeLSTM(16, 12), lambda: ChildSumTreeLSTM(16, 12), lambda: RecNN(16, 12), lambda: RNTN(12, 12),
], ids=["nary", "childsum", "recnn", "rntn"])
def test_training_steps_on_real_sst_trees_lower_the_all_node_loss(sst_slice, make):
    trees, ids, vocab_size = sst_slice
    torch.manual_seed(0)
    encoder = make()
    embedding = torch.nn.Embedding(vocab_size, encoder.input_dim, padding_idx=0)
    classifier = torch.nn.Linear(encoder.hidden_size, 5)
    batch = TreeBatch.from_trees(trees, ids)
    assert (batch.labels >= 0).all()  # SST labels every node: sentiment at every phrase

    def loss():
        states = encoder(batch, embedding(batch.word_ids))
        return torch.nn.functional.cross_entropy(classifier(states), batch.labels)

    parameters = [*encoder.parameters(), *embedding.parameters(), *classifier.parameters()]
    optimizer = torch.optim.Adagrad(parameters, lr=0.05)
    before = loss().item()
    for _ in range(6):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    assert loss().item() < before - 0.05


def test_real_sst_trees_batched_equal_reference_in_float32(sst_slice):
    trees, ids, _ = sst_slice
    torch.manual_seed(1)
    encoder = NaryTreeLSTM(8, 6)
    batch = TreeBatch.from_trees(trees[:12], ids[:12])
    x = torch.randn(batch.num_nodes, 8) * batch.has_word.unsqueeze(1)
    torch.testing.assert_close(encoder(batch, x), reference_encode(encoder, trees[:12], x), rtol=1e-5, atol=1e-6)
