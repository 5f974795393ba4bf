"""Config -> examples: SST trees and phrases, SICK / generic pairs, parse stores, slices."""

from __future__ import annotations

import pytest

from treenets.config import load_config
from treenets.datasets import dependency_with_sst_labels, phrase_examples, spans
from treenets.tasks import load_dataset
from treenets.errors import InputError
from treenets.parse.store import ParsedSentence, ParseStore
from treenets.trees import Tree

SENTENCE = "(3 (2 The) (4 (3 (2 film) (4 rocks)) (2 .)))"  # tokens The film rocks .


def sst_config(data_mirror, model="lstm", **sections):
    files = {split: str(data_mirror / "sst" / f"{split}.txt") for split in ("train", "dev", "test")}
    data = {"dataset": "sst", "files": files, **sections.pop("data", {})}
    return load_config({"task": "sentiment", "data": data, "model": {"name": model}, **sections})


def test_spans_of_constituency_and_dependency_trees():
    tree = Tree.from_ptb(SENTENCE)
    assert [spans(tree)[n] for n in range(4)] == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert spans(tree)[tree.root] == (0, 3)
    assert sorted(s for s in spans(tree) if s[0] != s[1]) == [(0, 3), (1, 2), (1, 3)]
    # "rocks" heads "film" and "."; "film" heads "The": the subtree of "rocks" spans everything
    dependency = Tree.from_parents(["The", "film", "rocks", "."], [2, 3, 0, 3])
    assert spans(dependency) == [(0, 0), (0, 1), (0, 3), (3, 3)]
    crossing = Tree.from_parents(["a", "b", "c"], [3, 0, 2])  # node a hangs below c: {a, c} is not contiguous
    assert spans(crossing)[2] is None


def test_phrase_examples_cover_every_labelled_node():
    tree = Tree.from_ptb(SENTENCE)
    phrases = {example.id: (example.inputs[0], example.target) for example in phrase_examples("7", tree)}
    assert len(phrases) == tree.num_nodes
    assert phrases["7"] == (("The", "film", "rocks", "."), 3)  # the root keeps the sentence's id
    assert (("film", "rocks"), 3) in phrases.values() and (("rocks",), 4) in phrases.values()


def test_dependency_nodes_take_the_label_of_the_sst_phrase_with_their_span(tmp_path):
    sst = Tree.from_ptb(SENTENCE)
    store = ParseStore(tmp_path)
    store.add(ParsedSentence("The film rocks .", ["The", "film", "rocks", "."], [2, 3, 0, 3],
                             ["det", "nsubj", "root", "punct"], [7, 5, 5, 6, 6, 7, 0]))
    labelled = dependency_with_sst_labels(sst, store)
    # The: (0,0) -> 2; film+The: (0,1) is no SST phrase -> -1; rocks: whole sentence -> 3; "." -> 2
    assert labelled.labels == (2, -1, 3, 2)
    other = ParseStore(tmp_path / "other")
    other.add(ParsedSentence("The film rocks .", ["The", "film", "rocks."], [2, 3, 0], ["det", "nsubj", "root"],
                             [4, 4, 5, 5, 0]))
    with pytest.raises(InputError, match="tokenised this sentence differently"):
        dependency_with_sst_labels(sst, other)


def test_sst_trees_for_a_tree_model(data_mirror):
    config = sst_config(data_mirror, model="nary_treelstm", data={"limit": {"train": 30, "dev": 11}})
    dataset = load_dataset(config, ["train", "dev"])
    assert [len(dataset.splits[s]) for s in ("train", "dev")] == [30, 11]
    dev = dataset.splits["dev"]
    # evenly spaced over the file (ids are line numbers): SST holds its positive sentences first
    assert [example.id for example in dev] == [str(1 + 110 * k) for k in range(11)]  # 1101 lines, every 110th
    assert dev[0].inputs[0].tokens[:3] == ("It", "'s", "a")
    assert dev[0].target == dev[0].inputs[0].labels and dev[0].target[dev[0].inputs[0].root] == 3
    roots = {example.target[example.inputs[0].root] for example in dataset.splits["train"]}
    assert roots == {0, 1, 2, 3, 4}
    assert dataset.num_classes == 5 and dataset.phrases == {}


