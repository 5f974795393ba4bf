"""Input kinds: what a tree and a token sequence each need from batching to sentence vectors.

An encoder reads one kind of input, and everything that depends on which kind it is lives here, in
one object per kind, chosen once from the model's name (:func:`input_kind`):

* ``batch(sentences, token_ids)``: a :class:`~treenets.batching.TreeBatch` of trees, or a
  :class:`~treenets.batching.SequenceBatch` of token tuples;
* ``encode(embedding, encoder, batch)``: a state per tree node ``[N, H]`` (phrase nodes get a zero
  input), or a vector per sequence ``[B, H]``;
* ``sentence_vectors(states, batch)``: the sentences' rows of ``encode``'s output (tree roots) ``[B, H]``,
  and ``sentence_rows(batch)`` their indices (for per-row numpy arrays such as gold labels);
* ``per_node``: whether ``encode`` gives more rows than sentences (a state for every tree node).

Tasks (:mod:`treenets.tasks`) and :class:`treenets.models.TaskModel` call these and never ask which
kind they hold.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import Tensor, nn

from treenets.batching import SequenceBatch, TreeBatch


class TreeInputs:
    name = "tree"
    per_node = True

    @staticmethod
    def batch(sentences: Sequence, token_ids: Sequence[Sequence[int]]) -> TreeBatch:
        return TreeBatch.from_trees(sentences, token_ids)

    @staticmethod
    def encode(embedding: nn.Module, encoder: nn.Module, batch: TreeBatch) -> Tensor:
        vectors = embedding(batch.word_ids)
        return encoder(batch, vectors * batch.has_word.unsqueeze(-1).to(vectors.dtype))

    @staticmethod
    def sentence_vectors(states: Tensor, batch: TreeBatch) -> Tensor:
        return states[batch.roots]

    @staticmethod
    def sentence_rows(batch: TreeBatch) -> np.ndarray:
        return batch.roots.cpu().numpy()

    @staticmethod
    def size(batch: TreeBatch) -> int:
        return batch.num_trees


class SequenceInputs:
    name = "sequence"
    per_node = False

    @staticmethod
    def batch(sentences: Sequence, token_ids: Sequence[Sequence[int]]) -> SequenceBatch:
        return SequenceBatch.from_token_ids(token_ids)

    @staticmethod
    def encode(embedding: nn.Module, encoder: nn.Module, batch: SequenceBatch) -> Tensor:
        return encoder(embedding(batch.token_ids), batch.lengths)

    @staticmethod
    def sentence_vectors(states: Tensor, batch: SequenceBatch) -> Tensor:
        return states

    @staticmethod
    def sentence_rows(batch: SequenceBatch) -> np.ndarray:
        return np.arange(batch.num_sequences)

    @staticmethod
    def size(batch: SequenceBatch) -> int:
        return batch.num_sequences


InputKind = TreeInputs | SequenceInputs
INPUT_KINDS: dict[str, InputKind] = {kind.name: kind for kind in (TreeInputs(), SequenceInputs())}


def input_kind(is_tree: bool) -> InputKind:
    """The input kind of an encoder (``ModelConfig.is_tree``)."""
    return INPUT_KINDS["tree" if is_tree else "sequence"]
