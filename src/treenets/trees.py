"""One tree type for every parse the project handles.

Node numbering follows the stanfordnlp/treelstm ``.parents`` / ``.cparents`` convention, so the
same object serves dependency and constituency trees:

* nodes ``0 .. len(tokens)-1`` are the tokens, in sentence order;
* a dependency tree has exactly those nodes (a word at every node);
* a constituency tree adds phrase nodes ``len(tokens) .. num_nodes-1`` (no word of their own) and
  its token nodes are its leaves.

``children[i]`` lists the children of node ``i`` in left-to-right order (the order the N-ary
Tree-LSTM and the RNTN compose them in); ``labels[i]`` is node ``i``'s label (SST sentiment 0-4),
``-1`` where a node has none, and ``labels`` is ``None`` for an unlabelled tree. A dependency tree
may carry ``deprels`` (one relation per token, the root's is ``root``).

Phrase nodes built here (from brackets, by binarization) are numbered in postorder, so the root of
a constituency tree is its last node.

Tokens are kept as the corpus writes them (``-LRB-``, ``\\/``); :attr:`Tree.words` gives the
unescaped forms for vocabulary lookup. Text is split on ASCII spaces and parentheses only: three
SST tokens contain a NO-BREAK SPACE (U+00A0) that belongs to the token.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from treenets.errors import InputError
from treenets.files import atomic_write

if TYPE_CHECKING:  # nltk and conllu load only where brackets / CoNLL-U are read (nltk takes seconds)
    import conllu
    import nltk

# A label or a token in PTB brackets: anything but an ASCII space or a parenthesis. (nltk's default
# pattern excludes every Unicode space, which would cut ``8\\xa01\\/2`` in two.)
_PTB_ATOM = r"[^ ()]+"
# What phrase nodes of an unlabelled tree are called when written as brackets.
_UNLABELLED_PHRASE = "X"

_PTB_ESCAPES = {
    "-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}",
}


def unescape_ptb(token: str) -> str:
    """The word a PTB token stands for: ``-LRB-`` -> ``(``, ``\\/`` -> ``/``, ``\\*`` -> ``*``."""
    return _PTB_ESCAPES.get(token) or token.replace("\\/", "/").replace("\\*", "*")


class TreeError(InputError):
    """A tree that is malformed (cycle, several roots, wrong counts, bad brackets)."""


@dataclass(frozen=True)
class Tree:
    tokens: tuple[str, ...]
    children: tuple[tuple[int, ...], ...]
    labels: tuple[int, ...] | None = None
    deprels: tuple[str, ...] | None = None

    def __post_init__(self):
        object.__setattr__(self, "tokens", tuple(self.tokens))
        object.__setattr__(self, "children", tuple(tuple(c) for c in self.children))
        if self.labels is not None:
            object.__setattr__(self, "labels", tuple(int(x) for x in self.labels))
        if self.deprels is not None:
            object.__setattr__(self, "deprels", tuple(self.deprels))
        self._validate()

    # ------------------------------------------------------------------ structure
    @property
    def num_nodes(self) -> int:
        return len(self.children)

    @property
    def num_tokens(self) -> int:
        return len(self.tokens)

    @cached_property
    def words(self) -> tuple[str, ...]:
        """The tokens with PTB escapes undone, for vocabulary and embedding lookup."""
        return tuple(unescape_ptb(t) for t in self.tokens)

    def is_constituency(self) -> bool:
        """Exactly the token nodes are leaves (a dependency tree of one word counts too)."""
        return all((not kids) == (node < self.num_tokens) for node, kids in enumerate(self.children))

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
    def from_parents(cls, tokens, parents, labels=None, deprels=None) -> "Tree":
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
        return cls(tokens, ordered, labels, deprels)

    def to_parents(self) -> list[int]:
        """1-based parent indices, 0 for the root: the inverse of :meth:`from_parents`."""
        return [p + 1 for p in self.parents]

    # ------------------------------------------------------------------ PTB brackets
    @classmethod
    def from_ptb(cls, text: str, labelled: bool = True) -> "Tree":
        """Parse one bracketed tree, e.g. an SST line ``(3 (2 The) (4 (2 film) (4 rocks)))``.

        ``labelled``: every node carries an integer label (SST); ``(2 The)`` is the token node of
        ``The`` with label 2. Unlabelled (PTB categories, parser output): labels are dropped.
        """
        import nltk

        try:
            parsed = nltk.Tree.fromstring(text, node_pattern=_PTB_ATOM, leaf_pattern=_PTB_ATOM)
        except ValueError as err:
            # nltk's message spans several lines (with a caret picture); keep its first two.
            where = " ".join(" ".join(str(err).splitlines()[:2]).split()).replace("Tree.read(): ", "")
            raise TreeError(f"malformed brackets (unbalanced or truncated?): {where}") from None
        return cls.from_nltk(parsed, labelled)

    @classmethod
    def from_nltk(cls, tree: nltk.Tree, labelled: bool = False) -> "Tree":
        """Convert an ``nltk.Tree``: a subtree with a single word is that word's token node."""
        builder = _TreeBuilder()

        def label_of(node) -> int:
            if not labelled:
                return -1
            if isinstance(node, str):
                raise TreeError(f"token {node!r} has no label (expected '(LABEL {node})')")
            try:
                return int(node.label())
            except ValueError:
                raise TreeError(f"label {node.label()!r} is not an integer") from None

        def visit(node) -> int:
            if isinstance(node, str):
                return builder.add_token(node, label_of(node))
            if len(node) == 1 and isinstance(node[0], str):
                return builder.add_token(node[0], label_of(node))
            if len(node) == 0:
                raise TreeError(f"a leaf without a word: ({node.label()})")
            return builder.add_phrase([visit(kid) for kid in node], label_of(node))

        visit(tree)
        return builder.build(labelled)

    def to_ptb(self) -> str:
        """One line of brackets; the inverse of :meth:`from_ptb` (labels kept if the tree has them)."""
        import nltk

        if not self.is_constituency():
            raise TreeError("only a constituency tree can be written as brackets")
        for token in self.tokens:
            if any(c in token for c in " ()"):
                raise TreeError(f"token {token!r} contains a space or a parenthesis (escape it as -LRB-/-RRB-)")

        def build(node: int):
            label = _UNLABELLED_PHRASE if self.labels is None else str(self.labels[node])
            if node < self.num_tokens:
                return self.tokens[node] if self.labels is None else nltk.Tree(label, [self.tokens[node]])
            return nltk.Tree(label, [build(kid) for kid in self.children[node]])

        return build(self.root).pformat(margin=sys.maxsize)

    # ------------------------------------------------------------------ CoNLL-U
    @classmethod
    def from_conllu(cls, sentence: conllu.TokenList) -> "Tree":
        """A dependency tree from one parsed CoNLL-U sentence.

        Multiword tokens (``15-16``) and empty nodes (``8.1``) are skipped: the tree's tokens are
        the syntactic words, whose ids must run 1..n.
        """
        for word in sentence:
            if not {"id", "form", "head", "deprel"} <= word.keys():
                raise TreeError(f"a word line has {len(word)} tab-separated fields; CoNLL-U has 10")
        words = [word for word in sentence if isinstance(word["id"], int)]
        ids = [word["id"] for word in words]
        if ids != list(range(1, len(words) + 1)):
            raise TreeError(f"word ids are not 1..{len(words)} in order: {ids[:10]}")
        for word in words:
            if not isinstance(word["head"], int):
                raise TreeError(f"word {word['id']} ({word['form']!r}) has no head")
        return cls.from_parents(
            [word["form"] for word in words],
            [word["head"] for word in words],
            deprels=[word["deprel"] for word in words],
        )

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        n, t = self.num_nodes, self.num_tokens
        if t == 0:
            raise TreeError("empty sentence (no tokens)")
        if n < t:
            raise TreeError(f"{t} tokens but only {n} nodes")
        if self.labels is not None and len(self.labels) != n:
            raise TreeError(f"{len(self.labels)} labels for {n} nodes")
        if self.deprels is not None and len(self.deprels) != t:
            raise TreeError(f"{len(self.deprels)} dependency relations for {t} tokens")
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


class _TreeBuilder:
    """Collects a tree bottom-up. Token ids are final; a phrase gets a provisional negative id
    until :meth:`build` knows how many tokens precede the phrase nodes (postorder numbering)."""

    def __init__(self, tokens: Sequence[str] = (), token_labels: Sequence[int] = ()):
        self.tokens = list(tokens)
        self.token_labels = list(token_labels) or [-1] * len(self.tokens)
        self.phrase_children: list[list[int]] = []
        self.phrase_labels: list[int] = []

    def add_token(self, word: str, label: int = -1) -> int:
        self.tokens.append(word)
        self.token_labels.append(label)
        return len(self.tokens) - 1

    def add_phrase(self, kids: Sequence[int], label: int = -1) -> int:
        self.phrase_children.append(list(kids))
        self.phrase_labels.append(label)
        return -len(self.phrase_children)

    def set_label(self, node: int, label: int) -> None:
        if node >= 0:
            self.token_labels[node] = label
        else:
            self.phrase_labels[-node - 1] = label

    def build(self, labelled: bool, deprels=None) -> Tree:
        num_tokens = len(self.tokens)

        def final(node: int) -> int:
            return node if node >= 0 else num_tokens - node - 1

        children = [()] * num_tokens + [[final(k) for k in kids] for kids in self.phrase_children]
        labels = self.token_labels + self.phrase_labels if labelled else None
        return Tree(self.tokens, children, labels, deprels)


def binarize(tree: Tree, collapse_unary: bool = True) -> Tree:
    """A constituency tree whose phrase nodes have exactly two children, tokens kept in order.

    A node with k > 2 children is factored to the right, as ``nltk.Tree.chomsky_normal_form``
    does: ``P(a, b, c) -> P(a, X(b, c))`` with the new ``X`` unlabelled (-1). With
    ``collapse_unary`` a chain of single-child nodes becomes its bottom node, which takes the
    label of the chain's top (the same span). Written here rather than through nltk's transforms
    because those encode the merged labels into strings, and ours are per-node integers.
    """
    if not tree.is_constituency():
        raise TreeError("binarize needs a constituency tree (only token nodes may be leaves)")
    labels = tree.labels or [-1] * tree.num_nodes
    builder = _TreeBuilder(tree.tokens, labels[: tree.num_tokens])
    new_id: dict[int, int] = {}
    for node in tree.postorder():
        kids = [new_id[kid] for kid in tree.children[node]]
        if not kids:
            new_id[node] = node
        elif len(kids) == 1 and collapse_unary:
            new_id[node] = kids[0]
            if labels[node] != -1:
                builder.set_label(kids[0], labels[node])
        else:
            while len(kids) > 2:
                kids = kids[:-2] + [builder.add_phrase(kids[-2:])]
            new_id[node] = builder.add_phrase(kids, labels[node])
    return builder.build(tree.labels is not None, tree.deprels)


# ---------------------------------------------------------------------- text files
def read_utf8(path: str | os.PathLike) -> str:
    """A file's text; a byte that is not UTF-8 is an :class:`InputError` at its line."""
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path) from None
    try:
        return raw.decode("utf-8-sig")  # -sig: a spreadsheet's byte-order mark is not text
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise InputError(f"not UTF-8: byte 0x{raw[err.start]:02x} ({err.reason})", path, line) from None


