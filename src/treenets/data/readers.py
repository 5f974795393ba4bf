"""Readers of the corpora in the registry. No torch here: they return trees and pairs."""

from __future__ import annotations

import os
from collections.abc import Sequence

from treenets.data.pairs import Pair, PairDatasetSpec, read_pairs
from treenets.errors import InputError
from treenets.trees import Tree, TreeError, read_lines, read_utf8

SST_LABELS = range(5)  # very negative .. very positive
# SICK's columns: the SemEval-2014 split files have the first five, the full SICK.txt all of them.
_SICK_COLUMNS = dict(sentence_a="sentence_A", sentence_b="sentence_B", score="relatedness_score",
                     id="pair_ID", score_range=(1.0, 5.0))
# The entailment label's column: SICK.txt calls it entailment_label, the SemEval split files entailment_judgment.
SICK_LABEL_COLUMNS = {"full": "entailment_label", "semeval": "entailment_judgment"}
# SICK.txt's SemEval_set value for each of our split names.
SICK_SEMEVAL_SETS = {"train": "TRAIN", "dev": "TRIAL", "test": "TEST"}


def read_sst(path: str | os.PathLike, limit: int | None = None, lines: Sequence[int] | None = None) -> list[Tree]:
    """One labelled tree per line (Stanford Sentiment Treebank PTB format): all of them, the first
    ``limit`` only, or those on the 1-based line numbers ``lines`` (only those lines are parsed).

    Strict: every node labelled 0-4, every phrase node with exactly two children and every leaf a
    word, as in SST; anything else is an error at its line (a label the 5-class head cannot take
    would otherwise surface deep inside training)."""
    text = read_lines(path)
    numbers = range(1, len(text[:limit]) + 1) if lines is None else lines
    trees = []
    for number in numbers:
        if not 1 <= number <= len(text):
            raise InputError(f"no line {number}: the file has {len(text)} lines", path)
        try:
            trees.append(check_sst_tree(Tree.from_ptb(text[number - 1], labelled=True)))
        except TreeError as err:
            raise err.at(path, number) from None
    return trees


def check_sst_tree(tree: Tree) -> Tree:
    """``tree`` if it is a well-formed SST tree, else a :class:`TreeError` naming the first bad node."""
    for node in tree.postorder():
        label, kids = tree.labels[node], tree.children[node]
        if label not in SST_LABELS:
            raise TreeError(f"label {label} of {_describe(tree, node)} is outside {SST_LABELS[0]}-{SST_LABELS[-1]}")
        if node >= tree.num_tokens and len(kids) != 2:
            raise TreeError(f"{_describe(tree, node)} has {len(kids)} {'child' if len(kids) == 1 else 'children'}; "
                            "SST phrases have exactly 2")
    return tree


def _describe(tree: Tree, node: int, width: int = 40) -> str:
    """``the word 'film'`` or ``the phrase 'The film rocks'`` (shortened), for error messages."""
    if node < tree.num_tokens:
        return f"the word {tree.tokens[node]!r}"
    below, stack = [], [node]
    while stack:
        current = stack.pop()
        if current < tree.num_tokens:
            below.append(current)
        stack.extend(tree.children[current])
    text = " ".join(tree.tokens[token] for token in sorted(below))
    return f"the phrase {(text if len(text) <= width else text[: width - 3] + '...')!r}"


def read_sick(path: str | os.PathLike, split: str | None = None, labels: bool = False) -> list[Pair]:
    """SICK pairs from a SemEval-2014 split file, or from the full SICK.txt.

    ``split`` (train/dev/test) selects the rows of SICK.txt whose SemEval_set is TRAIN/TRIAL/TEST;
    without it every row is read. A split file has no SemEval_set column: pass no ``split``.
    ``labels``: also read each pair's entailment label (ENTAILMENT / NEUTRAL / CONTRADICTION) into
    ``Pair.label``.
    """
    if split is not None and split not in SICK_SEMEVAL_SETS:
        raise InputError(f"SICK split must be one of {', '.join(SICK_SEMEVAL_SETS)}, got {split!r}")
    name = split or "all"
    spec = PairDatasetSpec(
        files={name: os.fspath(path)},
        split_column="SemEval_set" if split else None,
        split_values={name: SICK_SEMEVAL_SETS[split]} if split else None,
        label=_sick_label_column(path) if labels else None,
        **_SICK_COLUMNS,
    )
    return read_pairs(spec, name)


def _sick_label_column(path: str | os.PathLike) -> str:
    """The entailment column this SICK file has (the full release and the split files name it differently)."""
    header = read_utf8(path).split("\n", 1)[0].rstrip("\r").split("\t")
    full = SICK_LABEL_COLUMNS["full"]
    return full if full in header else SICK_LABEL_COLUMNS["semeval"]


def read_conllu(path: str | os.PathLike) -> list[Tree]:
    """Dependency trees of a CoNLL-U file (multiword tokens and empty nodes skipped)."""
    import conllu  # here: SICK and SST readers run where conllu is not installed (a GPU box)

    trees = []
    for start_line, block in _sentence_blocks(read_utf8(path)):
        try:
            sentence = conllu.parse(block)[0]
            trees.append(Tree.from_conllu(sentence))
        except (conllu.exceptions.ParseException, TreeError) as err:
            raise InputError(f"sentence starting here: {err}", path, start_line) from None
    return trees


def _sentence_blocks(text: str):
    """(first line number, text) of each blank-line-separated sentence; errors need the line."""
    block, start = [], None
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            if start is None:
                start = number
            block.append(line)
        elif block:
            yield start, "\n".join(block) + "\n"
            block, start = [], None
    if block:
        yield start, "\n".join(block) + "\n"
