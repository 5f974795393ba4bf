"""TreeBatch and SequenceBatch: node numbering, level schedule, errors, pickling, DataLoader workers."""

from __future__ import annotations

import pickle

import pytest
import torch

from treenets.batching import SequenceBatch, TreeBatch
from treenets.errors import InputError
from treenets.trees import Tree

# "a (b c)" as a labelled binary tree (phrase nodes 3, 4), and "x <- y -> z" as a dependency tree.
CONSTITUENCY = Tree(["a", "b", "c"], [(), (), (), (1, 2), (0, 3)], [1, 2, 3, 4, 0])
DEPENDENCY = Tree(["x", "y", "z"], [(), (0, 2), ()])


def test_hand_made_batch_by_hand():
    batch = TreeBatch.from_trees([CONSTITUENCY, DEPENDENCY], [[7, 8, 9], [4, 5, 6]])
    # batch order: tree 0's nodes 0-4, tree 1's nodes 5-7
    assert batch.word_ids.tolist() == [7, 8, 9, 0, 0, 4, 5, 6]
    assert batch.has_word.tolist() == [True, True, True, False, False, True, True, True]
    assert batch.labels.tolist() == [1, 2, 3, 4, 0, -1, -1, -1]
    assert batch.roots.tolist() == [4, 6]
    assert batch.node_tree.tolist() == [0, 0, 0, 0, 0, 1, 1, 1]
    assert batch.tree_offsets.tolist() == [0, 5, 8]
    # heights: a b c -> 0, (b c) -> 1, root -> 2; x z -> 0, y -> 1
    assert batch.level_bounds == (0, 5, 7, 8)
    assert batch.order.tolist() == [0, 1, 2, 5, 7, 3, 6, 4]
    assert batch.position[batch.order].tolist() == list(range(8))
    # child slots in level order: (b c) at 5 -> [1, 2]; y at 6 -> [3, 4]; root at 7 -> [0, 5]
    assert batch.child_slots.tolist() == [[8, 8]] * 5 + [[1, 2], [3, 4], [0, 5]]
    assert batch.kid_positions.tolist() == [1, 2, 3, 4, 0, 5]
    assert batch.kid_parent_in_level.tolist() == [0, 0, 1, 1, 0, 0]
    assert batch.kid_bounds == (0, 0, 4, 6)
    assert (batch.max_children, batch.min_children) == (2, 2)
    assert not batch.is_constituency  # y carries a word and has children
    assert TreeBatch.from_trees([CONSTITUENCY], [[1, 2, 3]]).is_constituency


def test_a_first_word_that_heads_others_is_scheduled_after_them():
    """Node 0 of the batch as a parent (a dependency tree headed by its first word): its children sit
    one level below it (a mutant reading parent id 0 as "no parent" put all three on one level)."""
    headed_by_first = Tree.from_parents(["Run", "fast", "!"], [0, 1, 1])
    batch = TreeBatch.from_trees([headed_by_first], [[1, 2, 3]])
    assert batch.level_bounds == (0, 2, 3)
    assert batch.order.tolist() == [1, 2, 0]
    assert batch.child_slots.tolist() == [[3, 3], [3, 3], [0, 1]]


def test_level_order_round_trips_rows():
    batch = TreeBatch.from_trees([CONSTITUENCY, DEPENDENCY], [[7, 8, 9], [4, 5, 6]])
    rows = torch.arange(16.0).view(8, 2)
    assert torch.equal(batch.in_batch_order(batch.in_level_order(rows)), rows)


