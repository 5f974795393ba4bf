"""Existing parses in stanfordnlp/treelstm format as a parse store (no parser runs).

A treelstm folder is what the original preprocessing scripts (``preprocess-sick.py`` and the like)
write: for each sentence file ``X`` of any subfolder, ``X.txt`` (the raw sentences), ``X.toks``
(space-separated tokens), ``X.parents`` (dependency head per token, 1-based, 0 = root), ``X.rels``
(dependency relation per token) and ``X.cparents`` (binarized constituency tree: nodes ``1..n`` the
tokens, then the phrases, 0 = root), line ``i`` of each the same sentence. Other files (``id.txt``,
``sim.txt``) are not sentence files. Every file is checked line by line; the first problem is one
:class:`InputError` at its file and line.

:func:`import_treelstm` turns the folder into the parse store of a dataset's sentences, keyed by
the raw sentence like a Stanza parse, so the trees and the parser's tokens come from these files.
"""

from __future__ import annotations

import os
from pathlib import Path

from treenets.errors import InputError
from treenets.parse.stanza_run import SentenceRow
from treenets.parse.store import ParsedSentence, ParseStore, normalise, sentence_key
from treenets.trees import TreeError, read_lines, read_treelstm

SENTENCE_FILES = ("txt", "toks", "parents", "rels", "cparents")


def sentence_stems(folder: str | os.PathLike) -> list[Path]:
    """Every ``X`` under ``folder`` with an ``X.txt`` and an ``X.toks``, in path order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("treelstm parses: not a folder", folder)
    stems = sorted(path.with_suffix("") for path in folder.rglob("*.txt") if path.with_suffix(".toks").is_file())
    if not stems:
        raise InputError("no treelstm sentence files here (X.txt next to X.toks, X.parents, X.rels, X.cparents)",
                         folder)
    return stems


def read_sentence_files(stem: Path) -> list[ParsedSentence]:
    """The parsed sentences of ``stem``.{txt,toks,parents,rels,cparents}, in line order."""
    paths = {kind: stem.with_name(f"{stem.name}.{kind}") for kind in SENTENCE_FILES}
    for kind, path in paths.items():
        if not path.is_file():
            raise InputError(f"missing {path.name} (treelstm sentence files come as "
                             f"{', '.join('.' + k for k in SENTENCE_FILES)})", path)
    texts, relations = read_lines(paths["txt"]), read_lines(paths["rels"])
    dependency = read_treelstm(paths["toks"], paths["parents"])
    constituency = read_treelstm(paths["toks"], paths["cparents"], constituency=True)
    for kind, lines in (("txt", texts), ("rels", relations)):
        if len(lines) != len(dependency):
            raise InputError(f"{len(lines)} lines but {len(dependency)} sentences in {paths['toks'].name}",
                             paths[kind], min(len(lines), len(dependency)) + 1)
    sentences = []
    for number, (text, deps, rels, tree) in enumerate(zip(texts, dependency, relations, constituency), start=1):
        tokens = deps.tokens
        if not normalise(text):
            raise InputError("empty sentence", paths["txt"], number)
        rels = rels.split(" ")
        if len(rels) != len(tokens):
            raise InputError(f"{len(rels)} relations for {len(tokens)} tokens", paths["rels"], number)
        if not tree.is_binary():
            wide = next(node for node in range(tree.num_tokens, tree.num_nodes) if len(tree.children[node]) != 2)
            raise TreeError(f"not a full binary tree over the {len(tokens)} tokens: phrase node {wide + 1} has "
                            f"{len(tree.children[wide])} children", paths["cparents"], number)
        sentences.append(ParsedSentence(text, tokens, deps.to_parents(), rels, tree.to_parents()))
    return sentences


def read_treelstm_folder(folder: str | os.PathLike) -> dict[str, ParsedSentence]:
    """Every sentence of a treelstm folder by :func:`sentence_key`. A sentence that appears in
    several places must be parsed the same way in each."""
    parsed: dict[str, tuple[ParsedSentence, str]] = {}
    for stem in sentence_stems(folder):
        for number, sentence in enumerate(read_sentence_files(stem), start=1):
            seen = parsed.setdefault(sentence.key, (sentence, f"{stem}.txt:{number}"))
            if seen[0] != sentence:
                raise InputError(f"parsed differently at {seen[1]}: {sentence.text!r}", f"{stem}.txt", number)
    return {key: sentence for key, (sentence, _) in parsed.items()}


def import_treelstm(rows: list[SentenceRow], folder: str | os.PathLike, out: str | os.PathLike) -> ParseStore:
    """The parse store at ``out`` of the ``rows``' sentences, taken from the treelstm ``folder``.
    A sentence the folder does not have is an error naming it and its row."""
    available = read_treelstm_folder(folder)
    store = ParseStore(out, load=False)
    for row in rows:
        sentence = available.get(sentence_key(row.text))
        if sentence is None:
            raise InputError(f"sentence not in the treelstm parses of {os.fspath(folder)}: {normalise(row.text)!r}",
                             row.where)
        store.add(sentence)
    store.save()
    return store
