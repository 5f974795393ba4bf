"""Model assembly: token embedding + encoder + a task's head, built from a :class:`ModelConfig`.

``build_model(config, embeddings, head, ...)`` returns a :class:`TaskModel`; ``model(*batches)``
is its head's ``read(model, *batches)``: per-node or per-sentence logits for sentiment
(:class:`~treenets.models.heads.SentimentHead`), outputs per sentence pair for the pair heads
(:class:`~treenets.models.heads.RelatednessHead`, :class:`~treenets.models.heads.PairClassifierHead`).
Which head, which loss and which predictions belong to a task is :mod:`treenets.tasks`' business; what
depends on trees vs sequences is :mod:`treenets.models.inputs`'.

Batches are ``treenets.batching.TreeBatch`` (``word_ids``, ``has_word``, ``roots``) for tree encoders
and ``SequenceBatch`` (``token_ids``, ``lengths``) for sequence encoders. The optimizer takes
``model.parameter_groups(lr, embedding_lr)``; the trainer applies the paper's L2 to
``model.l2_parameters()`` and calls ``model.constrain_()`` after every optimizer step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn

from treenets.errors import InputError
from treenets.models.inputs import InputKind, input_kind
from treenets.models.recursive import RNTN, RecNN
from treenets.models.sequence import IndRNN, RecurrentEncoder, SlicedRNN
from treenets.models.tree_lstm import ChildSumTreeLSTM, NaryTreeLSTM

if TYPE_CHECKING:  # only the type: models import torch and numpy alone (bench/ runs with nothing else)
    from treenets.config import ModelConfig


class TokenEmbedding(nn.Module):
    """``TokenEmbedding(matrix, freeze)``: a lookup table initialised from ``matrix`` ``[V, D]``
    (numpy or tensor, copied); row 0 is padding and never updated. ``forward(ids) -> [..., D]``."""

    def __init__(self, matrix: np.ndarray | Tensor, freeze: bool):
        super().__init__()
        weight = torch.as_tensor(matrix, dtype=torch.get_default_dtype()).clone()
        self.lookup = nn.Embedding.from_pretrained(weight, freeze=freeze, padding_idx=0)
        self.dim = weight.shape[1]

    @property
    def weight(self) -> nn.Parameter:
        return self.lookup.weight

    def forward(self, ids: Tensor) -> Tensor:
        return self.lookup(ids)


class TaskModel(nn.Module):
    """Embedding, encoder and a task's head: ``model(*batches)`` is ``head.read(model, *batches)``
    (one batch per sentence position: one for sentiment, two for a sentence pair)."""

    def __init__(self, embedding: TokenEmbedding, encoder: nn.Module, inputs: InputKind, head: nn.Module):
        super().__init__()
        self.embedding, self.encoder, self.inputs = embedding, encoder, inputs
        self.head = head

    def forward(self, *batches) -> Tensor:
        return self.head.read(self, *batches)

    def encode(self, batch) -> Tensor:
        """Tree encoders: a state per node ``[N, H]`` (phrase nodes get a zero input);
        sequence encoders: a vector per sentence ``[B, H]``."""
        return self.inputs.encode(self.embedding, self.encoder, batch)

    def sentence_vectors(self, batch) -> Tensor:
        """``[B, H]``: the root states of trees, the encoder's output for sequences."""
        return self.inputs.sentence_vectors(self.encode(batch), batch)

    def l2_parameters(self) -> list[nn.Parameter]:
        """Every trained parameter but the embeddings (Tai et al. regularise those separately: not at all)."""
        return [p for name, p in self.named_parameters() if p.requires_grad and not name.startswith("embedding.")]

    def parameter_groups(self, lr: float, embedding_lr: float) -> list[dict]:
        """Optimizer groups: the model at ``lr``, the embeddings at ``embedding_lr`` unless frozen."""
        groups = [{"params": self.l2_parameters(), "lr": lr}]
        if self.embedding.weight.requires_grad:
            groups.append({"params": [self.embedding.weight], "lr": embedding_lr})
        return groups

    def constrain_(self) -> None:
        """Re-impose weight constraints after an optimizer step (IndRNN's recurrent-weight bound)."""
        constrain = getattr(self.encoder, "constrain_", None)
        if constrain is not None:
            constrain()


def build_encoder(config: ModelConfig, input_dim: int, max_length: int | None = None) -> nn.Module:
    """The encoder ``config.name`` names, ``config.hidden`` wide; ``max_length`` (the longest
    training sequence) bounds IndRNN's recurrent weights when ``config.constraint_len`` is unset."""
    c, hidden = config, config.hidden
    if c.name == "childsum_treelstm":
        return ChildSumTreeLSTM(input_dim, hidden, c.output_gate)
    if c.name == "nary_treelstm":
        return NaryTreeLSTM(input_dim, hidden, output_gate=c.output_gate, cuda_graphs=c.cuda_graphs)
    if c.name in ("recnn", "rntn"):
        recursive = RecNN if c.name == "recnn" else RNTN
        return recursive(input_dim, hidden, identity_init=c.composition_init == "identity", leaf_tanh=c.leaf_tanh)
    if c.name in ("rnn", "lstm", "gru"):
        return RecurrentEncoder(input_dim, hidden, c.name, c.layers, c.bidirectional, c.activation, c.output_gate,
                                all_layers=c.sentence_layers == "all", tie_directions=c.tie_directions)
    if c.name == "indrnn":
        constraint_len = c.constraint_len or max_length
        if constraint_len is None:
            raise InputError("model.constraint_len: IndRNN needs the sequence length that bounds |u| "
                             "(set it, or train on data so that the longest sequence is known)")
        return IndRNN(input_dim, hidden, c.layers, c.bidirectional, c.activation, c.mag,
                      constraint_len=constraint_len, residual=c.residual, batch_norm=c.batch_norm,
                      preactivation=c.preactivation)
    return SlicedRNN(input_dim, hidden, c.slices, c.levels, c.cell, c.layers, c.bidirectional, c.activation)


def build_model(config: ModelConfig, embeddings: np.ndarray | Tensor, head: Callable[[int], nn.Module], *,
                freeze_embeddings: bool, max_length: int | None = None) -> TaskModel:
    """The encoder ``config`` names over the embedding matrix ``embeddings`` ``[V, D]`` (row 0: padding),
    with the head ``head(encoder.hidden_size)`` (a task's: :mod:`treenets.models.heads`)."""
    embedding = TokenEmbedding(embeddings, freeze_embeddings)
    encoder = build_encoder(config, embedding.dim, max_length)
    return TaskModel(embedding, encoder, input_kind(config.is_tree), head(encoder.hidden_size))
