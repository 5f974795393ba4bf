"""`treenets train`, `evaluate` and `significance`: exit codes, outputs, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from treenets.cli import main
from treenets.data.readers import read_sick


@pytest.fixture
def sick_config(tmp_path, data_mirror, tmp_path_factory):
    folder = data_mirror / "sick" / "semeval2014"
    config = {
        "task": "relatedness",
        "data": {"dataset": "sick",
                 "files": {"train": str(folder / "SICK_train.txt"), "dev": str(folder / "SICK_trial.txt"),
                           "test": str(folder / "SICK_test_annotated.txt")},
                 "limit": {"train": 200, "dev": 60, "test": 60}},
        "model": {"name": "gru", "hidden": 8, "head_hidden": 8},
        "embeddings": {"frozen": True, "cache_dir": str(tmp_path_factory.mktemp("embeddings"))},
        "training": {"epochs": 2, "device": "cpu"},
    }
    path = tmp_path / "sick.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_train_evaluate_significance(sick_config, tmp_path, capsys):
    code, out, _ = run(capsys, "train", "--config", str(sick_config), "--run-dir", str(tmp_path / "a"),
                       "--set", "training.epochs=1")
    assert code == 0 and json.loads(out)["epochs_run"] == 1
    assert (tmp_path / "a" / "training.json").exists()
    code, out, _ = run(capsys, "train", "--config", str(sick_config), "--run-dir", str(tmp_path / "b"),
                       "--set", "model.name=lstm")
    assert code == 0 and json.loads(out)["epochs_run"] == 2

    for name in ("a", "b"):
        code, out, _ = run(capsys, "evaluate", "--run-dir", str(tmp_path / name), "--split", "test")
        assert code == 0 and json.loads(out)["examples"] == 60
        assert json.loads((tmp_path / name / "metrics.json").read_text()) == json.loads(out)
    code, out, _ = run(capsys, "evaluate", "--run-dir", str(tmp_path / "a"), "--split", "dev")
    assert code == 0 and all((tmp_path / "a" / name).exists() for name in ("metrics-dev.json", "predictions-dev.tsv"))

    code, out, _ = run(capsys, "significance", str(tmp_path / "a" / "predictions.tsv"),
                       str(tmp_path / "b" / "predictions.tsv"), "--resamples", "300")
    report = json.loads(out)
    assert code == 0 and report["bootstrap"]["metric"] == "pearson" and report["bootstrap"]["n"] == 60
    assert 0 <= report["bootstrap"]["p_value"] <= 1 and 0 <= report["williams"]["p_value"] <= 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--config", "{config}", "--run-dir", "{tmp}/r", "--set", "model.hiden=3"],
         "sick.yaml: model.hiden: unknown key"),
        (["train", "--config", "{tmp}/absent.yaml", "--run-dir", "{tmp}/r"], "absent.yaml: cannot read config"),
        (["train", "--config", "{config}", "--run-dir", "{tmp}/r", "--set", "epochs"], "expected key.path=value"),
        (["evaluate", "--run-dir", "{tmp}"], "not a complete training run"),
        (["significance", "{tmp}/a.tsv", "{tmp}/b.tsv"], "a.tsv: cannot read predictions"),
    ],
)
def test_errors_are_one_line_and_exit_1(argv, message, sick_config, tmp_path, capsys):
    argv = [a.format(config=sick_config, tmp=tmp_path) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.startswith("treenets: error: ") and message in err and err.count("\n") == 1


def test_the_console_script_exits_nonzero_without_a_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "treenets.cli", "evaluate", "--run-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("treenets: error: ")


GOOD_SST = "(3 (2 The) (4 (2 film) (4 rocks)))"


@pytest.mark.parametrize("tree, problem", [
    ("(3 (2 The) (7 (2 film) (4 rocks)))", "label 7 of the phrase 'film rocks' is outside 0-4"),
    ("(3 (2 The) (-1 film))", "label -1 of the word 'film' is outside 0-4"),
    ("(3 (2 The) (2 film) (4 rocks))", "the phrase 'The film rocks' has 3 children; SST phrases have exactly 2"),
    ("(3 (2 The) (4 (4 rocks)))", "the phrase 'rocks' has 1 child; SST phrases have exactly 2"),
    ("(3 (2 The) (4 (2 film) (4)))", "a leaf without a word: (4)"),
    ("(3 (2 The) (4 (2 film) (4 rocks))", "malformed brackets (unbalanced or truncated?): expected ')'"),
    ("(3 (2 The) (4 (2 film) (4 rocks))))", "malformed brackets (unbalanced or truncated?): expected 'end-of-string'"),
])
def test_a_malformed_sst_tree_is_one_error_line_before_any_model(tmp_path, capsys, tree, problem):
    files = {split: tmp_path / f"{split}.txt" for split in ("train", "dev", "test")}
    for split, path in files.items():
        path.write_text(f"{GOOD_SST}\n{tree if split == 'train' else GOOD_SST}\n")
    config = tmp_path / "sst.yaml"
    config.write_text(yaml.safe_dump({
        "task": "sentiment", "data": {"dataset": "sst", "files": {k: str(v) for k, v in files.items()}},
        "model": {"name": "lstm", "hidden": 4}, "training": {"epochs": 1, "device": "cpu"},
    }))
    code, out, err = run(capsys, "train", "--config", str(config), "--run-dir", str(tmp_path / "run"))
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"treenets: error: {files['train']}:2: {problem}")
    assert not (tmp_path / "run").exists()  # read before the run directory (or a model) exists


def pairs_config(tmp_path, rows: dict[str, list[str]], **data) -> str:
    """A pairs dataset with the given rows per split ("A<TAB>B<TAB>score"), an LSTM over it."""
    files = {}
    for split in ("train", "dev", "test"):
        files[split] = str(tmp_path / f"{split}.tsv")
        Path(files[split]).write_text("".join(f"{row}\n" for row in ["a\tb\tscore", *rows[split]]))
    spec = {"files": files, "sentence_a": "a", "sentence_b": "b", "score": "score", "score_range": [1, 5]}
    config = tmp_path / "pairs.yaml"
    config.write_text(yaml.safe_dump({
        "task": "relatedness", "data": {"dataset": "pairs", "pairs": spec, **data},
        "model": {"name": "lstm", "hidden": 4, "head_hidden": 4},
        "embeddings": {"source": "random:8"}, "training": {"epochs": 1, "device": "cpu"},
    }))
    return str(config)


ROWS = ["A dog runs\tA dog is running\t4.5", "A man cooks\tA cat sleeps\t1.2"]


@pytest.mark.parametrize("rows, problem", [
    ({"train": [], "dev": ROWS, "test": ROWS}, "train.tsv: the train split has no examples"),
    ({"train": ROWS, "dev": ["A\tB\t3", "C\tD\t3"], "test": ROWS},
     "dev.tsv: every pair of the dev split has the score 3, so Pearson's r (which picks the best epoch) is undefined"),
    ({"train": [*ROWS, "A dog\tA cat\t6"], "dev": ROWS, "test": ROWS}, "train.tsv:4: score 6 is outside [1, 5]"),
])
def test_pair_files_that_parse_but_cannot_train_are_one_error_line(tmp_path, capsys, rows, problem):
    code, out, err = run(capsys, "train", "--config", pairs_config(tmp_path, rows), "--run-dir", str(tmp_path / "run"))
    assert code == 1 and out == "" and err.splitlines() == [f"treenets: error: {tmp_path}/{problem}"]
    assert not (tmp_path / "run").exists()


def test_a_two_class_sst_split_without_polar_sentences_is_an_error(tmp_path, capsys):
    files = {split: tmp_path / f"{split}.txt" for split in ("train", "dev", "test")}
    for split, path in files.items():
        path.write_text(f"{GOOD_SST}\n" if split != "dev" else "(2 (2 The) (2 film))\n")
    config = tmp_path / "sst.yaml"
    config.write_text(yaml.safe_dump({
        "task": "sentiment", "sentiment": {"classes": 2},
        "data": {"dataset": "sst", "files": {k: str(v) for k, v in files.items()}},
        "model": {"name": "lstm", "hidden": 4}, "training": {"epochs": 1, "device": "cpu"},
    }))
    code, _, err = run(capsys, "train", "--config", str(config), "--run-dir", str(tmp_path / "run"))
    assert code == 1 and err.splitlines() == [
        f"treenets: error: {files['dev']}: the dev split has no examples after leaving out the neutral sentences "
        "(sentiment.classes: 2)"]


def test_predict_reproduces_the_runs_test_predictions(sick_config, data_mirror, tmp_path, capsys):
    """A whitespace-token GRU on SICK: the test file itself (the run's format) and the same pairs as
    a plain two-column TSV give the predictions `treenets evaluate` wrote."""
    run_dir = tmp_path / "run"
    assert main(["train", "--config", str(sick_config), "--run-dir", str(run_dir), "--set", "training.epochs=1"]) == 0
    assert main(["evaluate", "--run-dir", str(run_dir)]) == 0
    capsys.readouterr()
    expected = pd.read_csv(run_dir / "predictions.tsv", sep="\t", dtype={"id": str}).set_index("id")

    code, out, err = run(capsys, "predict", "--run-dir", str(run_dir), "--input",
                         str(data_mirror / "sick" / "semeval2014" / "SICK_test_annotated.txt"),
                         "--output", str(tmp_path / "all.tsv"))
    assert code == 0 and json.loads(out)["format"] == "dataset" and json.loads(out)["examples"] == 4927
    predicted = pd.read_csv(tmp_path / "all.tsv", sep="\t", dtype={"id": str}).set_index("id").loc[expected.index]
    assert predicted["gold"].tolist() == pytest.approx(expected["gold"].tolist())
    assert predicted["predicted"].tolist() == pytest.approx(expected["predicted"].tolist(), abs=1e-5)
    assert "tokens are not in the run's vocabulary" in err  # it has the words of the 320 pairs training loaded

    pairs = {pair.id: pair for pair in read_sick(data_mirror / "sick" / "semeval2014" / "SICK_test_annotated.txt")}
    plain = tmp_path / "plain.tsv"
    plain.write_text("".join(f"{pairs[i].a}\t{pairs[i].b}\n" for i in expected.index))
    code, out, _ = run(capsys, "predict", "--run-dir", str(run_dir), "--input", str(plain))
    summary = json.loads(out)
    assert code == 0 and summary["format"] == "plain" and summary["output"] == str(tmp_path / "plain.predictions.tsv")
    table = pd.read_csv(tmp_path / "plain.predictions.tsv", sep="\t")
    assert "gold" not in table and table["sentence_a"][0] == pairs[expected.index[0]].a
    assert table["predicted"].tolist() == pytest.approx(expected["predicted"].tolist(), abs=1e-5)
    assert summary["unknown_tokens"] == 0 and summary["tokens"] == sum(
        len(pairs[i].a.split()) + len(pairs[i].b.split()) for i in expected.index)

    plain.write_text("only one sentence\n")
    code, _, err = run(capsys, "predict", "--run-dir", str(run_dir), "--input", str(plain))
    assert code == 1 and err.strip() == f"treenets: error: {plain}:1: expected two tab-separated sentences, got 1 field(s)"


def test_require_clean_tree_refuses_uncommitted_changes(sick_config, tmp_path):
    """A copy of the package in a git repository of its own: committed, then changed."""
    import os
    import shutil

    from conftest import REPO

    repo = tmp_path / "checkout"
    shutil.copytree(REPO / "src" / "treenets", repo / "src" / "treenets", ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "snapshot"]):
        subprocess.run(git + command, check=True, capture_output=True)
    head = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}

    def train(run_dir, *flags):
        return subprocess.run([sys.executable, "-m", "treenets.cli", "train", "--config", str(sick_config),
                               "--run-dir", str(tmp_path / run_dir), "--set", "training.epochs=1",
                               "--set", "data.limit.train=40", *flags],
                              capture_output=True, text=True, timeout=300, env=env)

    def recorded(run_dir):
        versions = json.loads((tmp_path / run_dir / "versions.json").read_text())
        return versions["git_commit"], versions["require_clean_tree"]

    assert train("clean", "--require-clean-tree").returncode == 0
    assert recorded("clean") == (head, True)
    with (repo / "src" / "treenets" / "files.py").open("a") as handle:
        handle.write("# an uncommitted change\n")
    refused = train("dirty", "--require-clean-tree")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"has uncommitted changes ({head}+dirty)" in refused.stderr and refused.stderr.count("\n") == 1
    assert not (tmp_path / "dirty").exists()  # refused before anything was written
    assert train("allowed").returncode == 0
    assert recorded("allowed") == (f"{head}+dirty", False)
