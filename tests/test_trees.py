"""Trees: PTB brackets, CoNLL-U, treelstm parents files, binarization and validation."""

from __future__ import annotations

import nltk
import pytest

from treenets.data.readers import read_conllu, read_sst
from treenets.errors import InputError
from treenets.trees import (
    Tree,
    TreeError,
    binarize,
    read_lines,
    read_treelstm,
    unescape_ptb,
    write_treelstm,
)

SST_SPLITS = ("train", "dev", "test")


@pytest.fixture(scope="module")
def sst_lines(data_mirror):
    return {split: read_lines(data_mirror / "sst" / f"{split}.txt") for split in SST_SPLITS}


@pytest.fixture(scope="module")
def sst_trees(sst_lines):
    return {split: [Tree.from_ptb(line) for line in lines] for split, lines in sst_lines.items()}


# --------------------------------------------------------------------------- PTB brackets
def test_every_sst_line_round_trips_through_tree(sst_lines, sst_trees):
    for split in SST_SPLITS:
        written = [tree.to_ptb() for tree in sst_trees[split]]
        mismatched = [i + 1 for i, (a, b) in enumerate(zip(written, sst_lines[split])) if a != b]
        assert mismatched == [], f"{split}: lines {mismatched[:5]} differ after the round trip"


def test_sst_trees_are_binary_with_a_label_at_every_node(sst_trees):
    for trees in sst_trees.values():
        for tree in trees:
            assert tree.is_binary()
            assert set(tree.labels) <= {0, 1, 2, 3, 4}
            assert tree.root == tree.num_nodes - 1  # phrase nodes in postorder


def test_no_break_space_stays_inside_its_sst_token(sst_trees):
    spaced = [t for tree in sst_trees["train"] for t in tree.tokens if "\xa0" in t]
    assert sorted(spaced) == ["2\xa01\\/2", "2\xa01\\/2", "8\xa01\\/2"]
    assert unescape_ptb("8\xa01\\/2") == "8\xa01/2"


def test_bracket_escapes_are_tokens_and_words_unescape_them(sst_trees):
    tree = next(t for t in sst_trees["dev"] if "-LRB-" in t.tokens)
    position = tree.tokens.index("-LRB-")
    assert tree.words[position] == "("
    assert tree.words[tree.tokens.index("-RRB-")] == ")"
    assert [unescape_ptb(t) for t in ("-LSB-", "-RCB-", "\\*", "a\\/b", "plain")] == ["[", "}", "*", "a/b", "plain"]


def test_token_nodes_come_first_in_sentence_order():
    tree = Tree.from_ptb("(3 (2 (2 The) (2 film)) (4 (3 rocks) (2 .)))")
    assert tree.tokens == ("The", "film", "rocks", ".")
    assert tree.labels == (2, 2, 3, 2, 2, 4, 3)
    assert tree.children[4:] == ((0, 1), (2, 3), (4, 5))
    assert tree.leaves() == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "text, problem",
    [
        ("(3 (2 a) (2 b)", "truncated"),
        ("(3 (2 a) (2 b)))", "end-of-string"),
        ("(2 a) (2 b)", "end-of-string"),
        ("", "expected '('"),
        ("(NP (2 a) (2 b))", "'NP' is not an integer"),
        ("(3 a (2 b))", "token 'a' has no label"),
        ("(3 (2 a) ())", "a leaf without a word"),
    ],
)
def test_malformed_brackets_are_tree_errors(text, problem):
    with pytest.raises(TreeError, match=problem.replace("(", r"\(")) as caught:
        Tree.from_ptb(text)
    assert "\n" not in str(caught.value)


