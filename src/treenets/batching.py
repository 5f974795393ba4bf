"""Batches of trees and of token sequences, as index tensors built once on the CPU.

A :class:`TreeBatch` numbers the nodes of all its trees so that each tree's nodes are contiguous
("batch order": tree ``b``'s node ``i`` is ``tree_offsets[b] + i``). Tree encoders take and return
one row per node in that order.

Internally the encoders work in *level order*: nodes sorted by height (leaves first, level ``l``
holds the nodes of height ``l``), so that a level's states are the contiguous rows
``level_bounds[l]:level_bounds[l + 1]`` of a state buffer and every child of a level-``l`` node sits
in an earlier level. ``order`` and ``position`` translate between the two numberings. Children are
given twice, for the two kinds of cell:

* N-ary cells (N-ary Tree-LSTM, RecNN, RNTN): ``child_slots[p, k]`` is the level-order position of
  the ``k``-th child (left to right) of the node at position ``p``, or ``N`` (one past the last
  node: the zero state of an absent child) where the node has fewer children;
* child-sum cells: every child, grouped by parent (CSR-style segments): ``kid_positions`` and the
  parent's index within its level ``kid_parent_in_level``; the children of level ``l``'s nodes are
  ``kid_bounds[l]:kid_bounds[l + 1]``.

The schedule's sizes are plain Python ints, so the forward pass slices tensors without ever asking
the device for a number. Batches are picklable (DataLoader workers collate them) and move with
``.to(device, non_blocking=True)``. Only torch and numpy are imported: this module runs where
nltk and the parsers are not installed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from typing import TYPE_CHECKING

import numpy as np
import torch

from treenets.errors import InputError

if TYPE_CHECKING:
    from treenets.trees import Tree


def _move(obj, device, non_blocking: bool):
    """A copy of a batch dataclass with every tensor field on ``device``."""
    changes = {
        f.name: getattr(obj, f.name).to(device, non_blocking=non_blocking)
        for f in dataclasses.fields(obj)
        if isinstance(getattr(obj, f.name), torch.Tensor)
    }
    return dataclasses.replace(obj, **changes)


def _flat_ids(token_ids, expected: Sequence[int] | None, what: str) -> tuple[np.ndarray, np.ndarray]:
    """All sequences' ids concatenated (int64) and their lengths; ``expected`` lengths if given.

    Raises :class:`InputError` naming the sequence (``what`` and its index) that is wrong.
    """
    rows = [ids.tolist() if isinstance(ids, torch.Tensor) else ids for ids in token_ids]
    lengths = np.fromiter(map(len, rows), np.int64, len(rows))
    if expected is not None:
        for index in np.flatnonzero(lengths != np.asarray(expected, dtype=np.int64))[:1]:
            raise InputError(f"{what} {index}: {lengths[index]} token ids for {expected[index]} tokens")
    items = list(chain.from_iterable(rows))
    flat = np.asarray(items)
    owner = lambda position: int(np.searchsorted(np.cumsum(lengths), position, side="right"))  # noqa: E731
    if flat.size and (flat.ndim != 1 or not np.issubdtype(flat.dtype, np.integer)):
        bad = next(k for k, i in enumerate(items) if not isinstance(i, (int, np.integer)))
        raise InputError(f"{what} {owner(bad)}: expected a flat sequence of integer vocabulary ids")
    if flat.size and flat.min() < 0:
        bad = int(np.argmin(flat))
        raise InputError(f"{what} {owner(bad)}: negative token id {int(flat[bad])}")
    return flat.astype(np.int64, copy=False), lengths


def _heights(parents: np.ndarray, is_leaf: np.ndarray) -> np.ndarray:
    """Height of every node (0 for leaves) from a forest's parent array (-1 at roots).

    One vectorised sweep per level: a node's height is final once all its children's are.
    """
    heights = np.zeros(len(parents), dtype=np.int64)
    has_parent = parents >= 0
    kids, their_parents = np.flatnonzero(has_parent), parents[has_parent]
    frontier = is_leaf.copy()
    while True:
        moving = frontier[kids]
        if not moving.any():
            return heights
        np.maximum.at(heights, their_parents[moving], heights[kids[moving]] + 1)
        frontier = np.zeros_like(frontier)
        frontier[their_parents[moving]] = True


@dataclass(frozen=True)
class TreeBatch:
    """A collated batch of trees and its level schedule (see the module docstring)."""

    # ---- batch order (each tree's nodes contiguous) ----
    word_ids: torch.Tensor  # [N] long: vocabulary id of the node's token, 0 for phrase nodes
    has_word: torch.Tensor  # [N] bool
    labels: torch.Tensor  # [N] long: node label, -1 where there is none
    roots: torch.Tensor  # [B] long: batch-order id of each tree's root
    node_tree: torch.Tensor  # [N] long: which tree each node belongs to
    tree_offsets: torch.Tensor  # [B + 1] long: tree b's nodes are tree_offsets[b]:tree_offsets[b + 1]
    # ---- level order (the schedule) ----
    order: torch.Tensor  # [N] long: batch-order id of the node at level-order position p
    position: torch.Tensor  # [N] long: level-order position of batch-order node i (inverse of order)
    child_slots: torch.Tensor  # [N, max_children] long: children's positions, N where absent
    kid_positions: torch.Tensor  # [N - B] long: every child's position, grouped by parent position
    kid_parent_in_level: torch.Tensor  # [N - B] long: its parent's index within the parent's level
    level_bounds: tuple[int, ...]  # L + 1 offsets into the level order
    kid_bounds: tuple[int, ...]  # L + 1 offsets into kid_positions (children of level l's nodes)
    is_constituency: bool  # exactly the leaves carry words (no word at a node with children)
    max_children: int  # most children of any node (0 if every tree is one word)
    min_children: int  # fewest children of any non-leaf node (0 if there is none)

    @property
    def num_nodes(self) -> int:
        return len(self.order)

    @property
    def num_trees(self) -> int:
        return len(self.roots)

    @property
    def num_levels(self) -> int:
        return len(self.level_bounds) - 1

    @property
    def device(self) -> torch.device:
        return self.order.device

    def in_level_order(self, rows: torch.Tensor) -> torch.Tensor:
        """Per-node rows (batch order) rearranged into level order."""
        return rows.index_select(0, self.order)

    def in_batch_order(self, rows: torch.Tensor) -> torch.Tensor:
        """Per-node rows in level order put back into batch order."""
        return rows.index_select(0, self.position)

    def to(self, device, non_blocking: bool = False) -> "TreeBatch":
        return _move(self, device, non_blocking)

    def pin_memory(self) -> "TreeBatch":
        """Page-locked copies, so that ``.to("cuda", non_blocking=True)`` really overlaps."""
        return dataclasses.replace(
            self, **{f.name: getattr(self, f.name).pin_memory() for f in dataclasses.fields(self)
                     if isinstance(getattr(self, f.name), torch.Tensor)}
        )

    @classmethod
    def from_trees(cls, trees: Sequence["Tree"], token_ids: Sequence[Sequence[int]]) -> "TreeBatch":
        """Collate ``trees`` (``token_ids[b]``: one vocabulary id per token of tree ``b``).

        Uses only each tree's ``children``, ``num_tokens`` and ``labels``.
        """
        if len(trees) == 0:
            raise InputError("cannot batch zero trees")
        if len(token_ids) != len(trees):
            raise InputError(f"{len(token_ids)} token id sequences for {len(trees)} trees")
        ids, _ = _flat_ids(token_ids, [t.num_tokens for t in trees], "tree")
        sizes = np.fromiter((len(t.children) for t in trees), np.int64, len(trees))
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        n = int(offsets[-1])
        tree_start = np.repeat(offsets[:-1], sizes)  # per node: its tree's first node
        has_word = np.arange(n) - tree_start < np.repeat([t.num_tokens for t in trees], sizes)
        word_ids = np.zeros(n, dtype=np.int64)
        word_ids[has_word] = ids
        labels = np.fromiter(
            chain.from_iterable(t.labels if t.labels is not None else repeat(-1, len(t.children)) for t in trees),
            np.int64, n,
        )
        # every child, in the order the children lists give them: its id, parent and rank among siblings
        children = list(chain.from_iterable(t.children for t in trees))
        num_children = np.fromiter(map(len, children), np.int64, n)
        kid_parent = np.repeat(np.arange(n), num_children)
        kid_ids = np.fromiter(chain.from_iterable(children), np.int64, len(kid_parent)) + tree_start[kid_parent]
        kid_rank = np.arange(len(kid_ids)) - np.repeat(np.cumsum(num_children) - num_children, num_children)
        parents = np.full(n, -1, dtype=np.int64)
        parents[kid_ids] = kid_parent

        is_leaf = num_children == 0
        heights = _heights(parents, is_leaf)
        order = np.argsort(heights, kind="stable")  # level by level; batch order within a level
        position = np.empty(n, dtype=np.int64)
        position[order] = np.arange(n)
        num_levels = int(heights.max()) + 1
        level_bounds = np.concatenate([[0], np.cumsum(np.bincount(heights, minlength=num_levels))])

        max_children = int(num_children.max())
        child_slots = np.full((n, max_children), n, dtype=np.int64)
        kid_parent_pos = position[kid_parent]
        child_slots[kid_parent_pos, kid_rank] = position[kid_ids]

        # Children grouped by their parent's position (and left to right within a parent).
        grouped = np.lexsort((kid_rank, kid_parent_pos))
        kid_positions = position[kid_ids][grouped]
        kid_parent_pos = kid_parent_pos[grouped]
        parent_level = heights[order][kid_parent_pos]
        kid_parent_in_level = kid_parent_pos - level_bounds[parent_level]
        kid_bounds = np.searchsorted(kid_parent_pos, level_bounds)

        long = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))  # noqa: E731
        return cls(
            word_ids=long(word_ids),
            has_word=torch.from_numpy(has_word),
            labels=long(labels),
            roots=long(np.flatnonzero(parents < 0)),  # one per tree, in tree order
            node_tree=long(np.repeat(np.arange(len(trees)), sizes)),
            tree_offsets=long(offsets),
            order=long(order),
            position=long(position),
            child_slots=long(child_slots),
            kid_positions=long(kid_positions),
            kid_parent_in_level=long(kid_parent_in_level),
            level_bounds=tuple(int(x) for x in level_bounds),
            kid_bounds=tuple(int(x) for x in kid_bounds),
            is_constituency=bool((has_word == is_leaf).all()),
            max_children=max_children,
            min_children=int(num_children[~is_leaf].min()) if (~is_leaf).any() else 0,
        )


@dataclass(frozen=True)
class SequenceBatch:
    """Token sequences padded with id 0: ``token_ids[B, T]``, ``lengths[B]``, optional ``labels[B]``."""

    token_ids: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor | None = None

    @property
    def num_sequences(self) -> int:
        return len(self.lengths)

    def to(self, device, non_blocking: bool = False) -> "SequenceBatch":
        return _move(self, device, non_blocking)

    @classmethod
    def from_token_ids(cls, token_ids: Sequence[Sequence[int]], labels: Sequence[int] | None = None) -> "SequenceBatch":
        if len(token_ids) == 0:
            raise InputError("cannot batch zero sequences")
        ids, lengths = _flat_ids(token_ids, None, "sequence")
        if lengths.min() == 0:
            raise InputError(f"sequence {int(np.argmin(lengths))} is empty (no tokens)")
        padded = np.zeros((len(lengths), int(lengths.max())), dtype=np.int64)
        padded[np.arange(padded.shape[1]) < lengths[:, None]] = ids
        if labels is not None and len(labels) != len(lengths):
            raise InputError(f"{len(labels)} labels for {len(lengths)} sequences")
        return cls(
            token_ids=torch.from_numpy(padded),
            lengths=torch.from_numpy(lengths),
            labels=None if labels is None else torch.as_tensor(np.asarray(labels, dtype=np.int64)),
        )