def test_sst_sequences_phrases_and_binary(data_mirror):
    config = sst_config(data_mirror, data={"limit": {"train": 20, "dev": 12}}, sentiment={"train_on_phrases": True})
    dataset = load_dataset(config, ["train", "dev"])
    roots = [example for example in dataset.splits["train"] if "." not in example.id]
    assert len(roots) == 20 and len(dataset.splits["train"]) > 20 * 10  # every phrase of every tree
    assert {len(example.inputs[0]) for example in dataset.splits["train"]} >= {1}
    assert len(dataset.splits["dev"]) == 12  # phrases are extra training examples only
    assert len(dataset.phrases["dev"]) > 12 * 10
    binary = load_dataset(sst_config(data_mirror, data={"limit": {"dev": 12}}, sentiment={"classes": 2}), ["dev"])
    neutral = {example.id for example in dataset.splits["dev"] if example.target == 2}
    assert neutral and {e.id for e in binary.splits["dev"]} == {e.id for e in dataset.splits["dev"]} - neutral
    assert all(phrase.target != 2 for phrase in binary.phrases["dev"])


def test_sick_with_whitespace_tokens(data_mirror):
    files = {s: str(data_mirror / "sick" / "semeval2014" / f"SICK_{n}.txt")
             for s, n in (("train", "train"), ("dev", "trial"), ("test", "test_annotated"))}
    config = load_config({"task": "relatedness", "data": {"dataset": "sick", "files": files, "limit": {"test": 5}},
                          "model": {"name": "lstm"}})
    dataset = load_dataset(config)
    assert [len(dataset.splits[s]) for s in ("train", "dev", "test")] == [4500, 500, 5]
    assert (dataset.splits["test"][0].id, dataset.splits["test"][-1].id) == ("6", "9996")  # first and last rows
    example = dataset.splits["train"][0]
    assert example.id == "1" and isinstance(example.target, float) and 1 <= example.target <= 5
    assert example.inputs[0][:3] == ("A", "group", "of")
    assert dataset.score_range == (1, 5) and len(dataset.files) == 3


def test_generic_pairs_from_config(fixtures_dir):
    spec = {"files": {s: str(fixtures_dir / "sts_pairs.tsv") for s in ("train", "dev", "test")},
            "sentence_a": "sentence1", "sentence_b": "sentence2", "score": "score", "id": "sid",
            "score_range": [0, 5]}
    config = load_config({"task": "relatedness", "data": {"dataset": "pairs", "pairs": spec},
                          "model": {"name": "gru"}})
    dataset = load_dataset(config, ["dev"])
    assert dataset.score_range == (0, 5)
    assert dataset.splits["dev"][0].id == "0001" and dataset.splits["dev"][0].target == 5.0
    with pytest.raises(InputError, match="score_range: must be integers"):
        load_config({"task": "relatedness", "model": {"name": "gru"},
                     "data": {"dataset": "pairs", "pairs": {**spec, "score_range": [0, 0.5]}}})


def test_tree_models_on_pairs_read_the_parse_store(tmp_path, fixtures_dir):
    sick = tmp_path / "pairs.tsv"
    sick.write_text("pair_ID\tsentence_A\tsentence_B\trelatedness_score\n"
                    "1\tA dog runs\tA cat sleeps\t2.5\n", encoding="utf-8")
    store = ParseStore(tmp_path / "parsed")
    for text in ("A dog runs", "A cat sleeps"):
        store.add(ParsedSentence(text, text.split(), [2, 3, 0], ["det", "nsubj", "root"], [4, 4, 5, 5, 0]))
    store.save()
    data = {"dataset": "sick", "files": {s: str(sick) for s in ("train", "dev", "test")},
            "parse_store": str(tmp_path / "parsed")}
    childsum = load_config({"task": "relatedness", "data": data, "model": {"name": "childsum_treelstm"}})
    left, right = load_dataset(childsum, ["dev"]).splits["dev"][0].inputs
    assert left.num_nodes == 3 and left.tokens == ("A", "dog", "runs") and right.tokens[1] == "cat"
    nary = load_config({"task": "relatedness", "data": data, "model": {"name": "nary_treelstm"}})
    assert load_dataset(nary, ["dev"]).splits["dev"][0].inputs[0].num_nodes == 5
    store.path.write_text("")  # a sentence that was never parsed
    with pytest.raises(InputError, match="sentence not parsed: 'A dog runs'"):
        load_dataset(childsum, ["dev"])


def test_missing_files_are_named(tmp_path, data_mirror):
    config = sst_config(data_mirror, data={"files": {"train": str(tmp_path / "nope.txt")}})
    with pytest.raises(InputError, match="nope.txt: data.files.train: no such file"):
        load_dataset(config, ["train"])
