"""Result tables and plots from hand-made run directories, with the numbers checked by hand."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from treenets import report
from treenets.anchors import ANCHORS, published
from treenets.cli import main
from treenets.errors import InputError
from treenets.tasks import TASKS
from treenets.evaluate import output_path, relatedness_table, sentiment_table, write_table


def make_run(run_dir: Path, test_metrics: dict, dev_curve: list[dict], predictions: pd.DataFrame) -> Path:
    """A run directory as treenets train + evaluate leave it."""
    run_dir.mkdir(parents=True)
    output_path(run_dir, "metrics", "test", ".json").write_text(json.dumps(test_metrics))
    (run_dir / report.EPOCHS_FILE).write_text("".join(
        json.dumps({"epoch": epoch, "train_loss": 1.0 / epoch, "dev": dev, "seconds": 1.0}) + "\n"
        for epoch, dev in enumerate(dev_curve, 1)))
    write_table(predictions, output_path(run_dir, "predictions", "test", ".tsv"))
    return run_dir


@pytest.fixture
def sick_runs(tmp_path):
    """treelstm (1 seed) predicts gold with small noise; lstm (2 seeds) with large noise."""
    rng = np.random.default_rng(0)
    gold = rng.uniform(1, 5, size=200)
    ids = [f"pair{i}" for i in range(200)]

    def predictions(noise):
        return relatedness_table(ids, gold, gold + rng.normal(0, noise, size=200))

    runs = [
        ("lstm", make_run(tmp_path / "lstm" / "seed1", {"pearson": 0.80, "spearman": 0.70, "mse": 0.30},
                          [{"pearson": 0.7}, {"pearson": 0.75}], predictions(1.5))),
        ("lstm", make_run(tmp_path / "lstm" / "seed2", {"pearson": 0.84, "spearman": 0.74, "mse": 0.26},
                          [{"pearson": 0.72}, {"pearson": 0.79}], predictions(1.5))),
        ("treelstm", make_run(tmp_path / "treelstm" / "seed1", {"pearson": 0.86, "spearman": 0.80, "mse": 0.25},
                              [{"pearson": 0.8}, {"pearson": 0.85}], predictions(0.3))),
    ]
    return runs


PAPERS = {"lstm": "tai2015/sick/lstm", "treelstm": "tai2015/sick/dependency_treelstm"}


def test_sick_table_numbers_by_hand(sick_runs, tmp_path):
    paths = report.write_report("relatedness", "sick", sick_runs, tmp_path / "out", PAPERS, n_resamples=2000)
    table = pd.read_csv(paths["table_csv"])
    lstm, tree = table.set_index("model").loc["lstm"], table.set_index("model").loc["treelstm"]
    assert list(table["model"]) == ["lstm", "treelstm"]
    assert lstm["n_seeds"] == 2 and tree["n_seeds"] == 1
    assert lstm["pearson_mean"] == pytest.approx(0.82)
    assert lstm["pearson_std"] == pytest.approx(math.sqrt(2 * 0.02**2))  # sample std of 0.80, 0.84
    assert lstm["mse_mean"] == pytest.approx(0.28)
    assert math.isnan(tree["pearson_std"])  # one seed: no std
    assert lstm["paper_pearson"] == pytest.approx(0.8528)
    assert lstm["delta_pearson"] == pytest.approx(0.82 - 0.8528)
    assert tree["delta_mse"] == pytest.approx(0.25 - 0.2532)
    # treelstm is best; lstm's noise is 5x larger over 200 pairs, so far below it.
    assert math.isnan(tree["p_vs_best"])
    assert lstm["p_vs_best"] < 0.01 and bool(lstm["significant_vs_best"])

    markdown = paths["table_md"].read_text()
    assert "| lstm " in markdown and "**treelstm**" in markdown
    assert "0.8200 (0.0283) †" in markdown  # mean (std) as in the papers, marked significantly below the best
    assert "| 0.8600 " in markdown and "0.8528" in markdown and "-0.0328" in markdown
    assert "Tai et al. (2015)" in markdown
    latex = paths["table_tex"].read_text()
    assert r"0.8200 (0.0283)$^\dagger$" in latex and r"\bfseries treelstm" in latex and r"\toprule" in latex
    assert r"Spearman's $\rho$" in latex


def test_runs_table_has_every_seed_with_its_time(sick_runs, tmp_path):
    tree_dir = sick_runs[2][1]  # its epochs: 100 sentences/s for 1 s, then 300/s for 3 s; best dev epoch 1
    (tree_dir / report.EPOCHS_FILE).write_text(
        '{"epoch": 1, "train_loss": 1.0, "dev": {"pearson": 0.85}, "seconds": 1.0, "sentences_per_s": 100}\n'
        '{"epoch": 2, "train_loss": 0.5, "dev": {"pearson": 0.80}, "seconds": 3.0, "sentences_per_s": 300}\n')
    paths = report.write_report("relatedness", "sick", sick_runs, tmp_path / "out", PAPERS, n_resamples=200)
    runs = pd.read_csv(paths["runs_csv"])
    assert list(runs["model"]) == ["lstm", "lstm", "treelstm"]
    assert list(runs["run_dir"]) == [str(run_dir) for _, run_dir in sick_runs]
    assert list(runs["epochs"]) == [2, 2, 2] and list(runs["best_epoch"]) == [2, 2, 1]
    assert list(runs["train_seconds"]) == [2.0, 2.0, 4.0]
    assert runs["sentences_per_s"][:2].isna().all()  # these epochs recorded no throughput
    assert runs["sentences_per_s"][2] == 250.0  # (100 + 900) sentences in 4 s
    assert list(runs["pearson"]) == [0.80, 0.84, 0.86]
    assert re.search(r"^\| treelstm +\| .*seed1 +\| +2 \| +1 \| +4 \| +250 \| +0\.8600 \|$",
                     paths["runs_md"].read_text(), flags=re.MULTILINE)


def test_caption_names_the_runs_vectors_and_epoch_budgets(sick_runs, tmp_path):
    for (model, run_dir), epochs in zip(sick_runs, (10, 10, 5)):
        (run_dir / report.CONFIG_FILE).write_text(
            "embeddings: {source: glove-6b-50d, frozen: true}\n"
            f"training: {{epochs: {epochs}, seed: 1}}\nmodel: {{name: {model}}}\n")
    paths = report.write_report("relatedness", "sick", sick_runs, tmp_path / "out", PAPERS, n_resamples=200)
    expected = "Runs: word vectors glove-6b-50d, frozen; at most 10 epochs (lstm), at most 5 epochs (treelstm)."
    assert paths["table_md"].read_text().rstrip().endswith(expected)
    assert "at most 5 epochs (treelstm)." in paths["table_tex"].read_text()
    (sick_runs[0][1] / report.CONFIG_FILE).write_text("training: {epochs: 10}\n")
    with pytest.raises(InputError, match=r"config.resolved.yaml: expected a run config with embeddings.source"):
        report.write_report("relatedness", "sick", sick_runs, tmp_path / "out", PAPERS, n_resamples=200)


def test_plots_are_pngs(sick_runs, tmp_path):
    paths = report.write_report("relatedness", "sick", sick_runs, tmp_path / "out", n_resamples=200)
    for key in ("learning_curves", "predictions", "bars"):
        image = imread(paths[key])
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300, key
    assert paths == report.output_paths(tmp_path / "out", "sick")


def test_sst_table_in_percent_with_socher_numbers(tmp_path):
    rng = np.random.default_rng(1)
    gold = rng.integers(0, 5, size=300)
    one_hot = np.eye(5)

    def predictions(accuracy):
        right = rng.random(300) < accuracy
        predicted = np.where(right, gold, (gold + rng.integers(1, 5, size=300)) % 5)
        return sentiment_table([f"s{i}" for i in range(300)], gold, one_hot[predicted])

    metrics = {"fine_root": 0.457, "binary_root": 0.85, "fine_all": 0.80, "binary_all": 0.87}
    runs = [
        ("rntn", make_run(tmp_path / "rntn", metrics, [{"fine_root": 0.4}], predictions(0.45))),
        ("lstm", make_run(tmp_path / "lstm1", {**metrics, "fine_root": 0.46}, [{"fine_root": 0.41}], predictions(0.47))),
        ("lstm", make_run(tmp_path / "lstm2", {**metrics, "fine_root": 0.48}, [{"fine_root": 0.42}], predictions(0.47))),
    ]
    paths = report.write_report("sentiment", "sst", runs, tmp_path / "out", {"rntn": "socher2013/sst/rntn"},
                                n_resamples=500)
    table = pd.read_csv(paths["table_csv"]).set_index("model")
    assert table.at["rntn", "fine_root_mean"] == pytest.approx(45.7)
    assert table.at["rntn", "delta_fine_all"] == pytest.approx(80.0 - 80.7)
    assert table.at["lstm", "fine_root_mean"] == pytest.approx(47.0)
    assert table.at["lstm", "fine_root_std"] == pytest.approx(math.sqrt(2) , abs=1e-9)  # 46 and 48
    assert math.isnan(table.at["lstm", "paper_fine_root"])
    # Two models of about the same accuracy on 300 sentences: no significant difference.
    assert not bool(table.at["rntn", "significant_vs_best"])
    markdown = paths["table_md"].read_text()
    assert "47.0 (1.4)" in markdown and "| 45.7 " in markdown and "accuracy in percent" in markdown
    assert "†" not in markdown.split("\n\n")[0]  # nothing marked in the table itself


def test_anchor_rows_are_the_published_numbers():
    assert published("tai2015/sst/constituency_treelstm").mean == {"fine_root": 51.0, "binary_root": 88.0}
    assert published("tai2015/sst/constituency_treelstm").std == {"fine_root": 0.5, "binary_root": 0.3}
    assert published("socher2013/sst/rntn").mean["binary_all"] == 87.6
    assert published("tai2015/sick/dependency_treelstm").mean == {"pearson": 0.8676, "spearman": 0.8083, "mse": 0.2532}
    for key, row in ANCHORS.items():
        metrics = TASKS["relatedness" if "/sick/" in key else "sentiment"].metrics
        assert set(row.mean) <= set(metrics) and set(row.std) <= set(row.mean), key
    with pytest.raises(InputError, match="tai2015/sick/lstm"):
        published("tai2015/sick/nonexistent")


def test_bad_run_files_name_the_file(sick_runs, tmp_path):
    run_dir = sick_runs[0][1]
    (run_dir / report.EPOCHS_FILE).write_text('{"epoch": 1, "train_loss": 0.5, "dev": {}}\n{"epoch": 2\n')
    with pytest.raises(InputError) as error:
        report.load_run("lstm", run_dir, "relatedness")
    assert str(error.value).startswith(f"{run_dir / report.EPOCHS_FILE}:2: ")
    output_path(run_dir, "metrics", "test", ".json").write_text('{"spearman": 0.7}')
    with pytest.raises(InputError, match="no pearson among the test metrics"):
        report.load_run("lstm", run_dir, "relatedness")
    with pytest.raises(InputError, match="cannot read"):
        report.load_run("lstm", tmp_path / "missing", "relatedness")
    with pytest.raises(InputError, match="'gru', which has no runs"):
        report.write_report("relatedness", "sick", sick_runs[2:], tmp_path / "out", {"gru": "tai2015/sick/lstm"})


def test_cli_report_and_its_errors(sick_runs, tmp_path, capsys):
    out = tmp_path / "out"
    grid_label = {"lstm": "lstm (lr=0.1)", "treelstm": "treelstm"}  # the workflow labels grid points so
    argv = ["report", "--task", "relatedness", "--name", "sick", "--out-dir", str(out), "--resamples", "200",
            "--paper", "lstm (lr=0.1)=tai2015/sick/lstm"]
    argv += [arg for model, run in sick_runs for arg in ("--run", f"{grid_label[model]}={run}")]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| lstm (lr=0.1) " in printed and "0.8200 (0.0283)" in printed and "0.8528" in printed
    assert str(out / "tables" / "sick.tex") in printed
    assert main(argv[:-1] + [f"gru={tmp_path / 'nowhere'}"]) == 1
    assert "treenets: error: " in capsys.readouterr().err
    assert not list(out.rglob(".*.tmp"))  # atomic writes leave no temp files behind


def test_two_class_models_are_ranked_by_binary_root_accuracy(tmp_path):
    """A separately trained binary model has no fine-grained prediction: binary root ranks the models."""
    rng = np.random.default_rng(2)
    gold = rng.choice([0, 1, 3, 4], size=400)  # no neutral sentences, as in binary SST
    positive = (gold > 2).astype(int)

    def predictions(accuracy):
        predicted = np.where(rng.random(400) < accuracy, positive, 1 - positive)
        return sentiment_table([f"s{i}" for i in range(400)], gold, np.eye(2)[predicted])

    runs = [
        ("good", make_run(tmp_path / "good", {"binary_root": 0.88, "binary_all": 0.9}, [{"binary_root": 0.8}],
                          predictions(0.95))),
        ("poor", make_run(tmp_path / "poor", {"binary_root": 0.70, "binary_all": 0.8}, [{"binary_root": 0.6}],
                          predictions(0.6))),
    ]
    paths = report.write_report("sentiment", "sst_binary", runs, tmp_path / "out", n_resamples=500)
    table = pd.read_csv(paths["table_csv"]).set_index("model")
    assert table["fine_root_mean"].isna().all()
    assert table.at["good", "binary_root_mean"] == pytest.approx(88.0)
    assert bool(table.at["poor", "significant_vs_best"]) and math.isnan(table.at["good", "p_vs_best"])
    markdown = paths["table_md"].read_text()
    assert "**good**" in markdown and "70.0 †" in markdown and "Fine-grained" not in markdown
    assert imread(paths["predictions"]).shape[0] > 200


def test_entailment_table_accuracy_macro_f1_and_confusion(tmp_path):
    """Entailment: accuracy ranks the models, both metrics in percent, each model's confusion matrix."""
    from treenets.evaluate import classification_metrics
    from treenets.tasks import task_for

    task = task_for("entailment")
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 3, size=300)
    runs = []
    for model, right in (("treelstm", 0.85), ("lstm", 0.6)):
        predicted = np.where(rng.random(300) < right, gold, (gold + 1) % 3)
        metrics = classification_metrics(gold, predicted, 3)
        runs.append((model, make_run(tmp_path / model, metrics, [metrics],
                                     task.prediction_table([f"p{i}" for i in range(300)], gold, np.eye(3)[predicted]))))
        if model == "lstm":
            lstm_counts = np.bincount(gold * 3 + predicted, minlength=9).reshape(3, 3)
    paths = report.write_report("entailment", "sick_entailment", runs, tmp_path / "out", n_resamples=500)
    table = pd.read_csv(paths["table_csv"]).set_index("model")
    assert list(table.columns[:6]) == ["n_seeds", "accuracy_mean", "accuracy_std", "macro_f1_mean", "macro_f1_std",
                                       "paper_source"]
    assert bool(table.at["lstm", "significant_vs_best"]) and math.isnan(table.at["treelstm", "p_vs_best"])
    markdown = paths["table_md"].read_text()
    assert re.match(r"\| Model +\| Seeds +\| Accuracy +\| Macro-F1 +\|\n", markdown) and "**treelstm**" in markdown
    assert "accuracy in percent" in markdown and "significantly below it on Accuracy" in markdown
    rows = markdown.split("Confusion matrix, lstm (median-seed run):")[1].strip().splitlines()[2:5]
    assert [[int(n) for n in row.split("|")[2:5]] for row in rows] == lstm_counts.tolist()
    assert imread(paths["predictions"]).shape[0] > 200
