"""Bootstrap parsers trained here on a few hundred real UD / PTB sentences, then real SICK parses.

One tiny training (the session fixture ``tiny_models`` of conftest.py, ~20-60 s on two shared cores)
serves every test below.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from treenets.cli import main
from treenets.data.readers import read_sick
from treenets.splits import spread
from treenets.errors import InputError
from treenets.parse.models_dir import BOOTSTRAP_MARKER, model_paths
from treenets.parse.stanza_run import SentenceRow, parse_rows
from treenets.parse.store import ParseStore
from treenets.trees import read_treelstm

pytest.importorskip("stanza")


@pytest.fixture(scope="module")
def sick_rows(data_mirror):
    path = data_mirror / "sick" / "semeval2014" / "SICK_trial.txt"
    pairs = read_sick(path)[:40]
    return [SentenceRow(text, f"{path}: pair {pair.id}") for pair in pairs for text in (pair.a, pair.b)]


def test_bootstrap_writes_models_and_metrics(tiny_models):
    folder, metrics = tiny_models
    assert json.loads((folder / BOOTSTRAP_MARKER).read_text()) == metrics
    assert all(path for path in model_paths(folder).values())
    assert not list(folder.glob("*.conllu")) and not (folder.parent / ".tiny.partial").exists()
    assert metrics["sizes"]["ud_train"] == 200 and metrics["sizes"]["ptb_train"] == 200
    for split in ("dev", "test"):
        dep, const = metrics["dependency"][split], metrics["constituency"][split]
        assert 0 <= dep["las"] <= dep["uas"] <= 100 and 0 < dep["upos"] <= 100
        assert 0 <= const["f1"] <= 100
    assert set(metrics["seconds"]) >= {"pretrain", "pos", "depparse", "constituency"}


def test_parse_is_binary_over_the_tokens_and_cached(tiny_models, sick_rows, tmp_path):
    folder, _ = tiny_models
    first = parse_rows(sick_rows, folder, tmp_path / "a", tmp_path / "cache", device="cpu", batch_size=16)
    distinct = len({row.text for row in sick_rows})
    assert (first.sentences, first.parsed, first.from_cache) == (distinct, distinct, 0)
    store = ParseStore(tmp_path / "a")
    assert len(store) == distinct
    for row in sick_rows:
        parsed = store.get(row.text)
        assert list(parsed.tokens) == row.text.split()
        tree = parsed.constituency_tree()
        assert tree.is_binary() and [tree.tokens[leaf] for leaf in tree.leaves()] == list(parsed.tokens)
        assert parsed.dependency_tree().deprels == parsed.deprels

    again = parse_rows(sick_rows, folder, tmp_path / "b", tmp_path / "cache", device="cpu")
    assert (again.parsed, again.from_cache, again.load_seconds) == (0, distinct, 0.0)
    assert (tmp_path / "b" / "sentences.jsonl").read_text() == (tmp_path / "a" / "sentences.jsonl").read_text()


def test_empty_sentence_names_its_row(tiny_models, tmp_path):
    folder, _ = tiny_models
    rows = [SentenceRow("A dog runs", "pairs.tsv: pair 1, sentence A"),
            SentenceRow(" \t ", "pairs.tsv: pair 1, sentence B")]
    with pytest.raises(InputError, match=r"^pairs.tsv: pair 1, sentence B: empty sentence$"):
        parse_rows(rows, folder, tmp_path / "out", tmp_path / "cache")
    assert not (tmp_path / "out").exists()


def test_cli_parse_exports_treelstm_files(tiny_models, data_mirror, tmp_path, capsys):
    folder, _ = tiny_models
    sick = data_mirror / "sick" / "semeval2014"
    config = {
        "task": "relatedness",
        "data": {"dataset": "sick", "parse_store": str(tmp_path / "parsed" / "sick"),
                 "files": {"train": str(sick / "SICK_train.txt"), "dev": str(sick / "SICK_trial.txt"),
                           "test": str(sick / "SICK_test_annotated.txt")},
                 "limit": {"train": 12, "dev": 6, "test": 6}},
        "model": {"name": "childsum_treelstm"},
    }
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    assert main(["parse", "--config", str(tmp_path / "run.yaml"), "--models", str(folder), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "sentences/s" in out and (tmp_path / "parsed" / "cache").is_dir()
    # 24 pairs of SICK, pretokenized: a few capitalised first words and no punctuation miss GloVe 6B
    stats = re.search(r"(\d+) tokens, ([\d.]+) per sentence; in the word vectors glove-6b-50d: ([\d.]+)% as "
                      r"written, ([\d.]+)% lowercased", out)
    store = ParseStore(tmp_path / "parsed" / "sick")
    tokens = [token for parsed in store for token in parsed.tokens]
    assert int(stats[1]) == len(tokens) and float(stats[2]) == pytest.approx(len(tokens) / len(store), abs=0.05)
    assert float(stats[3]) < float(stats[4]) and float(stats[4]) > 95
    record = json.loads((tmp_path / "parsed" / "sick" / "parser.json").read_text())
    assert record["models"] == str(folder.resolve()) and record["tokenize"] == "pretokenized"

    store = ParseStore(tmp_path / "parsed" / "sick")
    train = tmp_path / "parsed" / "sick" / "treelstm" / "train"
    pairs = read_sick(sick / "SICK_train.txt")
    chosen = [pairs[i] for i in spread(len(pairs), 12)]  # the slice training reads
    assert (train / "id.txt").read_text().split() == [pair.id for pair in chosen]
    for column in ("a", "b"):
        dependency = read_treelstm(train / f"{column}.toks", train / f"{column}.parents")
        constituency = read_treelstm(train / f"{column}.toks", train / f"{column}.cparents", constituency=True)
        for pair, dep, const in zip(chosen, dependency, constituency):
            parsed = store.get(getattr(pair, column))
            assert dep.to_parents() == list(parsed.heads) and const.to_parents() == list(parsed.cparents)
            assert const.is_binary()
        assert len((train / f"{column}.rels").read_text().splitlines()) == 12


def test_sst_words_with_a_no_break_space_parse_as_sst_tokenised_them(tiny_models, data_mirror, tmp_path):
    from treenets.data.readers import read_sst
    from treenets.datasets import dependency_with_sst_labels

    folder, _ = tiny_models
    path = data_mirror / "sst" / "train.txt"
    trees = read_sst(path, lines=[1, 4342])  # line 4342 has the token '8\xa01/2'
    assert any("\xa0" in word for word in trees[1].words)
    rows = [SentenceRow(" ".join(tree.words), f"{path}:{line}") for line, tree in zip((1, 4342), trees)]
    parse_rows(rows, folder, tmp_path / "sst", tmp_path / "cache", device="cpu")
    store = ParseStore(tmp_path / "sst")
    for tree in trees:
        labelled = dependency_with_sst_labels(tree, store)  # what training reads: SST labels on dependency nodes
        assert labelled.tokens == tree.words and labelled.labels[labelled.root] == tree.labels[tree.root]


def test_raw_text_with_bootstrap_models_is_split_by_the_ptb_tokenizer(tiny_models, tmp_path):
    from treenets.parse.stanza_run import parser_fingerprint
    from treenets.parse.tokenize import ptb_tokens

    folder, _ = tiny_models
    texts = ['He said "no comment" and left.', "A man isn't playing the flute, it's a whistle (a small one)."]
    rows = [SentenceRow(text, f"raw.tsv:{number}") for number, text in enumerate(texts, 1)]
    stats = parse_rows(rows, folder, tmp_path / "raw", tmp_path / "cache", pretokenized=False, device="cpu")
    assert stats.parsed == 2
    store = ParseStore(tmp_path / "raw")
    assert list(store.get(texts[0]).tokens) == ["He", "said", "``", "no", "comment", "''", "and", "left", "."]
    for text in texts:
        parsed = store.get(text)
        assert list(parsed.tokens) == ptb_tokens(text) and parsed.constituency_tree().is_binary()
    assert parser_fingerprint(folder, pretokenized=False) != parser_fingerprint(folder, pretokenized=True)


def test_predict_with_an_sst_tree_model(tiny_models, data_mirror, tmp_path, capsys):
    """SST trees as input give the run's own test predictions; plain sentences need a parser (--models)
    and get a class and five probabilities each."""
    import pandas as pd

    from treenets.data.readers import read_sst

    folder, _ = tiny_models
    files = {split: str(data_mirror / "sst" / f"{split}.txt") for split in ("train", "dev", "test")}
    config = {"task": "sentiment", "data": {"dataset": "sst", "files": files,
                                            "limit": {"train": 30, "dev": 10, "test": 12}},
              "model": {"name": "nary_treelstm", "hidden": 6}, "embeddings": {"source": "random:8"},
              "training": {"epochs": 1, "device": "cpu"}}
    (tmp_path / "sst.yaml").write_text(yaml.safe_dump(config))
    run_dir = str(tmp_path / "run")
    assert main(["train", "--config", str(tmp_path / "sst.yaml"), "--run-dir", run_dir]) == 0
    assert main(["evaluate", "--run-dir", run_dir]) == 0
    expected = pd.read_csv(tmp_path / "run" / "predictions.tsv", sep="\t", dtype={"id": str})
    lines = [int(i) for i in expected["id"]]
    trees = read_sst(files["test"], lines=lines)
    (tmp_path / "trees.txt").write_text("".join(tree.to_ptb() + "\n" for tree in trees))
    assert main(["predict", "--run-dir", run_dir, "--input", str(tmp_path / "trees.txt")]) == 0
    predicted = pd.read_csv(tmp_path / "trees.predictions.tsv", sep="\t")
    assert predicted["predicted"].tolist() == expected["predicted"].tolist()
    assert predicted["gold"].tolist() == expected["gold"].tolist()

    (tmp_path / "plain.txt").write_text("".join(" ".join(tree.words) + "\n" for tree in trees))
    capsys.readouterr()
    assert main(["predict", "--run-dir", run_dir, "--input", str(tmp_path / "plain.txt")]) == 1
    assert "pass --models" in capsys.readouterr().err
    assert main(["predict", "--run-dir", run_dir, "--input", str(tmp_path / "plain.txt"), "--models", str(folder),
                 "--device", "cpu"]) == 0
    plain = pd.read_csv(tmp_path / "plain.predictions.tsv", sep="\t")
    assert len(plain) == len(trees) and "gold" not in plain
    probabilities = plain[[f"p_{label}" for label in range(5)]].to_numpy()
    assert probabilities.sum(axis=1) == pytest.approx(1, abs=1e-5)
    assert plain["predicted"].tolist() == probabilities.argmax(axis=1).tolist()


def test_sst_is_parsed_as_tokenized_even_when_raw_text_is_asked_for(tiny_models, data_mirror, tmp_path):
    from treenets.data.readers import read_sst

    folder, _ = tiny_models
    files = {split: str(data_mirror / "sst" / f"{split}.txt") for split in ("train", "dev", "test")}
    config = {"task": "sentiment", "model": {"name": "childsum_treelstm"},
              "data": {"dataset": "sst", "files": files, "tree": "dependency", "parse_store": str(tmp_path / "sst"),
                       "limit": {"train": 3, "dev": 2, "test": 2}}}
    (tmp_path / "sst.yaml").write_text(yaml.safe_dump(config))
    assert main(["parse", "--config", str(tmp_path / "sst.yaml"), "--models", str(folder), "--tokenize", "raw",
                 "--device", "cpu"]) == 0
    assert json.loads((tmp_path / "sst" / "parser.json").read_text())["tokenize"] == "pretokenized"
    store = ParseStore(tmp_path / "sst")
    words = [tree.words for tree in read_sst(files["train"], lines=[index + 1 for index in spread(8544, 3)])]
    assert "''" in words[0]  # which the PTB tokenizer, given the words as raw text, would turn into ``
    assert [tuple(store.get(" ".join(sentence)).tokens) for sentence in words] == words
