"""One tree type for every parse the project handles.

Node numbering follows the stanfordnlp/treelstm ``.parents`` / ``.cparents`` convention, so the
same object serves dependency and constituency trees:

* nodes ``0 .. len(tokens)-1`` are the tokens, in sentence order;
* a dependency tree has exactly those nodes (a word at every node);
* a constituency tree adds phrase nodes ``len(tokens) .. num_nodes-1`` (no word of their own) and
  its token nodes are its leaves.

``children[i]`` lists the children of node ``i`` in left-to-right order (the order the N-ary
Tree-LSTM and the RNTN compose them in); ``labels[i]`` is node ``i``'s label (SST sentiment 0-4),
``-1`` where a node has none, and ``labels`` is ``None`` for an unlabelled tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from treenets.errors import InputError


class TreeError(InputError):
    """A tree that is malformed (cycle, several roots, wrong counts, bad brackets)."""


@dataclass(frozen=True)
class Tree:
    tokens: tuple[str, ...]
    children: tuple[tuple[int, ...], ...]
    labels: tuple[int, ...] | None = None

    def __post_init__(self):
        object.__setattr__(self, "tokens", tuple(self.tokens))
        object.__setattr__(self, "children", tuple(tuple(c) for c in self.children))
        if self.labels is not None:
            object.__setattr__(self, "labels", tuple(int(x) for x in self.labels))
        self._validate()

    # ------------------------------------------------------------------ structure
    @property
    def num_nodes(self) -> int:
        return len(self.children)

    @property
    def num_tokens(self) -> int:
        return len(self.tokens)

    @cached_property
    def parents(self) -> tuple[int, ...]:
        """Parent of every node, ``-1`` for the root."""
        parents = [-1] * self.num_nodes
        for node, kids in enumerate(self.children):
            for kid in kids:
                parents[kid] = node
        return tuple(parents)

    @cached_property
    def root(self) -> int:
        return self.parents.index(-1)

    @cached_property
    def heights(self) -> tuple[int, ...]:
        """Height of every node: 0 for leaves, 1 + max child height otherwise."""
        heights = [0] * self.num_nodes
        for node in self.postorder():
            if self.children[node]:
                heights[node] = 1 + max(heights[c] for c in self.children[node])
        return tuple(heights)

    @property
    def depth(self) -> int:
        return self.heights[self.root]

    def postorder(self) -> list[int]:
        """Nodes with every child before its parent (iterative: SST trees are deep enough)."""
        order, stack = [], [(self.root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            stack.append((node, True))
            stack.extend((kid, False) for kid in reversed(self.children[node]))
        return order

    def is_binary(self) -> bool:
        """Every node has 0 or 2 children, and exactly the token nodes are leaves."""
        return all(
            (len(kids) == 0) == (node < self.num_tokens) and len(kids) in (0, 2)
            for node, kids in enumerate(self.children)
        )

    def leaves(self) -> list[int]:
        """Leaf node ids in left-to-right order."""
        return [n for n in self.postorder() if not self.children[n]]

    # ------------------------------------------------------------------ parents format
    @classmethod
    def from_parents(cls, tokens, parents, labels=None) -> "Tree":
        """Build from 1-based parent indices with 0 for the root (stanfordnlp/treelstm format).

        ``parents`` has one entry per node: ``len(tokens)`` entries for a dependency tree, more for a
        constituency tree (``.cparents``). Children are ordered by their leftmost token so that
        constituents compose left to right.
        """
        tokens = tuple(tokens)
        n = len(parents)
        if n < len(tokens):
            raise TreeError(f"{len(tokens)} tokens but only {n} parent indices")
        kids: list[list[int]] = [[] for _ in range(n)]
        for node, parent in enumerate(parents):
            parent = int(parent)
            if parent < 0 or parent > n:
                raise TreeError(f"parent index {parent} of node {node + 1} is outside 0..{n}")
            if parent == node + 1:
                raise TreeError(f"node {node + 1} is its own parent")
            if parent:
                kids[parent - 1].append(node)
        roots = [i for i, p in enumerate(parents) if int(p) == 0]
        if len(roots) != 1:
            raise TreeError(f"expected exactly one root (parent 0), found {len(roots)}")
        leftmost = _leftmost_tokens(kids, roots[0], len(tokens))
        ordered = [sorted(k, key=lambda c: leftmost[c]) for k in kids]
        return cls(tokens, ordered, labels)

    def to_parents(self) -> list[int]:
        """1-based parent indices, 0 for the root: the inverse of :meth:`from_parents`."""
        return [p + 1 for p in self.parents]

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        n, t = self.num_nodes, self.num_tokens
        if t == 0:
            raise TreeError("empty sentence (no tokens)")
        if n < t:
            raise TreeError(f"{t} tokens but only {n} nodes")
        if self.labels is not None and len(self.labels) != n:
            raise TreeError(f"{len(self.labels)} labels for {n} nodes")
        seen_parent = [-1] * n
        for node, kids in enumerate(self.children):
            for kid in kids:
                if not 0 <= kid < n:
                    raise TreeError(f"node {node} has child {kid}, outside 0..{n - 1}")
                if seen_parent[kid] != -1:
                    raise TreeError(f"node {kid} has two parents ({seen_parent[kid]} and {node})")
                seen_parent[kid] = node
        roots = [i for i in range(n) if seen_parent[i] == -1]
        if len(roots) != 1:
            raise TreeError(f"expected exactly one root, found {len(roots)} ({roots[:5]})")
        for node in range(t, n):
            if not self.children[node]:
                raise TreeError(f"phrase node {node} has no children (only token nodes may be leaves)")
        # Every node must hang below the root: a cycle leaves nodes unreachable.
        reached, stack = 0, [roots[0]]
        while stack:
            node = stack.pop()
            reached += 1
            if reached > n:
                break
            stack.extend(self.children[node])
        if reached != n:
            raise TreeError("the tree has a cycle (not every node is reachable from the root)")


def _leftmost_tokens(kids: list[list[int]], root: int, num_tokens: int) -> list[int]:
    """Smallest token index below each node; detects cycles (unreachable nodes)."""
    n = len(kids)
    leftmost = [n] * n
    order, stack, seen = [], [root], [False] * n
    while stack:
        node = stack.pop()
        if seen[node]:
            raise TreeError("the tree has a cycle")
        seen[node] = True
        order.append(node)
        stack.extend(kids[node])
    if not all(seen):
        raise TreeError("the tree has a cycle (not every node is reachable from the root)")
    for node in reversed(order):
        own = node if node < num_tokens else n
        leftmost[node] = min([own] + [leftmost[c] for c in kids[node]])
    return leftmost
