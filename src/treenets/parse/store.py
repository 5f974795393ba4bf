"""Parsed sentences on disk, keyed by sentence hash (no stanza import here).

``<directory>/sentences.jsonl`` holds one JSON object per line, one line per distinct sentence::

    {"key": "3f1c...", "text": "A man is playing a guitar .",
     "tokens": ["A", "man", "is", "playing", "a", "guitar", "."],
     "heads": [2, 4, 4, 0, 6, 4, 4],
     "deprels": ["det", "nsubj", "aux", "root", "det", "obj", "punct"],
     "cparents": [8, 8, 10, 11, 9, 9, 13, 12, 10, 11, 12, 13, 0]}

* ``key`` is :func:`sentence_key` of ``text`` (the sentence as the dataset gives it);
* ``tokens`` are the parser's tokens (``text.split()`` when parsing pretokenized input);
* ``heads`` / ``deprels``: the dependency tree in CoNLL-U style, one entry per token, heads 1-based
  with 0 for the root;
* ``cparents``: the constituency tree, binarized with unary chains collapsed, in the
  stanfordnlp/treelstm ``.cparents`` convention: entries ``1..len(tokens)`` are the tokens (the
  leaves, in sentence order), the phrase nodes follow; each entry is the 1-based index of the
  node's parent, 0 for the root.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from treenets.errors import InputError
from treenets.files import atomic_write
from treenets.trees import Tree

SENTENCES_FILE = "sentences.jsonl"


_ASCII_WHITESPACE = re.compile(r"[ \t\n\r\f\v]+")


def normalise(text: str) -> str:
    """The sentence with runs of ASCII whitespace collapsed to one space and the ends stripped.

    Only ASCII whitespace: SST tokens such as ``8\xa01/2`` hold a NO-BREAK SPACE that is part of
    the token, so it must neither split the sentence nor be folded into its key.
    """
    return _ASCII_WHITESPACE.sub(" ", text).strip(" ")


def sentence_key(text: str) -> str:
    """Stable id of a sentence: the first 16 hex digits of sha256 of its normalised text."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class ParsedSentence:
    text: str
    tokens: tuple[str, ...]
    heads: tuple[int, ...]
    deprels: tuple[str, ...]
    cparents: tuple[int, ...]

    def __post_init__(self):
        for name in ("tokens", "heads", "deprels", "cparents"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        n = len(self.tokens)
        if n == 0:
            raise InputError(f"sentence {self.text!r}: no tokens")
        if len(self.heads) != n or len(self.deprels) != n:
            raise InputError(
                f"sentence {self.text!r}: {n} tokens but {len(self.heads)} heads and {len(self.deprels)} relations"
            )
        if len(self.cparents) != 2 * n - 1:
            raise InputError(
                f"sentence {self.text!r}: a binary constituency tree over {n} tokens has {2 * n - 1} nodes, "
                f"cparents has {len(self.cparents)}"
            )

    @property
    def key(self) -> str:
        return sentence_key(self.text)

    def dependency_tree(self) -> Tree:
        return Tree.from_parents(self.tokens, self.heads, deprels=self.deprels)

    def constituency_tree(self) -> Tree:
        return Tree.from_parents(self.tokens, self.cparents)

    def to_json(self) -> str:
        return json.dumps({"key": self.key, **asdict(self)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> "ParsedSentence":
        record = json.loads(line)
        key = record.pop("key", None)
        parsed = cls(**record)
        if key is not None and key != parsed.key:
            raise InputError(f"key {key} does not match the sentence {parsed.text!r} (expected {parsed.key})")
        return parsed


class ParseStore:
    """The parsed sentences of one directory; :meth:`save` rewrites ``sentences.jsonl`` atomically."""

    def __init__(self, directory: str | os.PathLike, load: bool = True):
        self.directory = Path(directory)
        self.path = self.directory / SENTENCES_FILE
        self._by_key: dict[str, ParsedSentence] = {}
        if load and self.path.exists():
            self._load()

    def _load(self) -> None:
        with open(self.path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    parsed = ParsedSentence.from_json(line)
                except InputError as err:
                    raise err.at(self.path, number) from None
                except (ValueError, TypeError) as err:  # bad JSON, missing or unknown fields
                    raise InputError(f"not a parsed sentence: {err}", self.path, number) from None
                self._by_key[parsed.key] = parsed

    def __contains__(self, text: str) -> bool:
        return sentence_key(text) in self._by_key

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[ParsedSentence]:
        return iter(self._by_key.values())

    def get(self, text: str) -> ParsedSentence:
        try:
            return self._by_key[sentence_key(text)]
        except KeyError:
            raise InputError(f"sentence not parsed: {normalise(text)!r}", self.path) from None

    def add(self, parsed: ParsedSentence) -> None:
        self._by_key[parsed.key] = parsed

    @classmethod
    def write(cls, directory: str | os.PathLike, sentences: Iterable[ParsedSentence]) -> "ParseStore":
        """A store holding exactly ``sentences`` (whatever ``directory`` held before is replaced)."""
        store = cls(directory, load=False)
        for parsed in sentences:
            store.add(parsed)
        store.save()
        return store

    def save(self) -> None:
        with atomic_write(self.path) as handle:
            for parsed in self._by_key.values():
                handle.write(parsed.to_json() + "\n")
