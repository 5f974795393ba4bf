"""The sentences a dataset's data section asks for, and the treelstm-format export of their parses.

Rows are selected exactly as :mod:`treenets.datasets` reads them (the same files, the same
evenly spaced ``limit`` slices), so the store holds every sentence training will look up. SST
sentences are its trees' words joined by spaces (what ``datasets`` looks up for dependency
trees), always parsed pretokenized (SST's tokens are its trees'); pair datasets give two columns,
``a`` and ``b``.

The export follows stanfordnlp/treelstm: ``<out>/treelstm/<split>/<column>.toks`` (tokens),
``.parents`` (dependency heads), ``.cparents`` (binarized constituency tree), ``.rels``
(dependency relations), one sentence per line in dataset order, plus ``id.txt`` and ``sim.txt``
for pairs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from treenets.config import SPLITS, Config
from treenets.files import atomic_write
from treenets.parse.stanza_run import SentenceRow
from treenets.parse.store import ParsedSentence, ParseStore
from treenets.trees import write_treelstm

EXPORT_DIR = "treelstm"


@dataclass(frozen=True)
class SplitSentences:
    split: str
    columns: dict[str, list[SentenceRow]]  # "a"/"b" (pairs) or "sents" (SST), in dataset order
    extra: dict[str, list[str]]  # other treelstm files of the split: "id", "sim" (pairs)


def dataset_sentences(config: Config, splits=SPLITS) -> list[SplitSentences]:
    from treenets.data.pairs import read_pairs
    from treenets.data.readers import read_sick, read_sst
    from treenets.splits import split_files, spread
    from treenets.trees import read_lines

    data = config.data
    files = split_files(config, splits)
    result = []
    for split, path in files.items():
        if data.dataset == "sst":
            numbers = [index + 1 for index in spread(len(read_lines(path)), data.limit.get(split))]
            trees = read_sst(path, lines=numbers)
            rows = [SentenceRow(" ".join(tree.words), f"{path}:{line}") for line, tree in zip(numbers, trees)]
            result.append(SplitSentences(split, {"sents": rows}, {}))
            continue
        pairs = read_sick(path) if data.pairs is None else read_pairs(data.pairs, split)
        pairs = [pairs[i] for i in spread(len(pairs), data.limit.get(split))]
        columns = {
            column: [SentenceRow(getattr(pair, column), f"{path}: pair {pair.id}, sentence {column.upper()}")
                     for pair in pairs]
            for column in ("a", "b")
        }
        extra = {"id": [pair.id for pair in pairs], "sim": [f"{pair.score:g}" for pair in pairs]}
        result.append(SplitSentences(split, columns, extra))
    return result


def token_statistics(sentences: Iterable[ParsedSentence], vectors: str) -> dict[str, float]:
    """Tokens per sentence, and the share of tokens with a vector in ``vectors`` as written and as
    training looks them up (also PTB-unescaped and lowercased, :func:`treenets.embeddings.lookup_forms`)."""
    from treenets.embeddings import load_vectors, lookup_forms

    token_lists = [parsed.tokens for parsed in sentences]
    tokens = [token for tokens in token_lists for token in tokens]
    known, _ = load_vectors(vectors, {form for token in set(tokens) for form in lookup_forms(token)})
    return {
        "sentences": len(token_lists), "tokens": len(tokens),
        "tokens_per_sentence": len(tokens) / max(len(token_lists), 1),
        "in_vectors_exact": sum(token in known for token in tokens) / max(len(tokens), 1),
        "in_vectors_lowercased": sum(any(form in known for form in lookup_forms(token)) for token in tokens)
        / max(len(tokens), 1),
    }


def statistics_line(stats: dict[str, float], vectors: str) -> str:
    return (f"{stats['tokens']} tokens, {stats['tokens_per_sentence']:.1f} per sentence; in the word vectors "
            f"{vectors}: {100 * stats['in_vectors_exact']:.1f}% as written, "
            f"{100 * stats['in_vectors_lowercased']:.1f}% lowercased")


def export_treelstm(store: ParseStore, splits: list[SplitSentences], out: str | os.PathLike) -> Path:
    """Write the treelstm files of every split under ``out/treelstm``; returns that folder."""
    root = Path(out) / EXPORT_DIR
    for split in splits:
        folder = root / split.split
        for column, rows in split.columns.items():
            parsed = [store.get(row.text) for row in rows]
            write_treelstm((p.dependency_tree() for p in parsed), folder / f"{column}.toks", folder / f"{column}.parents")
            write_treelstm((p.constituency_tree() for p in parsed), folder / f"{column}.toks",
                           folder / f"{column}.cparents")
            with atomic_write(folder / f"{column}.rels") as handle:
                handle.writelines(" ".join(p.deprels) + "\n" for p in parsed)
        for name, lines in split.extra.items():
            with atomic_write(folder / f"{name}.txt") as handle:
                handle.writelines(line + "\n" for line in lines)
    return root