def read_lines(path: str | os.PathLike) -> list[str]:
    """The lines of a UTF-8 text file without their ``\\n`` / ``\\r\\n`` (a missing final newline is fine)."""
    lines = read_utf8(path).split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


# ---------------------------------------------------------------------- treelstm files
def read_treelstm(toks_path, parents_path, constituency: bool = False) -> list[Tree]:
    """Trees from stanfordnlp/treelstm files: ``.toks`` (space-separated tokens) and ``.parents``
    (dependency: one parent per token) or ``.cparents`` (constituency: tokens, then phrase nodes),
    one sentence per line, 1-based parents with 0 for the root."""
    toks_lines, parents_lines = read_lines(toks_path), read_lines(parents_path)
    if len(toks_lines) != len(parents_lines):
        shorter = toks_path if len(toks_lines) < len(parents_lines) else parents_path
        raise TreeError(
            f"{len(toks_lines)} sentences in {os.fspath(toks_path)} but {len(parents_lines)} "
            f"in {os.fspath(parents_path)}", shorter, min(len(toks_lines), len(parents_lines)) + 1,
        )
    trees = []
    for number, (toks_line, parents_line) in enumerate(zip(toks_lines, parents_lines), start=1):
        try:
            tokens = _split_tokens(toks_line)
        except TreeError as err:
            raise err.at(toks_path, number) from None
        try:
            parents = [_parse_index(field) for field in parents_line.split()]
            if constituency and len(parents) < len(tokens):
                raise TreeError(f"{len(tokens)} tokens but only {len(parents)} parent indices")
            if not constituency and len(parents) != len(tokens):
                raise TreeError(f"{len(tokens)} tokens but {len(parents)} parent indices")
            tree = Tree.from_parents(tokens, parents)
            if constituency and not tree.is_constituency():
                raise TreeError("a token node has children or a phrase node has none")
        except TreeError as err:
            raise err.at(parents_path, number) from None
        trees.append(tree)
    return trees


def write_treelstm(trees: Iterable[Tree], toks_path, parents_path) -> None:
    """Write ``.toks`` and ``.parents`` / ``.cparents`` files (both or neither, atomically)."""
    with atomic_write(toks_path) as toks_file, atomic_write(parents_path) as parents_file:
        for tree in trees:
            for token in tree.tokens:
                if not token or " " in token:
                    raise TreeError(f"token {token!r} cannot be written to a space-separated .toks line")
            toks_file.write(" ".join(tree.tokens) + "\n")
            parents_file.write(" ".join(map(str, tree.to_parents())) + "\n")


def _split_tokens(line: str) -> list[str]:
    tokens = line.split(" ")  # ASCII spaces only: U+00A0 belongs to the token
    if tokens == [""]:
        raise TreeError("empty sentence (no tokens)")
    if "" in tokens:
        raise TreeError("empty token (two spaces in a row, or a space at an end of the line)")
    return tokens


def _parse_index(field: str) -> int:
    try:
        return int(field)
    except ValueError:
        raise TreeError(f"parent index {field!r} is not an integer") from None
