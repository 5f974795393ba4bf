"""Sentence-pair datasets (SICK, STS-style, a user's own) described by configuration alone.

A :class:`PairDatasetSpec` says where each split's file is and which columns hold sentence A,
sentence B, the score and (optionally) an id; :func:`read_pairs` reads a split into
:class:`Pair` rows and rejects bad rows with ``file:line`` errors. Build a spec from YAML with
``treenets.config.from_dict(PairDatasetSpec, mapping)``.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from treenets.errors import InputError
from treenets.trees import read_utf8

Column = str | int  # a header name, or a 0-based index


@dataclass(frozen=True)
class Pair:
    id: str
    a: str
    b: str
    score: float
    label: str | None = None  # a class label, when the spec names a label column (SICK's entailment)


@dataclass(frozen=True)
class PairDatasetSpec:
    files: dict[str, str]  # split -> file (relative paths are resolved against read_pairs' root)
    sentence_a: Column
    sentence_b: Column
    score: Column
    score_range: tuple[float, float]  # [lo, hi], both inclusive
    id: Column | None = None  # None: the row's number in its file (1 = first data row)
    label: Column | None = None  # a class label per pair (SICK's entailment_judgment); None: not read
    delimiter: str = "\t"
    header: bool = True
    quoting: bool = False  # CSV quote processing; off, a '"' is part of the text (SICK has some)
    # One file holding several splits: the column naming each row's split, and the value that
    # column has for each split (default: the split's own name).
    split_column: Column | None = None
    split_values: dict[str, str] | None = None

    def __post_init__(self):
        if not self.files:
            raise InputError("files: at least one split is needed")
        if len(self.delimiter) != 1:
            raise InputError(f"delimiter: must be one character, got {self.delimiter!r}")
        if len(self.score_range) != 2 or not self.score_range[0] < self.score_range[1]:
            raise InputError(f"score_range: must be [lo, hi] with lo < hi, got {list(self.score_range)}")
        for key in ("sentence_a", "sentence_b", "score", "id", "label", "split_column"):
            column = getattr(self, key)
            if isinstance(column, str) and not self.header:
                raise InputError(f"{key}: column {column!r} is a name, but header is false (use a 0-based index)")
            if isinstance(column, int) and column < 0:
                raise InputError(f"{key}: column index must be >= 0, got {column}")
        unknown = set(self.split_values or {}) - set(self.files)
        if unknown:
            raise InputError(f"split_values: {sorted(unknown)[0]!r} is not a split in files")


def read_pairs(spec: PairDatasetSpec, split: str, root: str | os.PathLike | None = None) -> list[Pair]:
    """The pairs of ``split``; relative file names are taken from ``root`` (default: the cwd)."""
    if split not in spec.files:
        raise InputError(f"no split {split!r} in this dataset (it has: {', '.join(spec.files)})")
    path = Path(root or ".") / spec.files[split]
    rows = csv.reader(
        io.StringIO(read_utf8(path), newline=""),
        delimiter=spec.delimiter,
        quoting=csv.QUOTE_MINIMAL if spec.quoting else csv.QUOTE_NONE,
        strict=True,
    )
    try:
        header = next(rows) if spec.header else None
    except StopIteration:
        raise InputError("empty file (no header)", path) from None
    except csv.Error as err:
        raise InputError(str(err), path, 1) from None

    def index_of(column: Column | None, what: str) -> int | None:
        if column is None or isinstance(column, int):
            return column
        if column not in header:
            raise InputError(f"no column {column!r} for {what} in the header ({', '.join(header)})", path, 1)
        return header.index(column)

    a_col, b_col = index_of(spec.sentence_a, "sentence A"), index_of(spec.sentence_b, "sentence B")
    score_col, id_col = index_of(spec.score, "the score"), index_of(spec.id, "the id")
    label_col = index_of(spec.label, "the label")
    split_col = index_of(spec.split_column, "the split")
    wanted_split = (spec.split_values or {}).get(split, split)
    lo, hi = spec.score_range
    pairs, first_line_of = [], {}
    row_number = 0

    def field(row: list[str], column: int, what: str) -> str:
        if column >= len(row):
            raise InputError(f"{what} (column {column}) is missing: the row has {len(row)} fields",
                             path, rows.line_num)
        return row[column]

    try:
        for row in rows:
            line = rows.line_num
            if not row:  # a blank line
                continue
            row_number += 1
            if split_col is not None and field(row, split_col, "the split") != wanted_split:
                continue
            a, b = field(row, a_col, "sentence A"), field(row, b_col, "sentence B")
            for text, which in ((a, "A"), (b, "B")):
                if not text.strip():
                    raise InputError(f"sentence {which} is empty", path, line)
            raw_score = field(row, score_col, "the score")
            try:
                score = float(raw_score)
            except ValueError:
                raise InputError(f"score {raw_score!r} is not a number", path, line) from None
            if not lo <= score <= hi:  # also catches nan
                raise InputError(f"score {score:g} is outside [{lo:g}, {hi:g}]", path, line)
            pair_id = field(row, id_col, "the id") if id_col is not None else str(row_number)
            if pair_id in first_line_of:
                raise InputError(f"pair id {pair_id!r} repeats the one on line {first_line_of[pair_id]}", path, line)
            first_line_of[pair_id] = line
            label = None
            if label_col is not None:
                label = field(row, label_col, "the label").strip()
                if not label:
                    raise InputError("the label is empty", path, line)
            pairs.append(Pair(pair_id, a, b, score, label))
    except csv.Error as err:
        raise InputError(f"malformed row: {err}", path, rows.line_num) from None
    return pairs
