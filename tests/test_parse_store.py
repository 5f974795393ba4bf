"""The parse store: sentence keys, the JSONL format, misses and corrupt files."""

import subprocess
import sys

import pytest

from treenets.errors import InputError
from treenets.parse.store import ParsedSentence, ParseStore, sentence_key

# "A man is playing a guitar ." as a hand-checked parse: (S (NP A man) (VP is (VP playing (NP a guitar))) .)
# binarized right-factored: node 8 = (A man), 9 = (a guitar), 10 = (playing 9), 11 = (is 10),
# 12 = (11 .), 13 = (8 12).
GUITAR = ParsedSentence(
    text="A man is playing a guitar .",
    tokens=("A", "man", "is", "playing", "a", "guitar", "."),
    heads=(2, 4, 4, 0, 6, 4, 4),
    deprels=("det", "nsubj", "aux", "root", "det", "obj", "punct"),
    cparents=(8, 8, 11, 10, 9, 9, 12, 13, 10, 11, 12, 13, 0),
)


def test_key_ignores_whitespace_differences_only():
    assert sentence_key(" A  man\tis playing ") == sentence_key("A man is playing")
    assert sentence_key("A man is playing") != sentence_key("A man is Playing")


def test_trees_from_a_parsed_sentence():
    dep = GUITAR.dependency_tree()
    assert dep.root == 3 and dep.children[3] == (1, 2, 5, 6)
    const = GUITAR.constituency_tree()
    assert const.is_binary()
    assert [const.tokens[i] for i in const.leaves()] == list(GUITAR.tokens)


def test_round_trip_and_miss(tmp_path):
    store = ParseStore(tmp_path / "parsed")
    store.add(GUITAR)
    store.save()
    again = ParseStore(tmp_path / "parsed")
    assert len(again) == 1 and "A man is  playing a guitar ." in again
    assert again.get("A man is playing a guitar .") == GUITAR
    with pytest.raises(InputError, match="sentence not parsed: 'A dog barks .'"):
        again.get("A dog barks .")


def test_corrupt_line_is_located(tmp_path):
    path = tmp_path / "sentences.jsonl"
    path.write_text(GUITAR.to_json() + "\n" + GUITAR.to_json().replace('"heads": [2,', '"heads": [') + "\n")
    with pytest.raises(InputError) as err:
        ParseStore(tmp_path)
    assert str(err.value).startswith(f"{path}:2: ") and "7 tokens but 6 heads" in str(err.value)
    path.write_text("{not json\n")
    with pytest.raises(InputError, match=":1: not a parsed sentence"):
        ParseStore(tmp_path)


def test_store_does_not_import_stanza():
    code = "import sys, treenets.parse, treenets.parse.store; sys.exit('stanza' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_write_replaces_what_was_there(tmp_path):
    store = ParseStore(tmp_path)
    store.add(GUITAR)
    store.save()
    other = ParsedSentence("Hi", ["Hi"], [0], ["root"], [0])
    ParseStore.write(tmp_path, [other])
    again = ParseStore(tmp_path)
    assert list(again) == [other] and GUITAR.text not in again
    assert other.constituency_tree().is_binary()  # one token: the token is the whole tree
