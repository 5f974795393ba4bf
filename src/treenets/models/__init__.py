"""Model assembly: token embedding + encoder + task head, built from a :class:`ModelConfig`.

``build_model(config, task, embeddings, ...)`` returns

* task ``"sentiment"``: a :class:`SentimentModel`; ``model(batch) -> logits`` for every node of
  every tree (``[N, C]``, batch order) with a tree encoder, for every sentence (``[B, C]``) with a
  sequence encoder; ``model.loss(logits, batch)``.
* task ``"relatedness"``: a :class:`RelatednessModel`; ``model(left, right) -> log-probabilities
  [B, K]`` over the integer scores lo..hi; ``model.loss(log_probs, scores)``,
  ``model.predict(log_probs) -> expected scores [B]``.

Batches are ``treenets.batching.TreeBatch`` (``word_ids``, ``has_word``, ``labels``, ``roots``) for
tree encoders and ``SequenceBatch`` (``token_ids``, ``lengths``, ``labels``) for sequence encoders.
The optimizer takes ``model.parameter_groups(lr, embedding_lr)``; the trainer applies the paper's L2
to ``model.l2_parameters()`` and calls ``model.constrain_()`` after every optimizer step.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from treenets.config import ModelConfig
from treenets.errors import InputError
from treenets.models.heads import RelatednessHead, SentimentHead
from treenets.models.recursive import RNTN, RecNN
from treenets.models.sequence import IndRNN, RecurrentEncoder, SlicedRNN
from treenets.models.tree_lstm import ChildSumTreeLSTM, NaryTreeLSTM

TASKS = ("sentiment", "relatedness")


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
    """What both tasks share: embedding, encoder, optimizer groups, constraints."""

    def __init__(self, embedding: TokenEmbedding, encoder: nn.Module, is_tree: bool):
        super().__init__()
        self.embedding, self.encoder, self.is_tree = embedding, encoder, is_tree

    def encode(self, batch) -> Tensor:
        """Tree encoders: a state per node ``[N, H]`` (phrase nodes get a zero input);
        sequence encoders: a vector per sentence ``[B, H]``."""
        if self.is_tree:
            vectors = self.embedding(batch.word_ids)
            return self.encoder(batch, vectors * batch.has_word.unsqueeze(-1).to(vectors.dtype))
        return self.encoder(self.embedding(batch.token_ids), batch.lengths)

    def sentence_vectors(self, batch) -> Tensor:
        """``[B, H]``: the root states of trees, the encoder's output for sequences."""
        states = self.encode(batch)
        return states[batch.roots] if self.is_tree else states

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


class SentimentModel(TaskModel):
    def __init__(self, embedding: TokenEmbedding, encoder: nn.Module, is_tree: bool, num_classes: int, dropout: float):
        super().__init__(embedding, encoder, is_tree)
        self.head = SentimentHead(encoder.hidden_size, num_classes, dropout)

    def forward(self, batch) -> Tensor:
        """Logits ``[N, C]`` for every tree node, or ``[B, C]`` for every sentence."""
        return self.head(self.encode(batch))

    def loss(self, logits: Tensor, batch) -> Tensor:
        """Cross-entropy summed over labelled nodes (or sentences), averaged over the sentences."""
        sentences = batch.num_trees if self.is_tree else batch.num_sequences
        return self.head.loss(logits, batch.labels, sentences)


class RelatednessModel(TaskModel):
    def __init__(self, embedding: TokenEmbedding, encoder: nn.Module, is_tree: bool,
                 score_range: tuple[int, int], head_hidden: int, dropout: float):
        super().__init__(embedding, encoder, is_tree)
        self.head = RelatednessHead(encoder.hidden_size, head_hidden, score_range, dropout)

    def forward(self, left, right) -> Tensor:
        """Log-probabilities ``[B, K]`` of the scores lo..hi for the pairs (left[b], right[b])."""
        return self.head(self.sentence_vectors(left), self.sentence_vectors(right))

    def loss(self, log_probs: Tensor, scores: Tensor) -> Tensor:
        return self.head.loss(log_probs, scores)

    def predict(self, log_probs: Tensor) -> Tensor:
        return self.head.predict(log_probs)


def build_encoder(config: ModelConfig, input_dim: int, max_length: int | None = None) -> nn.Module:
    """The encoder ``config.name`` names, ``config.hidden`` wide; ``max_length`` (the longest
    training sequence) bounds IndRNN's recurrent weights when ``config.constraint_len`` is unset."""
    c, hidden = config, config.hidden
    if c.name == "childsum_treelstm":
        return ChildSumTreeLSTM(input_dim, hidden, c.output_gate)
    if c.name == "nary_treelstm":
        return NaryTreeLSTM(input_dim, hidden, output_gate=c.output_gate)
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
                      constraint_len=constraint_len, residual=c.residual, batch_norm=c.batch_norm)
    return SlicedRNN(input_dim, hidden, c.slices, c.levels, c.cell, c.layers, c.bidirectional, c.activation)


def build_model(config: ModelConfig, task: str, embeddings: np.ndarray | Tensor, *, freeze_embeddings: bool,
                num_classes: int | None = None, score_range: tuple[int, int] | None = None,
                max_length: int | None = None) -> SentimentModel | RelatednessModel:
    """A model for ``task`` ("sentiment" needs ``num_classes``, "relatedness" ``score_range``)
    over the embedding matrix ``embeddings`` ``[V, D]`` (row 0: padding)."""
    if task not in TASKS:
        raise InputError(f"task: {task!r} is not one of {', '.join(TASKS)}")
    embedding = TokenEmbedding(embeddings, freeze_embeddings)
    encoder = build_encoder(config, embedding.dim, max_length)
    if task == "sentiment":
        return SentimentModel(embedding, encoder, config.is_tree, num_classes, config.dropout)
    return RelatednessModel(embedding, encoder, config.is_tree, score_range, config.head_hidden, config.dropout)
