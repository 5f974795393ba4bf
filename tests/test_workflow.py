"""The Snakemake workflow: lint, config validation, dry runs of every experiment, and a real run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO

EXPERIMENTS = sorted((REPO / "config" / "experiments").glob("*.yaml"))


def snakemake(*args: str, workdir: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    """The repository's workflow, run in ``workdir`` (outputs land there, not in the checkout)."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
               *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def job_counts(output: str) -> dict[str, int]:
    """The "Job stats" table of a dry run: rule -> number of jobs."""
    table = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.MULTILINE)}


def write_experiment(path: Path, experiment: dict) -> Path:
    path.write_text(yaml.safe_dump(experiment, sort_keys=False))
    return path


def test_lint_is_clean(tmp_path):
    result = snakemake("--lint", "--configfile", str(REPO / "config" / "demo.yaml"), workdir=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


def test_workflow_env_lists_the_dependencies_of_environment_yml():
    """The rules' conda env is environment.yml with the repository installed by its path."""
    root = yaml.safe_load((REPO / "environment.yml").read_text())["dependencies"]
    rules = yaml.safe_load((REPO / "workflow" / "envs" / "treenets.yaml").read_text())["dependencies"]

    def packages(dependencies):
        flat = [d for d in dependencies if isinstance(d, str)] + next(d["pip"] for d in dependencies if isinstance(d, dict))
        return sorted(d for d in flat if not d.startswith("-e "))

    assert packages(rules) == packages(root)
    assert "-e ../.." in next(d["pip"] for d in rules if isinstance(d, dict))
    assert (REPO / "workflow" / "envs" / "../..").resolve() == REPO


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda path: path.stem)
def test_dry_run_of_every_experiment(experiment, tmp_path):
    spec = yaml.safe_load(experiment.read_text())
    result = snakemake("--dry-run", "--configfile", str(experiment), workdir=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    counts = job_counts(result.stdout)
    runs = sum(len(model.get("datasets", spec["datasets"])) for model in spec["models"].values()) * len(spec["seeds"])
    assert counts.get("train", 0) == counts.get("evaluate", 0) == counts.get("run_config", 0) == runs
    assert counts.get("report", 0) == len(spec["datasets"])
    assert counts["all"] == 1
    assert not (tmp_path / "results").exists()  # a dry run writes nothing


def test_grid_and_a_pair_dataset_defined_in_config(fixtures_dir, tmp_path):
    """A sentence-pair corpus described only in config, and a grid: every grid point is its own run
    (and row), and the tree model's sentences are parsed from the corpus's own files."""
    pairs_file = str(fixtures_dir / "sts_pairs.tsv")
    pairs = {"files": {split: pairs_file for split in ("train", "dev", "test")}, "sentence_a": "sentence1",
             "sentence_b": "sentence2", "score": "score", "id": "sid", "score_range": [0, 5]}
    experiment = write_experiment(tmp_path / "grid.yaml", {
        "experiment": "grid",
        "parser": {"source": "bootstrap"},
        "datasets": {"sts": {"task": "relatedness", "data": {"dataset": "pairs", "pairs": pairs}}},
        "models": {"lstm": {"model": {"name": "lstm"}}, "childsum": {"model": {"name": "childsum_treelstm"}}},
        "grid": {"optimizer.lr": [0.05, 0.1]},
        "seeds": [1, 2],
    })
    result = snakemake("--dry-run", "--printshellcmds", "--configfile", str(experiment), workdir=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    counts = job_counts(result.stdout)
    assert counts["train"] == 2 * 2 * 2 and counts["parse"] == 1 and counts["report"] == 1
    assert "--run='lstm (lr=0.1)=results/grid/runs/sts/lstm/" in result.stdout
    assert re.search(r"rule parse:\n    input: .*sts_pairs\.tsv", result.stdout)


def test_no_experiment_is_a_clear_error(tmp_path):
    result = snakemake("--dry-run", workdir=tmp_path)
    assert result.returncode != 0
    assert "no experiment chosen: add --configfile config/demo.yaml" in result.stdout + result.stderr


SMALL = {
    "experiment": "small",
    "parser": {"source": "bootstrap"},
    "datasets": {"sick": {"task": "relatedness", "data": {"dataset": "sick", "limit": {"train": 40, "dev": 20, "test": 20}}}},
    "models": {"lstm": {"model": {"name": "lstm", "hidden": 8}}, "gru": {"model": {"name": "gru", "hidden": 8}}},
    "seeds": [1],
}


@pytest.mark.parametrize("change, message", [
    ({"seeds": "one"}, "'one' is not of type 'array'"),
    ({"models": {"lstm": {"model": {"name": "lstmx"}}}},
     "config: datasets.sick x models.lstm: model.name: unknown model 'lstmx'"),
    ({"grid": {"model.hiden": [8, 16]}}, "model.hiden: unknown key"),
    ({"models": {"lstm": {"model": {"name": "lstm"}, "datasets": ["sst"]}}},
     "config: models.lstm.datasets: no dataset 'sst' in datasets"),
    ({"models": {"rntn": {"model": {"name": "rntn"}, "data": {"tree": "dependency"}}}},
     "rntn composes two children and needs constituency trees"),
    ({"parser": {"source": "dir"}}, "'dir' is a required property"),
    ({"parser": {"source": "treelstm"}}, "'dir' is a required property"),
    ({"only_models": ["lstm", "bilstm"]}, "config: only_models: no model 'bilstm' in models"),
])
def test_bad_config_is_rejected_with_a_clear_message(change, message, tmp_path):
    experiment = write_experiment(tmp_path / "bad.yaml", {**SMALL, **change})
    result = snakemake("--dry-run", "--configfile", str(experiment), workdir=tmp_path)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr, result.stdout[-3000:]


def test_raw_text_makes_sequence_models_on_pairs_read_parses(tmp_path):
    """With tokenize: raw the SICK LSTM reads the parser's tokens (a parse job); SST's does not."""
    experiment = write_experiment(tmp_path / "raw.yaml", {
        **SMALL, "parser": {"source": "bootstrap", "tokenize": "raw"}, "models": {"lstm": SMALL["models"]["lstm"]},
        "datasets": {**SMALL["datasets"], "sst": {"task": "sentiment", "data": {"dataset": "sst"}}}})
    result = snakemake("--dry-run", "--printshellcmds", "--configfile", str(experiment), workdir=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert job_counts(result.stdout)["parse"] == 1 and "--tokenize raw" in result.stdout
    plain = snakemake("--dry-run", "--configfile", str(write_experiment(tmp_path / "plain.yaml", SMALL)),
                      workdir=tmp_path)
    assert "parse" not in job_counts(plain.stdout)


def test_only_models_runs_and_reports_a_subset(tmp_path):
    experiment = write_experiment(tmp_path / "subset.yaml", {**SMALL, "only_models": ["gru"]})
    result = snakemake("--dry-run", "--printshellcmds", "--configfile", str(experiment), workdir=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert job_counts(result.stdout)["train"] == 1
    assert "--run=gru=results/small/runs/sick/gru/" in result.stdout and "runs/sick/lstm/" not in result.stdout


def test_an_experiment_can_require_a_clean_tree(tmp_path):
    for required in (True, False):
        experiment = write_experiment(tmp_path / "clean.yaml", {**SMALL, "require_clean_tree": required})
        result = snakemake("--dry-run", "--printshellcmds", "--configfile", str(experiment), workdir=tmp_path)
        assert result.returncode == 0, result.stdout[-3000:]
        train_lines = [line for line in result.stdout.splitlines() if "treenets train " in line]
        assert len(train_lines) == 2 and all(("--require-clean-tree" in line) == required for line in train_lines)
    published = [path for path in EXPERIMENTS if yaml.safe_load(path.read_text()).get("require_clean_tree")]
    assert {path.stem for path in published} == {"tai2015_sick", "tai2015_sst", "socher2013_rntn", "recurrent_baselines"}


def test_a_model_can_have_seeds_of_its_own(tmp_path):
    models = {"lstm": {**SMALL["models"]["lstm"], "seeds": [7]}, "gru": SMALL["models"]["gru"]}
    experiment = write_experiment(tmp_path / "seeds.yaml", {**SMALL, "models": models, "seeds": [1, 2]})
    result = snakemake("--dry-run", "--printshellcmds", "--configfile", str(experiment), workdir=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert job_counts(result.stdout)["train"] == 1 + 2
    assert re.search(r"--run=lstm=results/small/runs/sick/lstm/\w+/seed7 ", result.stdout)
    report_line = next(line for line in result.stdout.splitlines() if "treenets report" in line)
    assert report_line.count("--run=lstm=") == 1 and report_line.count("--run=gru=") == 2


TINY = {
    "experiment": "tiny",
    "parser": {"source": "bootstrap", "budget": "tiny"},
    "datasets": {
        "sick": {"task": "relatedness", "data": {"dataset": "sick", "limit": {"train": 60, "dev": 30, "test": 40}},
                 "embeddings": {"frozen": True}},
        "sst": {"task": "sentiment", "data": {"dataset": "sst", "limit": {"train": 60, "dev": 30, "test": 40}}},
        "sick_entailment": {"task": "entailment",
                            "data": {"dataset": "sick", "limit": {"train": 60, "dev": 30, "test": 40}}},
    },
    "defaults": {"training": {"epochs": 2, "batch_size": 20, "device": "cpu"}},
    "models": {
        "childsum": {"model": {"name": "childsum_treelstm", "hidden": 8}, "datasets": ["sick"]},  # parses
        "nary": {"model": {"name": "nary_treelstm", "hidden": 8}, "datasets": ["sst"]},  # SST's own trees
        "lstm": {"model": {"name": "lstm", "hidden": 8}, "paper": {"sick": "tai2015/sick/lstm"},
                 "datasets": ["sick", "sick_entailment"]},
    },
    "seeds": [1],
    "report": {"resamples": 200},
}


@pytest.mark.slow
def test_tiny_experiment_end_to_end_then_one_change_reruns_only_its_runs(data_mirror, tmp_path, monkeypatch):
    """The demo's shape on a few real sentences: fetch (from the mirror), bootstrap parsers, parse,
    train, evaluate, report; then a changed hyper-parameter of one model reruns that model's runs and
    the tables, nothing else."""
    monkeypatch.setenv("TREENETS_DATA_MIRROR", str(data_mirror))
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # treenets
    experiment = write_experiment(tmp_path / "tiny.yaml", TINY)
    profile = ("--workflow-profile", str(REPO / "config" / "profiles" / "local"))
    result = snakemake("--cores", "2", "--configfile", str(experiment), *profile, workdir=tmp_path, timeout=1200)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "Tables: results/tiny/tables/ (sick.md, sst.md, sick_entailment.md)" in result.stdout + result.stderr

    sick = pd.read_csv(tmp_path / "results/tiny/tables/sick.csv").set_index("model")
    assert list(sick.index) == ["childsum", "lstm"] and sick.at["lstm", "n_seeds"] == 1
    [run_dir] = (tmp_path / "results/tiny/runs/sick/lstm").glob("*/seed1")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert sick.at["lstm", "pearson_mean"] == pytest.approx(metrics["pearson"])
    assert sick.at["lstm", "paper_pearson"] == pytest.approx(0.8528)
    assert len(list((tmp_path / "parsed").glob("bootstrap-*/sick-*/sentences.jsonl"))) == 1
    sst = pd.read_csv(tmp_path / "results/tiny/tables/sst.csv").set_index("model")
    assert list(sst.index) == ["nary"] and 0 <= sst.at["nary", "fine_root_mean"] <= 100
    for plot in ("learning_curves", "predictions", "bars"):
        assert (tmp_path / f"results/tiny/plots/sst_{plot}.png").stat().st_size > 1000
    entailment = pd.read_csv(tmp_path / "results/tiny/tables/sick_entailment.csv").set_index("model")
    assert list(entailment.index) == ["lstm"] and 0 <= entailment.at["lstm", "accuracy_mean"] <= 100
    assert "Confusion matrix, lstm" in (tmp_path / "results/tiny/tables/sick_entailment.md").read_text()

    changed = write_experiment(tmp_path / "changed.yaml", {
        **TINY, "models": {**TINY["models"], "lstm": {**TINY["models"]["lstm"], "model": {"name": "lstm", "hidden": 9}}}})
    dry = snakemake("--dry-run", "--configfile", str(changed), workdir=tmp_path)
    assert dry.returncode == 0, dry.stdout[-3000:]
    # The lstm runs (relatedness, entailment): config files, training and evaluation, then their tables; nothing of SST.
    assert job_counts(dry.stdout) == {"run_config": 2, "train": 2, "evaluate": 2, "report": 2, "all": 1}

    html = tmp_path / "report.html"
    made = snakemake("--configfile", str(experiment), "--report", str(html), workdir=tmp_path)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    assert html.stat().st_size > 10_000


@pytest.mark.slow
def test_raw_text_pairs_with_bootstrap_parsers_then_predict(data_mirror, tiny_models, tmp_path, monkeypatch):
    """A pair TSV of raw English (SICK's raw sentences with commas and "n't") through the workflow with
    bootstrap parsers and `tokenize: raw`: the parser reads PTB tokens, the LSTM reads the parser's
    tokens, the parse log reports them; `treenets predict` on the finished runs gives their test
    predictions again, from the test file as it is and from its sentences as a plain two-column TSV."""
    from treenets.cli import main
    from treenets.data.readers import read_sick
    from treenets.parse.store import ParseStore
    from treenets.parse.tokenize import ptb_tokens

    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # treenets
    pairs = [pair for pair in read_sick(data_mirror / "sick" / "semeval2014" / "SICK_test_annotated.txt")
             if "," in pair.a + pair.b or "n't" in pair.a + pair.b][:70]
    files = {}
    for split, chosen in (("train", pairs[:40]), ("dev", pairs[40:55]), ("test", pairs[55:])):
        files[split] = str(tmp_path / f"{split}.tsv")
        Path(files[split]).write_text("sentence1\tsentence2\tscore\n" + "".join(
            f"{pair.a}\t{pair.b}\t{pair.score}\n" for pair in chosen))
    experiment = write_experiment(tmp_path / "raw.yaml", {
        "experiment": "raw",
        "parser": {"source": "dir", "dir": str(tiny_models[0]), "tokenize": "raw", "device": "cpu"},
        "datasets": {"mine": {"task": "relatedness", "data": {"dataset": "pairs", "pairs": {
            "files": files, "sentence_a": "sentence1", "sentence_b": "sentence2", "score": "score",
            "score_range": [1, 5]}}}},
        "defaults": {"training": {"epochs": 2, "batch_size": 10, "device": "cpu"}},
        "models": {"childsum": {"model": {"name": "childsum_treelstm", "hidden": 8}},
                   "lstm": {"model": {"name": "lstm", "hidden": 8}}},
        "seeds": [1],
        "report": {"resamples": 100},
    })
    profile = ("--workflow-profile", str(REPO / "config" / "profiles" / "local"))
    result = snakemake("--cores", "2", "--configfile", str(experiment), *profile, workdir=tmp_path, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    [store_dir] = [path for path in (tmp_path / "parsed").glob("dir-*/pairs-*") if path.is_dir()]
    store = ParseStore(store_dir)
    assert len(store) == len({text for pair in pairs for text in (pair.a, pair.b)})
    assert all(list(parsed.tokens) == ptb_tokens(parsed.text) for parsed in store)
    assert any("n't" in parsed.tokens for parsed in store) and any("," in parsed.tokens for parsed in store)
    [log] = (tmp_path / "parsed").glob("dir-*/logs/pairs-??????????.log")
    assert re.search(r"per sentence; in the word vectors glove-6b-50d: [\d.]+% as written, [\d.]+% lowercased",
                     log.read_text())
    [lstm] = (tmp_path / "results/raw/runs/mine/lstm").glob("*/seed1")
    assert yaml.safe_load((lstm / "config.resolved.yaml").read_text())["data"]["tokenization"] == "parsed"
    vocabulary = (lstm / "vocab.txt").read_text().split("\n")
    assert "n't" in vocabulary and "," in vocabulary

    monkeypatch.chdir(tmp_path)  # the runs' configs name their parse store relative to the workflow's folder
    test_pairs = pairs[55:]
    plain = tmp_path / "new.tsv"
    plain.write_text("".join(f"{pair.a}\t{pair.b}\n" for pair in test_pairs))
    for model in ("childsum", "lstm"):
        [run_dir] = (tmp_path / f"results/raw/runs/mine/{model}").glob("*/seed1")
        expected = pd.read_csv(run_dir / "predictions.tsv", sep="\t")
        for source, output in ((files["test"], tmp_path / f"{model}.tsv"), (plain, tmp_path / f"{model}-plain.tsv")):
            assert main(["predict", "--run-dir", str(run_dir), "--input", str(source), "--output", str(output)]) == 0
            predicted = pd.read_csv(output, sep="\t")
            assert predicted["predicted"].tolist() == pytest.approx(expected["predicted"].tolist(), abs=1e-5)
        assert predicted["sentence_a"].tolist() == [" ".join(ptb_tokens(pair.a)) for pair in test_pairs]


# docs/results/reproduction/cpu/README.md's commands: each results folder, its experiment and the
# override sets it ran with.
REPRODUCTION = {
    "tai2015_sick": ("tai2015_sick", [["cpu-glove50d.yaml", "cpu-sick-seeds.yaml"]]),
    "tai2015_sst": ("tai2015_sst", [["cpu-glove50d.yaml", "seeds-1-3.yaml", "cpu-sst-one-seed.yaml"]]),
    "socher2013_rntn": ("socher2013_rntn", [["cpu-glove50d.yaml", "seeds-1-3.yaml"]]),
    "recurrent_baselines": ("recurrent_baselines", [["cpu-glove50d.yaml", "cpu-sst-recurrent.yaml"],
                                                    ["cpu-glove50d.yaml", "cpu-sick-converge.yaml"]]),
    "tai2015_sick_2layer_converged": ("tai2015_sick", [["cpu-glove50d.yaml", "cpu-sick-converge.yaml"]]),
}


@pytest.mark.parametrize("folder", sorted(REPRODUCTION))
def test_committed_runs_keep_their_folders(folder, tmp_path):
    """Every run folder (its variant digest) in the committed results is one the workflow plans
    today: adding options and refactoring the config must not move finished runs."""
    committed = {path for table in (REPO / "docs/results/reproduction/cpu" / folder).glob("*_runs.md")
                 for path in re.findall(r"results/\S+/runs/\S+/seed\d+", table.read_text())}
    assert committed
    experiment, override_sets = REPRODUCTION[folder]
    planned = set()
    for overrides in override_sets:
        configs = [str(REPO / "config/experiments" / f"{experiment}.yaml")]
        configs += [str(REPO / "config/reproduction" / name) for name in overrides]
        result = snakemake("--dry-run", "--configfile", *configs, workdir=tmp_path)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        planned |= set(re.findall(r"results/\S+/runs/\S+/seed\d+(?=/)", result.stdout))
    assert committed <= planned, sorted(committed - planned)


def test_committed_run_configs_are_written_back_unchanged(tmp_path):
    """Every committed config.resolved.yaml loads and is written again byte for byte (what a rerun of
    its run compares with)."""
    from treenets.config import dump_config, load_config

    paths = sorted((REPO / "docs/results").glob("**/config.resolved.yaml"))
    assert paths
    for path in paths:
        dump_config(load_config(path), tmp_path / "again.yaml")
        assert (tmp_path / "again.yaml").read_text() == path.read_text(), path


TAI_SICK = {
    "experiment": "tai_inputs",
    "parser": {"source": "treelstm", "dir": "sick-treelstm"},  # no parser runs: Tai et al.'s parses
    "datasets": {"sick": {"task": "relatedness", "data": {"dataset": "sick", "tokenization": "parsed",
                                                          "limit": {"train": 60, "dev": 30, "test": 40}},
                          "embeddings": {"frozen": True, "source": "glove-840b-300d-sick"}}},
    "defaults": {"training": {"epochs": 2, "batch_size": 20, "device": "cpu"}},
    "models": {
        "dependency": {"model": {"name": "childsum_treelstm", "hidden": 8}},
        "constituency": {"model": {"name": "nary_treelstm", "hidden": 8}},
        "lstm": {"model": {"name": "lstm", "hidden": 8}},
    },
    "seeds": [1],
    "report": {"resamples": 200},
}


@pytest.mark.slow
def test_sick_slices_on_tai_et_al_parses_and_vectors_end_to_end(data_mirror, tmp_path, monkeypatch):
    """Parser source treelstm and the 840B SICK vectors through the whole workflow (~1 min): the
    registry's parses and vectors fetched from the mirror, the parse store imported from them, both
    Tree-LSTMs and a sequence model on the parser's tokens trained, evaluated and tabulated."""
    monkeypatch.setenv("TREENETS_DATA_MIRROR", str(data_mirror))
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # treenets
    experiment = write_experiment(tmp_path / "tai.yaml", TAI_SICK)
    dry = snakemake("--dry-run", "--configfile", str(experiment), workdir=tmp_path)
    assert dry.returncode == 0, dry.stdout[-3000:]
    counts = job_counts(dry.stdout)
    assert "parser_bootstrap" not in counts and "parser_download" not in counts and counts["parse"] == 1
    assert counts["fetch"] == 3 + 36 + 2  # SICK's splits, the treelstm files, the vectors
    profile = ("--workflow-profile", str(REPO / "config" / "profiles" / "local"))
    result = snakemake("--cores", "2", "--configfile", str(experiment), *profile, workdir=tmp_path, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    [store] = (tmp_path / "parsed").glob("treelstm-*/sick-*/sentences.jsonl")
    parsed = [json.loads(line) for line in store.read_text().splitlines()]
    by_text = {record["text"]: record for record in parsed}
    # The store holds the registry's own parses: line 1 of its test a files, the first test pair's sentence A.
    tai = data_mirror / "sick" / "treelstm" / "test"
    first = by_text[(tai / "a.txt").read_text().splitlines()[0]]
    assert first["tokens"] == (tai / "a.toks").read_text().splitlines()[0].split(" ")
    assert first["heads"] == [int(i) for i in (tai / "a.parents").read_text().splitlines()[0].split()]
    assert first["cparents"] == [int(i) for i in (tai / "a.cparents").read_text().splitlines()[0].split()]
    sick = pd.read_csv(tmp_path / "results/tai_inputs/tables/sick.csv").set_index("model")
    assert list(sick.index) == ["dependency", "constituency", "lstm"]
    assert sick["pearson_mean"].notna().all()
    # The LSTM read the treelstm tokens (PTB tokens: "isn't" -> "is n't", "pants," -> "pants ,").
    [run_dir] = (tmp_path / "results/tai_inputs/runs/sick/lstm").glob("*/seed1")
    vocab = set((run_dir / "vocab.txt").read_text().splitlines()) - {"<pad>", "<unk>"}
    assert vocab == {token for record in parsed for token in record["tokens"]}
    assert vocab != {token for record in parsed for token in record["text"].split()}