def test_schedule_of_real_sst_trees_matches_the_trees(data_mirror):
    with open(data_mirror / "sst" / "dev.txt", encoding="utf-8") as lines:
        trees = [Tree.from_ptb(next(lines).rstrip("\n")) for _ in range(60)]
    batch = TreeBatch.from_trees(trees, [list(range(1, t.num_tokens + 1)) for t in trees])
    assert batch.num_levels == max(t.depth for t in trees) + 1
    assert batch.is_constituency and batch.max_children == batch.min_children == 2
    level_of = torch.zeros(batch.num_nodes, dtype=torch.long)
    for level, (start, stop) in enumerate(zip(batch.level_bounds[:-1], batch.level_bounds[1:])):
        level_of[batch.order[start:stop]] = level
    for b, tree in enumerate(trees):
        offset = int(batch.tree_offsets[b])
        assert level_of[offset:offset + tree.num_nodes].tolist() == list(tree.heights)
        assert int(batch.roots[b]) == offset + tree.root
        assert batch.labels[offset:offset + tree.num_nodes].tolist() == list(tree.labels)
        for node, kids in enumerate(tree.children):
            slots = batch.child_slots[batch.position[offset + node]].tolist()
            expected = [int(batch.position[offset + k]) for k in kids]
            assert slots == expected + [batch.num_nodes] * (2 - len(kids))
    # CSR segments: each phrase level's children, grouped by parent, are exactly its child slots
    for level in range(1, batch.num_levels):
        start, stop = batch.level_bounds[level], batch.level_bounds[level + 1]
        segment = slice(batch.kid_bounds[level], batch.kid_bounds[level + 1])
        assert batch.kid_positions[segment].tolist() == batch.child_slots[start:stop].reshape(-1).tolist()
        assert batch.kid_parent_in_level[segment].tolist() == torch.arange(stop - start).repeat_interleave(2).tolist()


@pytest.mark.parametrize("trees,ids,message", [
    ([], [], "cannot batch zero trees"),
    ([DEPENDENCY], [[1, 2, 3], [4]], "2 token id sequences for 1 trees"),
    ([DEPENDENCY], [[1, 2]], "tree 0: 2 token ids for 3 tokens"),
    ([DEPENDENCY], [[1, -2, 3]], "tree 0: negative token id -2"),
    ([DEPENDENCY], [[1.5, 2, 3]], "tree 0: expected a flat sequence of integer"),
])
def test_bad_tree_batches_are_input_errors(trees, ids, message):
    with pytest.raises(InputError, match=message):
        TreeBatch.from_trees(trees, ids)


def test_token_ids_may_be_tensors():
    batch = TreeBatch.from_trees([DEPENDENCY], [torch.tensor([4, 5, 6])])
    assert batch.word_ids.tolist() == [4, 5, 6]


def test_batches_pickle_and_move():
    batch = TreeBatch.from_trees([CONSTITUENCY, DEPENDENCY], [[7, 8, 9], [4, 5, 6]])
    copy = pickle.loads(pickle.dumps(batch))
    assert copy.level_bounds == batch.level_bounds and torch.equal(copy.child_slots, batch.child_slots)
    moved = batch.to("cpu", non_blocking=True)
    assert moved.device == torch.device("cpu") and torch.equal(moved.order, batch.order)


class _Sentences(torch.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, index):
        return (CONSTITUENCY, DEPENDENCY)[index % 2], [index + 1] * 3


def test_dataloader_workers_collate_tree_batches():
    def collate(items):
        return TreeBatch.from_trees([tree for tree, _ in items], [ids for _, ids in items])

    loader = torch.utils.data.DataLoader(_Sentences(), batch_size=2, num_workers=1, collate_fn=collate)
    batches = list(loader)
    assert [b.num_trees for b in batches] == [2, 2]
    assert batches[1].word_ids.tolist() == [3, 3, 3, 0, 0, 4, 4, 4]


def test_sequence_batch_pads_with_zero():
    batch = SequenceBatch.from_token_ids([[5, 6, 7], [8]], labels=[2, 0])
    assert batch.token_ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch.lengths.tolist() == [3, 1]
    assert batch.labels.tolist() == [2, 0]
    assert SequenceBatch.from_token_ids([torch.tensor([1, 2])]).labels is None
    assert pickle.loads(pickle.dumps(batch)).token_ids.tolist() == batch.token_ids.tolist()


@pytest.mark.parametrize("ids,labels,message", [
    ([], None, "cannot batch zero sequences"),
    ([[1], []], None, "sequence 1 is empty"),
    ([[1], [2]], [0], "1 labels for 2 sequences"),
    ([[1], [-3]], None, "sequence 1: negative token id"),
])
def test_bad_sequence_batches_are_input_errors(ids, labels, message):
    with pytest.raises(InputError, match=message):
        SequenceBatch.from_token_ids(ids, labels)
