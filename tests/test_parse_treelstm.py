"""Existing parses in treelstm format as a parse store: import, checks with file:line, missing sentences."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from treenets.cli import main
from treenets.config import load_config
from treenets.errors import InputError
from treenets.parse.sentences import dataset_sentences
from treenets.parse.stanza_run import SentenceRow
from treenets.parse.store import ParseStore
from treenets.parse.treelstm import import_treelstm, read_treelstm_folder
from treenets.trees import read_lines, read_treelstm

FILES = ("txt", "toks", "parents", "rels", "cparents")


@pytest.fixture
def folder(tmp_path, data_mirror) -> Path:
    """The first 12 pairs of Tai et al.'s SICK dev split, laid out as preprocess-sick.py writes it."""
    root = tmp_path / "treelstm"
    (root / "dev").mkdir(parents=True)
    source = data_mirror / "sick" / "treelstm" / "dev"
    for name in [f"{column}.{kind}" for column in "ab" for kind in FILES] + ["id.txt", "sim.txt"]:
        lines = (source / name).read_text().splitlines(keepends=True)[:12]
        (root / "dev" / name).write_text("".join(lines))
    return root


def rows_of(folder: Path, column: str = "a") -> list[SentenceRow]:
    texts = read_lines(folder / "dev" / f"{column}.txt")
    return [SentenceRow(text, f"SICK_trial.txt: pair {i}, sentence {column.upper()}") for i, text in enumerate(texts)]


def test_a_treelstm_folder_becomes_a_store_with_the_trees_read_treelstm_gives(folder, tmp_path):
    rows = rows_of(folder, "a") + rows_of(folder, "b")
    store = import_treelstm(rows, folder, tmp_path / "store")
    again = ParseStore(tmp_path / "store")  # what training reads back
    assert len(again) == len({row.text for row in rows})
    for column in "ab":
        dev = folder / "dev"
        dependency = read_treelstm(dev / f"{column}.toks", dev / f"{column}.parents")
        constituency = read_treelstm(dev / f"{column}.toks", dev / f"{column}.cparents", constituency=True)
        relations = read_lines(dev / f"{column}.rels")
        for row, dep, const, rels in zip(rows_of(folder, column), dependency, constituency, relations):
            parsed = again.get(row.text)
            assert parsed == store.get(row.text)
            assert parsed.tokens == dep.tokens and parsed.deprels == tuple(rels.split())
            tree = parsed.dependency_tree()
            assert (tree.tokens, tree.children) == (dep.tokens, dep.children)
            tree = parsed.constituency_tree()
            assert (tree.tokens, tree.children) == (const.tokens, const.children) and tree.is_binary()
    # Line 4 of dev's a files, by hand: "A player is throwing the ball" and its Stanford parses.
    fourth = again.get("A player is throwing the ball")
    assert fourth.tokens == ("A", "player", "is", "throwing", "the", "ball")
    assert fourth.heads == (2, 4, 4, 0, 6, 4) and fourth.deprels == ("det", "nsubj", "aux", "root", "det", "dobj")
    assert fourth.cparents == (7, 7, 9, 10, 11, 11, 8, 0, 8, 9, 10)
    tree = fourth.constituency_tree()  # ((A player) (is (throwing (the ball))))
    assert [list(tree.children[node]) for node in (7, 6, 8, 9, 10)] == [[6, 8], [0, 1], [2, 9], [3, 10], [4, 5]]


def test_a_missing_sentence_names_itself_and_its_row(folder, tmp_path):
    rows = rows_of(folder)[:3] + [SentenceRow("A cat  sleeps on the mat", "SICK_trial.txt: pair 9, sentence B")]
    with pytest.raises(InputError) as err:
        import_treelstm(rows, folder, tmp_path / "store")
    assert str(err.value) == (f"SICK_trial.txt: pair 9, sentence B: sentence not in the treelstm parses of {folder}: "
                              "'A cat sleeps on the mat'")
    assert not (tmp_path / "store").exists()  # nothing half-written


