"""Model assembly: every family for both tasks, optimizer groups, and a few real training steps."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from treenets.batching import SequenceBatch, TreeBatch
from treenets.config import MODEL_NAMES, SEQUENCE_MODELS, ModelConfig, model_config
from treenets.data.readers import read_sick, read_sst
from treenets.errors import InputError
from treenets.models import TokenEmbedding, build_model
from treenets.models.heads import RelatednessHead, SentimentHead
from treenets.trees import Tree

SLICE = 24  # sentences / pairs per task: enough to see the loss move, small enough to take seconds
EMBEDDING_DIM = 12


@pytest.fixture(scope="module")
def sst_trees(data_mirror):
    return read_sst(data_mirror / "sst" / "train.txt", limit=SLICE)


def right_branching(tokens) -> Tree:
    """A fixed binary bracketing (w1 (w2 (w3 ...))): the tree models' input for SICK sentences here;
    real parses come from treenets.parse and are not what this test is about."""
    children, top = [()] * len(tokens), len(tokens) - 1
    for left in range(len(tokens) - 2, -1, -1):
        children.append((left, top))
        top = len(children) - 1
    return Tree(tokens, children)


@pytest.fixture(scope="module")
def sick_pairs(data_mirror):
    pairs = read_sick(data_mirror / "sick" / "semeval2014" / "SICK_train.txt")[:SLICE]
    return [(pair.a.split(), pair.b.split(), pair.score) for pair in pairs]


def vocabulary(sentences) -> dict[str, int]:
    words = sorted({w for sentence in sentences for w in sentence})
    return {w: i + 2 for i, w in enumerate(words)}  # 0: padding, 1: unknown


def embedding_matrix(size: int) -> np.ndarray:
    matrix = np.random.default_rng(0).normal(0, 0.3, (size + 2, EMBEDDING_DIM)).astype(np.float32)
    matrix[0] = 0
    return matrix


def batch_of(config, sentences, vocab, labels=None):
    """A TreeBatch of trees (tree models) or a SequenceBatch of their tokens (sequence models)."""
    ids = [[vocab[w] for w in tree.tokens] for tree in sentences]
    if config.is_tree:
        return TreeBatch.from_trees(sentences, ids)
    return SequenceBatch.from_token_ids(ids, labels)


def sentiment_head(config: ModelConfig, classes: int):
    return lambda hidden: SentimentHead(hidden, classes, config.dropout)


def relatedness_head(config: ModelConfig, score_range: tuple[int, int]):
    return lambda hidden: RelatednessHead(hidden, config.head_hidden, score_range, config.dropout)


def config_for(name: str, **overrides) -> ModelConfig:
    sizes = {"slices": 2, "levels": 2} if name == "srnn" else {}
    return model_config(name=name, hidden=10, head_hidden=8, **sizes, **overrides)


def train(model, loss_of, steps=12):
    """Loss (dropout off) before and after ``steps`` Adagrad steps on the same slice."""
    optimizer = torch.optim.Adagrad(model.parameter_groups(lr=0.05, embedding_lr=0.1))
    model.eval()
    with torch.no_grad():
        before = loss_of().item()
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss_of().backward()
        optimizer.step()
        model.constrain_()
    model.eval()
    with torch.no_grad():
        return before, loss_of().item()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_sentiment_model_trains_on_sst(name, sst_trees):
    torch.manual_seed(0)
    config = config_for(name, dropout=0.5)
    vocab = vocabulary(t.tokens for t in sst_trees)
    longest = max(t.num_tokens for t in sst_trees)
    model = build_model(config, embedding_matrix(len(vocab)), sentiment_head(config, 5),
                        freeze_embeddings=False, max_length=longest)
    batch = batch_of(config, sst_trees, vocab, labels=[t.labels[t.root] for t in sst_trees])
    logits = model(batch)
    expected_rows = sum(t.num_nodes for t in sst_trees) if config.is_tree else len(sst_trees)
    assert logits.shape == (expected_rows, 5)
    before, after = train(model, lambda: model.head.loss(model(batch), batch.labels, len(sst_trees)))
    assert 0 <= after < 0.9 * before  # a cross-entropy: falls, and never below 0


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_relatedness_model_trains_on_sick(name, sick_pairs):
    torch.manual_seed(0)
    config = config_for(name)
    vocab = vocabulary(s for a, b, _ in sick_pairs for s in (a, b))
    model = build_model(config, embedding_matrix(len(vocab)), relatedness_head(config, (1, 5)),
                        freeze_embeddings=True, max_length=max(len(s) for a, b, _ in sick_pairs for s in (a, b)))
    left = batch_of(config, [right_branching(a) for a, _, _ in sick_pairs], vocab)
    right = batch_of(config, [right_branching(b) for _, b, _ in sick_pairs], vocab)
    scores = torch.tensor([score for _, _, score in sick_pairs])
    log_probs = model(left, right)
    assert log_probs.shape == (SLICE, 5)
    torch.testing.assert_close(log_probs.exp().sum(1), torch.ones(SLICE))
    predictions = model.head.predict(log_probs)
    assert bool(((predictions >= 1) & (predictions <= 5)).all())
    frozen = model.embedding.weight.detach().clone()
    before, after = train(model, lambda: model.head.loss(model(left, right), scores))
    assert 0 <= after < 0.9 * before  # a KL divergence: falls, and never below 0
    assert torch.equal(model.embedding.weight, frozen)


def test_parameter_groups_and_l2():
    matrix = embedding_matrix(5)
    tuned = build_model(config_for("lstm"), matrix, sentiment_head(config_for("lstm"), 3), freeze_embeddings=False)
    groups = tuned.parameter_groups(lr=0.05, embedding_lr=0.1)
    assert [g["lr"] for g in groups] == [0.05, 0.1]
    assert groups[1]["params"] == [tuned.embedding.weight]
    grouped = [id(p) for g in groups for p in g["params"]]
    assert sorted(grouped) == sorted(id(p) for p in tuned.parameters()) and len(set(grouped)) == len(grouped)
    assert {id(p) for p in tuned.l2_parameters()} == {id(p) for p in groups[0]["params"]}
    assert id(tuned.embedding.weight) not in {id(p) for p in tuned.l2_parameters()}

    frozen = build_model(config_for("lstm"), matrix, relatedness_head(config_for("lstm"), (0, 5)),
                         freeze_embeddings=True)
    groups = frozen.parameter_groups(lr=0.05, embedding_lr=0.1)
    assert len(groups) == 1 and id(frozen.embedding.weight) not in {id(p) for p in groups[0]["params"]}
    assert frozen.head.output.out_features == 6  # scores 0..5


def test_token_embedding_copies_its_matrix_and_keeps_padding_fixed():
    matrix = embedding_matrix(3)
    for source in (matrix, torch.from_numpy(matrix)):
        embedding = TokenEmbedding(source, freeze=False)
        embedding(torch.tensor([[0, 2, 4]])).sum().backward()
        assert embedding.weight.grad[0].abs().sum() == 0 and embedding.weight.grad[2].abs().sum() > 0
        with torch.no_grad():
            embedding.weight.add_(1.0)
        assert np.array_equal(matrix, embedding_matrix(3))  # the caller's matrix is untouched
    assert not TokenEmbedding(matrix, freeze=True).weight.requires_grad


def test_bad_requests_are_input_errors():
    matrix = embedding_matrix(3)
    with pytest.raises(InputError, match="model.constraint_len"):
        build_model(config_for("indrnn"), matrix, sentiment_head(config_for("indrnn"), 5), freeze_embeddings=True)
    bounded = config_for("indrnn", constraint_len=4)
    model = build_model(bounded, matrix, sentiment_head(bounded, 5),
                        freeze_embeddings=True, max_length=100)
    assert model.encoder.recurrent_bound == pytest.approx(2.0 ** (1 / 4))  # the config's length wins


def test_every_sequence_family_gives_sentence_vectors_of_hidden_size():
    matrix = embedding_matrix(6)
    batch = SequenceBatch.from_token_ids([[2, 3, 4], [5], [6, 7]], labels=[0, 1, 2])
    for name in SEQUENCE_MODELS:
        config = config_for(name, bidirectional=True)
        model = build_model(config, matrix, sentiment_head(config, 3),
                            freeze_embeddings=True, max_length=3)
        assert model.sentence_vectors(batch).shape == (3, 20)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_models_on_cuda_equal_cpu(name, sst_trees, sick_pairs):
    """Loss and gradients of both task models, batches moved with .to("cuda"), float64."""
    torch.manual_seed(0)
    config = config_for(name, **({"bidirectional": True} if name in SEQUENCE_MODELS else {}))
    sst_vocab = vocabulary(t.tokens for t in sst_trees)
    sentiment = build_model(config, embedding_matrix(len(sst_vocab)), sentiment_head(config, 5),
                            freeze_embeddings=False, max_length=60)
    sst_batch = batch_of(config, sst_trees, sst_vocab, labels=[t.labels[t.root] for t in sst_trees])
    sick_vocab = vocabulary(s for a, b, _ in sick_pairs for s in (a, b))
    relatedness = build_model(config, embedding_matrix(len(sick_vocab)), relatedness_head(config, (1, 5)),
                              freeze_embeddings=True, max_length=60)
    pair = [batch_of(config, [right_branching(p[side]) for p in sick_pairs], sick_vocab) for side in (0, 1)]
    scores = torch.tensor([score for _, _, score in sick_pairs], dtype=torch.float64)
    cases = [
        (sentiment,
         lambda model, move: model.head.loss(model(move(sst_batch)), move(sst_batch).labels, len(sst_trees))),
        (relatedness, lambda model, move: model.head.loss(model(move(pair[0]), move(pair[1])), move(scores))),
    ]
    for model, loss_of in cases:
        model = model.double().train()  # cuDNN has no backward in eval mode; dropout is 0 here
        on_gpu = copy.deepcopy(model).cuda()
        loss, gpu_loss = loss_of(model, lambda b: b), loss_of(on_gpu, lambda b: b.to("cuda"))
        torch.testing.assert_close(gpu_loss.cpu(), loss.detach(), rtol=1e-9, atol=1e-10)
        loss.backward()
        gpu_loss.backward()
        for param, gpu_param in zip(model.parameters(), on_gpu.parameters()):
            if param.requires_grad:
                torch.testing.assert_close(gpu_param.grad.cpu(), param.grad, rtol=1e-7, atol=1e-9)