def test_read_sst_names_file_and_line_of_a_truncated_tree(tmp_path, sst_lines):
    path = tmp_path / "dev.txt"
    path.write_text("\n".join(sst_lines["dev"][:2] + [sst_lines["dev"][2][:-7]]) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_sst(path)
    assert str(caught.value).startswith(f"{path}:3: malformed brackets")


def test_unlabelled_brackets_keep_structure_and_write_placeholder_labels():
    tree = Tree.from_ptb("(ROOT (S (NP (DT the) (NN dog)) (VP barks)))", labelled=False)
    assert tree.labels is None and tree.tokens == ("the", "dog", "barks")
    assert tree.to_ptb() == "(X (X (X the dog) barks))"  # (VP barks) is the token node of barks
    assert Tree.from_ptb(tree.to_ptb(), labelled=False) == tree


def test_dependency_tree_cannot_be_written_as_brackets():
    with pytest.raises(TreeError, match="constituency"):
        Tree.from_parents(["a", "b"], [2, 0]).to_ptb()


# --------------------------------------------------------------------------- binarization
def test_binarize_factors_to_the_right_and_collapses_unary_chains():
    tree = Tree.from_ptb("(4 (3 (1 a)) (1 (2 b) (2 c) (2 d)) (0 e))")
    binary = binarize(tree)
    assert binary.is_binary() and binary.tokens == tree.tokens
    # a's unary parent (label 3) is merged into a, and keeps the chain's top label.
    assert binary.labels[0] == 3
    assert binary.to_ptb() == "(4 (3 a) (-1 (1 (2 b) (-1 (2 c) (2 d))) (0 e)))"
    assert Tree.from_ptb(binary.to_ptb()) == binary


def test_binarize_without_collapsing_keeps_unary_nodes():
    tree = Tree.from_ptb("(S (NP (N a)) (VP b c d))", labelled=False)
    kept = binarize(tree, collapse_unary=False)
    assert not kept.is_binary()
    assert kept.to_ptb() == "(X (X a) (X b (X c d)))"


def test_binarize_a_single_word_sentence_is_its_token():
    binary = binarize(Tree.from_ptb("(ROOT (S (NP word)))", labelled=False))
    assert binary.num_nodes == 1 and binary.is_binary()


def test_binarize_rejects_dependency_trees():
    with pytest.raises(TreeError, match="constituency"):
        binarize(Tree.from_parents(["a", "b", "c"], [2, 0, 2]))


def test_binarize_real_penn_treebank_trees(data_mirror, monkeypatch):
    from nltk.corpus.reader import BracketParseCorpusReader
    from nltk.data import ZipFilePathPointer

    nltk_data = data_mirror / "ptb_sample" / "nltk_data"
    monkeypatch.setattr(nltk.data, "path", [str(nltk_data)] + nltk.data.path)  # nltk reads only from its path
    zip_path = nltk_data / "corpora" / "treebank.zip"
    reader = BracketParseCorpusReader(ZipFilePathPointer(str(zip_path), "treebank/combined/"),
                                      r"wsj_000[1-9]\.mrg")
    trees = [Tree.from_nltk(parsed) for parsed in reader.parsed_sents()]
    assert len(trees) > 40 and sum(not t.is_binary() for t in trees) > 30
    for tree, parsed in zip(trees, reader.parsed_sents()):
        binary = binarize(tree)
        assert binary.is_binary()
        assert list(binary.tokens) == parsed.leaves()
        assert [binary.tokens[n] for n in binary.leaves()] == parsed.leaves()


# --------------------------------------------------------------------------- CoNLL-U
def test_conllu_skips_multiword_tokens_and_empty_nodes(fixtures_dir):
    first, second = read_conllu(fixtures_dir / "tiny.conllu")
    assert first.tokens == ("The", "page", "'s", "title", "changed", ".")
    assert first.to_parents() == [2, 4, 2, 5, 0, 5]
    assert first.deprels == ("det", "nmod:poss", "case", "nsubj", "root", "punct")
    assert first.root == 4 and first.children[4] == (3, 5)
    assert second.tokens == ("Dogs", "bark") and second.to_parents() == [2, 0]


@pytest.mark.parametrize(
    "heads, problem",
    [((2, 1), "root"), ((0, 0), "root"), ((0, 3), "cycle|outside"), ((0, 2), "own parent"),
     ((0, "x"), "'x' is not a valid value"), ((0, None), "a word line has 2 tab-separated fields")],
)
def test_bad_conllu_heads_name_the_sentence_line(tmp_path, heads, problem):
    rows = [f"{i}\tw{i}\tw\tX\t_\t_\t{h}\tdep\t_\t_" if h is not None else f"{i}\tw{i}"
            for i, h in enumerate(heads, start=1)]
    path = tmp_path / "bad.conllu"
    path.write_text("1\tok\tok\tX\t_\t_\t0\troot\t_\t_\n\n# text = bad\n" + "\n".join(rows) + "\n\n")
    with pytest.raises(InputError, match=problem) as caught:
        read_conllu(path)
    assert str(caught.value).startswith(f"{path}:3:")


# --------------------------------------------------------------------------- treelstm files
def test_constituency_parents_files_round_trip(tmp_path, sst_trees):
    trees = sst_trees["dev"]
    write_treelstm(trees, tmp_path / "dev.toks", tmp_path / "dev.cparents")
    back = read_treelstm(tmp_path / "dev.toks", tmp_path / "dev.cparents", constituency=True)
    unlabelled = [Tree(t.tokens, t.children) for t in trees]
    assert back == unlabelled
    write_treelstm(back, tmp_path / "again.toks", tmp_path / "again.cparents")
    assert (tmp_path / "again.cparents").read_bytes() == (tmp_path / "dev.cparents").read_bytes()


def test_dependency_parents_files_round_trip(tmp_path, data_mirror):
    trees = read_conllu(data_mirror / "ud" / "UD_English-LinES" / "en_lines-ud-dev.conllu")
    write_treelstm(trees, tmp_path / "a.toks", tmp_path / "a.parents")
    back = read_treelstm(tmp_path / "a.toks", tmp_path / "a.parents")
    assert [(t.tokens, t.children) for t in back] == [(t.tokens, t.children) for t in trees]
    assert len((tmp_path / "a.toks").read_text().splitlines()) == 1118


@pytest.mark.parametrize(
    "toks, parents, problem",
    [
        ("a b c", "2 3 2", "exactly one root"),
        ("a b c", "0 3 2", "cycle"),
        ("a b c", "0 0 1", "exactly one root"),
        ("a b c", "2 0", "3 tokens but 2 parent indices"),
        ("a b c", "2 0 x", "'x' is not an integer"),
        ("a b c", "2 0 9", "outside"),
        ("a  b", "2 0", "empty token"),
    ],
)
def test_bad_parents_lines_name_file_and_line(tmp_path, toks, parents, problem):
    (tmp_path / "s.toks").write_text(f"x y\n{toks}\n")
    (tmp_path / "s.parents").write_text(f"2 0\n{parents}\n")
    with pytest.raises(InputError, match=problem) as caught:
        read_treelstm(tmp_path / "s.toks", tmp_path / "s.parents")
    assert ":2: " in str(caught.value)


def test_cparents_need_leaves_at_the_tokens(tmp_path):
    (tmp_path / "s.toks").write_text("a b\n")
    (tmp_path / "s.cparents").write_text("2 0\n")  # a hangs below b: a dependency tree
    with pytest.raises(InputError, match="token node has children"):
        read_treelstm(tmp_path / "s.toks", tmp_path / "s.cparents", constituency=True)


def test_files_with_different_sentence_counts(tmp_path):
    (tmp_path / "s.toks").write_text("a b\nc\n")
    (tmp_path / "s.parents").write_text("2 0\n")
    with pytest.raises(InputError, match="2 sentences in .* but 1 in") as caught:
        read_treelstm(tmp_path / "s.toks", tmp_path / "s.parents")
    assert str(caught.value).startswith(f"{tmp_path / 's.parents'}:2:")


def test_unwritable_token_leaves_no_files(tmp_path):
    trees = [Tree.from_parents(["a", "b"], [2, 0]), Tree.from_parents(["c d", "e"], [0, 1])]
    with pytest.raises(TreeError, match="cannot be written"):
        write_treelstm(trees, tmp_path / "s.toks", tmp_path / "s.parents")
    assert list(tmp_path.iterdir()) == []


def test_non_utf8_byte_is_located(tmp_path):
    path = tmp_path / "s.toks"
    path.write_bytes(b"fine\nbad \xff byte\n")
    with pytest.raises(InputError, match="not UTF-8: byte 0xff") as caught:
        read_lines(path)
    assert str(caught.value).startswith(f"{path}:2:")