def set_line(path: Path, number: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


# (file, what line 3 becomes, the error). Line 3 of a.toks: "Four children are doing backbends in the gym",
# its .parents line "2 4 4 0 4 4 8 6".
BAD = [
    ("a.parents", "2 1 4 0 4 4 8 6", "dev/a.parents:3: the tree has a cycle"),
    ("a.parents", "2 4 4 0 4 0 8 6", "dev/a.parents:3: expected exactly one root (parent 0), found 2"),
    ("a.parents", "2 4 4 0", "dev/a.parents:3: 8 tokens but 4 parent indices"),
    ("a.rels", "num nsubj aux", "dev/a.rels:3: 3 relations for 8 tokens"),
    ("a.cparents", "1 2 3", "dev/a.cparents:3: 8 tokens but only 3 parent indices"),
    ("a.toks", "Four children", "dev/a.parents:3: 2 tokens but 8 parent indices"),
]


@pytest.mark.parametrize("name, line, message", BAD)
def test_a_malformed_file_is_one_error_at_its_line(folder, tmp_path, name, line, message):
    set_line(folder / "dev" / name, 3, line)
    with pytest.raises(InputError) as err:
        read_treelstm_folder(folder)
    assert str(err.value).startswith(f"{folder}/{message}"), str(err.value)


def test_a_cparents_line_that_is_not_a_full_binary_tree(folder):
    cparents = folder / "dev" / "a.cparents"
    # Line 4, "A player is throwing the ball": (((A player) (is (throwing (the ball))))) in 5 phrases.
    set_line(cparents, 4, "7 7 7 7 7 7 0")  # one phrase over all six tokens
    with pytest.raises(InputError, match=rf"^{cparents}:4: not a full binary tree over the 6 tokens: "
                                         "phrase node 7 has 6 children$"):
        read_treelstm_folder(folder)
    set_line(cparents, 4, "7 7 9 10 11 11 8 0 8 9 10 8")  # a 12th node: a phrase without children
    with pytest.raises(InputError, match=rf"^{cparents}:4: phrase node 11 has no children"):
        read_treelstm_folder(folder)


def test_files_that_disagree_on_the_number_of_sentences_or_are_missing(folder):
    dev = folder / "dev"
    dev.joinpath("b.txt").write_text("".join(dev.joinpath("b.txt").read_text().splitlines(keepends=True)[:10]))
    with pytest.raises(InputError, match=rf"^{dev / 'b.txt'}:11: 10 lines but 12 sentences in b.toks$"):
        read_treelstm_folder(folder)
    dev.joinpath("b.txt").unlink()  # no b.txt: b is no sentence file; a still is
    assert len(read_treelstm_folder(folder)) == 11  # a's 12 lines hold one sentence twice
    dev.joinpath("a.rels").unlink()
    with pytest.raises(InputError, match=rf"^{dev / 'a.rels'}: missing a.rels"):
        read_treelstm_folder(folder)
    with pytest.raises(InputError, match="treelstm parses: not a folder"):
        read_treelstm_folder(folder.parent / "nowhere")
    for path in dev.glob("*.toks"):
        path.unlink()
    with pytest.raises(InputError, match="no treelstm sentence files here"):
        read_treelstm_folder(folder)


def test_one_sentence_parsed_two_ways_is_an_error(folder):
    dev = folder / "dev"
    for kind in FILES:  # b's first sentence becomes a's first, with another tree
        set_line(dev / f"b.{kind}", 1, read_lines(dev / f"a.{kind}")[0])
    set_line(dev / "b.parents", 1, "3 3 5 5 0 5 6 9 6 5 5 11")  # "is" the root, not "smiling"
    with pytest.raises(InputError, match=rf"^{dev / 'b.txt'}:1: parsed differently at {dev / 'a.txt'}:1: "
                                         "'The young boys are playing outdoors and the man is smiling nearby'$"):
        read_treelstm_folder(folder)


# --------------------------------------------------------------------------- the command
def sick_config(tmp_path: Path, limit: dict) -> Path:
    config = {"task": "relatedness", "model": {"name": "childsum_treelstm"},
              "data": {"dataset": "sick", "cache_dir": str(tmp_path / "raw"), "limit": limit,
                       "parse_store": str(tmp_path / "store")}}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_parse_command_takes_a_sick_slice_from_the_registry_parses(tmp_path, data_mirror, monkeypatch, capsys):
    monkeypatch.setenv("TREENETS_DATA_MIRROR", str(data_mirror))
    config = sick_config(tmp_path, {"train": 30, "dev": 10, "test": 10})
    assert main(["parse", "--config", str(config), "--treelstm", "sick-treelstm"]) == 0
    assert f"from the treelstm parses in {tmp_path / 'raw' / 'sick' / 'treelstm'}" in capsys.readouterr().out
    store = ParseStore(tmp_path / "store")
    rows = [row for split in dataset_sentences(load_config(config)) for c in split.columns.values() for row in c]
    assert len(store) == len({row.text for row in rows}) and all(row.text in store for row in rows)
    # The exported test file holds the registry's own lines for the sliced rows.
    [test] = [split for split in dataset_sentences(load_config(config)) if split.split == "test"]
    original = read_lines(data_mirror / "sick" / "treelstm" / "test" / "b.cparents")
    texts = read_lines(data_mirror / "sick" / "treelstm" / "test" / "b.txt")
    exported = read_lines(tmp_path / "store" / "treelstm" / "test" / "b.cparents")
    assert exported == [original[texts.index(row.text)] for row in test.columns["b"]]


def test_parse_command_with_a_sentence_missing_is_one_line_and_exit_1(tmp_path, data_mirror, folder):
    config = sick_config(tmp_path, {"train": 5, "dev": 5, "test": 5})
    result = subprocess.run([sys.executable, "-m", "treenets.cli", "parse", "--config", str(config),
                             "--treelstm", str(folder)], capture_output=True, text=True, timeout=120,
                            env={"TREENETS_DATA_MIRROR": str(data_mirror), "PATH": "/usr/bin:/bin",
                                 "PYTHONPATH": ":".join(sys.path)})
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.splitlines()
    train = tmp_path / "raw" / "sick" / "semeval2014" / "SICK_train.txt"
    assert line.startswith(f"treenets: error: {train}: pair 1, sentence A: sentence not in the treelstm parses of "
                           f"{folder}: 'A group of kids is playing in a yard and an old man is standing in the "
                           "background'"), line


def test_predict_on_a_run_of_existing_parses_asks_for_a_parser(folder, tmp_path):
    """A store imported from treelstm files records no parser, so `treenets predict` cannot parse new
    sentences the run's way: it says to name Stanza models instead of failing inside the parser."""
    from treenets.predict import _parse

    import_treelstm(rows_of(folder), folder, tmp_path / "store")
    config = load_config({"task": "relatedness", "model": {"name": "childsum_treelstm"},
                          "data": {"dataset": "sick", "tree": "dependency", "parse_store": str(tmp_path / "store")}})
    with pytest.raises(InputError) as err:
        _parse(config, [SentenceRow("A dog runs", "new.tsv:1")], tmp_path / "new", None, "cpu", False)
    assert "parser.source: treelstm" in str(err.value) and "pass --models" in str(err.value)
    assert str(err.value).startswith(f"{tmp_path / 'store'}: no parser.json")
