"""The trainer on real slices of SICK and SST: learning, determinism, kill-and-resume, divergence."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from treenets.batching import SequenceBatch
from treenets.config import load_config
from treenets.evaluate import read_predictions, relatedness_metrics, sentiment_accuracy
from treenets.inference import evaluate
from treenets.files import sha256_file
from treenets.train import CHECKPOINT_BEST, CHECKPOINT_LAST, DONE, EPOCHS, DivergedError, train

@pytest.fixture
def sst(data_mirror, embedding_cache):
    """A config factory: an N-ary Tree-LSTM on SST's own constituency trees."""
    files = {split: str(data_mirror / "sst" / f"{split}.txt") for split in ("train", "dev", "test")}

    def make(*overrides):
        base = {
            "task": "sentiment",
            "data": {"dataset": "sst", "files": files, "limit": {"train": 400, "dev": 150, "test": 100}},
            "model": {"name": "nary_treelstm", "hidden": 16},
            "embeddings": {"cache_dir": embedding_cache, "lr": 0.1},
            "training": {"epochs": 3, "device": "cpu"},
        }
        return load_config(base, overrides)

    return make


def relatedness_model(config):
    """The config's relatedness model over 9 random 4-d word vectors (scores 1-5, longest sentence 3)."""
    from treenets.inference import Architecture, build

    return build(config, Architecture(None, (1, 5), 3, 4), np.random.default_rng(0).normal(size=(9, 4)))


def history(run_dir: Path) -> list[dict]:
    """Per-epoch records without the wall-clock fields (which differ between runs by nature)."""
    records = [json.loads(line) for line in (run_dir / EPOCHS).read_text().splitlines()]
    return [{k: v for k, v in record.items() if k not in ("seconds", "sentences_per_s")} for record in records]


def test_sick_lstm_beats_the_mean_score(sick, tmp_path):
    config = sick()
    summary = train(config, tmp_path)
    assert summary["epochs_run"] == 3 and 1 <= summary["best_epoch"] <= 3
    losses = [record["train_loss"] for record in history(tmp_path)]
    assert 0 <= losses[-1] < losses[0]  # a KL divergence: falls, and never below 0
    from treenets.tasks import load_dataset

    data = load_dataset(config, ["train", "dev"])
    train_mean = np.mean([example.target for example in data.splits["train"]])
    dev_gold = np.array([example.target for example in data.splits["dev"]])
    mean_baseline_mse = float(np.mean((dev_gold - train_mean) ** 2))
    dev = summary["dev"]
    assert dev["pearson"] > 0.4 and dev["mse"] < 0.85 * mean_baseline_mse, (dev, mean_baseline_mse)

    metrics = evaluate(tmp_path, "test")
    table = read_predictions(tmp_path / "predictions.tsv")
    assert len(table) == metrics["examples"] == 100
    assert table["predicted"].between(1, 5).all()
    assert metrics["pearson"] > 0.3
    assert relatedness_metrics(table["gold"], table["predicted"]) == pytest.approx(
        {k: metrics[k] for k in ("pearson", "spearman", "mse")}, abs=1e-5)
    assert json.loads((tmp_path / "metrics.json").read_text())["pearson"] == metrics["pearson"]

    versions = json.loads((tmp_path / "versions.json").read_text())
    train_file = config.data.files["train"]
    assert versions["data_sha256"][train_file] == sha256_file(train_file)
    assert versions["torch"] == torch.__version__ and versions["python"] and "git_commit" in versions


def test_sst_tree_lstm_beats_the_majority_class(sst, tmp_path):
    config = sst()
    summary = train(config, tmp_path)
    losses = [record["train_loss"] for record in history(tmp_path)]
    assert 0 <= losses[-1] < losses[0]  # a cross-entropy: falls, and never below 0
    from treenets.tasks import load_dataset

    data = load_dataset(config, ["train", "dev"])
    roots = lambda split: np.array([e.target[e.inputs[0].root] for e in data.splits[split]])  # noqa: E731
    majority = np.bincount(roots("train")).argmax()
    baseline = float(np.mean(roots("dev") == majority))
    assert summary["dev"]["fine_root"] > baseline + 0.05, (summary["dev"], baseline)
    assert summary["dev"]["binary_root"] > 0.65
    metrics = evaluate(tmp_path, "dev")
    assert metrics["fine_root"] == pytest.approx(summary["dev"]["fine_root"])  # the best checkpoint was kept
    phrases = read_predictions(tmp_path / "phrases-dev.tsv")
    roots_table = read_predictions(tmp_path / "predictions-dev.tsv")
    assert len(phrases) > 10 * len(roots_table) and set(roots_table["id"]) <= set(phrases["id"])
    for scope, table in (("root", roots_table), ("all", phrases)):  # the files reproduce the metrics
        accuracy = sentiment_accuracy(table["gold"], table["predicted"], table["predicted_binary"])
        assert accuracy == pytest.approx({"fine": metrics[f"fine_{scope}"], "binary": metrics[f"binary_{scope}"]})
    state = torch.load(tmp_path / CHECKPOINT_BEST, weights_only=True)
    assert state["epoch"] == summary["best_epoch"]


def test_sick_entailment_lstm_beats_the_majority_class(sick, tmp_path):
    from treenets.evaluate import classification_metrics
    from treenets.tasks import load_dataset
    from treenets.tasks.entailment import CLASSES

    config = sick("task=entailment", dev=200)
    summary = train(config, tmp_path)
    data = load_dataset(config, ["train", "dev"])
    labels = lambda split: np.array([example.target for example in data.splits[split]])  # noqa: E731
    baseline = float(np.mean(labels("dev") == np.bincount(labels("train")).argmax()))  # NEUTRAL
    assert summary["early_stopping_metric"] == "accuracy"
    assert summary["dev"]["accuracy"] > baseline + 0.04, (summary["dev"], baseline)
    metrics = evaluate(tmp_path, "test")
    table = read_predictions(tmp_path / "predictions.tsv")
    assert len(table) == 100 and set(table["gold"]) <= set(CLASSES)
    indices = [table[column].map(CLASSES.index) for column in ("gold", "predicted")]
    assert classification_metrics(*indices, len(CLASSES)) == pytest.approx(
        {k: metrics[k] for k in ("accuracy", "macro_f1")})


def test_paper_l2_is_the_gradient_of_half_lambda_theta_squared(sick):
    from treenets.train import decay_weights, make_optimizer

    config = sick("optimizer.l2=0.01", "optimizer.name=sgd", "embeddings.frozen=false")  # SGD: updates are linear
    torch.manual_seed(0)
    model = relatedness_model(config)
    with_penalty, without_l2 = copy.deepcopy(model), copy.deepcopy(model)
    left = SequenceBatch(torch.tensor([[2, 3, 4], [5, 6, 0]]), torch.tensor([3, 2]))
    right = SequenceBatch(torch.tensor([[7, 8], [2, 0]]), torch.tensor([2, 1]))

    def step(m, optimizer, penalty=0.0):
        (m.head.loss(m(left, right), torch.tensor([4.2, 1.5])) + penalty).backward()
        optimizer.step()

    step(model, make_optimizer(config, model))
    # the same step with 0.5 * lambda * ||theta||^2 written into the loss and no weight decay
    step(with_penalty, torch.optim.SGD(with_penalty.parameter_groups(0.1, 0.1), lr=0.1),
         0.5 * 0.01 * sum(p.pow(2).sum() for p in with_penalty.l2_parameters()))
    step(without_l2, torch.optim.SGD(without_l2.parameter_groups(0.1, 0.1), lr=0.1))
    for (name, a), b, c in zip(model.named_parameters(), with_penalty.parameters(), without_l2.parameters()):
        torch.testing.assert_close(a, b, msg=name)
        assert name.startswith("embedding.") or not torch.allclose(a, c), name  # the L2 term did something
    # decoupled decay shrinks the regularised weights only, after the step
    decoupled = sick("optimizer.l2=0.01", "optimizer.l2_mode=weight_decay", "embeddings.frozen=false")
    optimizer = make_optimizer(decoupled, model)
    embedding, weights = model.embedding.weight.detach().clone(), model.l2_parameters()[0].detach().clone()
    decay_weights(decoupled, optimizer)
    torch.testing.assert_close(model.embedding.weight, embedding)
    torch.testing.assert_close(model.l2_parameters()[0], weights * (1 - 0.1 * 0.01))


def test_sgd_for_the_vectors_adagrad_for_the_rest(sick):
    """embeddings.optimizer=sgd: the vectors move by -embeddings.lr x gradient (Tai et al.'s code),
    every other parameter by the Adagrad step of the same gradient."""
    from treenets.train import make_optimizer

    config = sick("embeddings.frozen=false", "embeddings.optimizer=sgd", "embeddings.lr=0.3", "optimizer.l2=0.01")
    torch.manual_seed(0)
    model = relatedness_model(config)
    reference = copy.deepcopy(model)
    left = SequenceBatch(torch.tensor([[2, 3, 4], [5, 6, 0]]), torch.tensor([3, 2]))
    right = SequenceBatch(torch.tensor([[7, 8], [2, 0]]), torch.tensor([2, 1]))
    for m in (model, reference):
        m.head.loss(m(left, right), torch.tensor([4.2, 1.5])).backward()
    optimizer = make_optimizer(config, model)
    optimizer.step()
    vectors = reference.embedding.weight
    torch.testing.assert_close(model.embedding.weight, vectors - 0.3 * vectors.grad)
    adagrad = torch.optim.Adagrad(reference.l2_parameters(), lr=0.1, weight_decay=0.01)
    adagrad.step()
    for a, b in zip(model.l2_parameters(), reference.l2_parameters()):
        torch.testing.assert_close(a, b)
    assert [group["lr"] for group in optimizer.param_groups] == [0.1, 0.3]
    restored = make_optimizer(config, model)
    restored.load_state_dict(optimizer.state_dict())
    state = restored.state_dict()["optimizers"][0]["state"]
    assert all(torch.equal(state[k]["sum"], adagrad.state_dict()["state"][k]["sum"]) for k in state)


def test_adagrad_eps_and_reset_every_epoch(sick):
    """optimizer.eps reaches the optimizer; optimizer.adagrad_reset=N zeroes Adagrad's sums of squared
    gradients before epochs N+1, 2N+1, ... (CoreNLP's RNTN training), and only then."""
    from treenets.train import make_optimizer, reset_adagrad

    config = sick("optimizer.eps=0.001", "optimizer.adagrad_reset=2")
    model = relatedness_model(config)
    optimizer = make_optimizer(config, model)
    assert {group["eps"] for group in optimizer.param_groups} == {0.001}
    left = SequenceBatch(torch.tensor([[2, 3, 4], [5, 6, 0]]), torch.tensor([3, 2]))
    right = SequenceBatch(torch.tensor([[7, 8], [2, 0]]), torch.tensor([2, 1]))
    model.head.loss(model(left, right), torch.tensor([4.2, 1.5])).backward()
    optimizer.step()
    sums = lambda: [optimizer.state[p]["sum"].abs().sum().item() for p in model.l2_parameters()]  # noqa: E731
    for epoch in (1, 2, 4):
        reset_adagrad(config, optimizer, epoch)
        assert min(sums()) > 0, epoch
    reset_adagrad(config, optimizer, 3)
    assert max(sums()) == 0
    assert make_optimizer(sick(), model).param_groups[0]["eps"] == 1e-10  # torch's default, as before


def test_head_and_vectors_get_their_own_l2(sick):
    """optimizer.l2_head and embeddings.l2 (CoreNLP's RNTN: classifier and words 1e-4, the rest 1e-3):
    each group's step is Adagrad's with its own weight decay."""
    from treenets.train import make_optimizer

    config = sick("optimizer.l2=0.01", "optimizer.l2_head=0.001", "embeddings.frozen=false", "embeddings.l2=0.0001")
    model = relatedness_model(config)
    optimizer = make_optimizer(config, model)
    head = list(model.head.parameters())
    assert [group["weight_decay"] for group in optimizer.param_groups] == [0.01, 0.001, 0.0001]
    assert optimizer.param_groups[1]["params"] == head
    assert optimizer.param_groups[2]["params"] == [model.embedding.weight]
    reference = copy.deepcopy(model)
    left = SequenceBatch(torch.tensor([[2, 3, 4], [5, 6, 0]]), torch.tensor([3, 2]))
    right = SequenceBatch(torch.tensor([[7, 8], [2, 0]]), torch.tensor([2, 1]))
    for m in (model, reference):
        m.head.loss(m(left, right), torch.tensor([4.2, 1.5])).backward()
    optimizer.step()
    for params, weight_decay in ((list(reference.encoder.parameters()), 0.01), (list(reference.head.parameters()), 0.001),
                                 ([reference.embedding.weight], 0.0001)):
        torch.optim.Adagrad(params, lr=0.1, weight_decay=weight_decay).step()
    for a, b in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(a, b)
    assert len(make_optimizer(sick(), model).param_groups) == 2  # unset: model and vectors, as before


def test_options_added_later_leave_old_config_files_unchanged(sick):
    from treenets.config import to_dict

    assert "optimizer" not in to_dict(sick())["embeddings"]  # at its default: as configs were before it
    assert {"adagrad_reset", "eps", "l2_head"}.isdisjoint(to_dict(sick())["optimizer"])
    assert "l2" not in to_dict(sick())["embeddings"]
    assert {"composition_init", "leaf_tanh", "tie_directions"}.isdisjoint(to_dict(sick())["model"])
    assert to_dict(sick("embeddings.optimizer=sgd"))["embeddings"]["optimizer"] == "sgd"
    assert load_config(to_dict(sick("embeddings.optimizer=sgd"))) == sick("embeddings.optimizer=sgd")


def test_same_config_and_seed_give_identical_runs(sick, tmp_path):
    config = sick("model.dropout=0.3", "training.epochs=2", train=200, dev=80)
    before = torch.are_deterministic_algorithms_enabled()
    train(config, tmp_path / "a")
    assert torch.are_deterministic_algorithms_enabled() == before  # the caller's setting is back
    train(config, tmp_path / "b")
    assert history(tmp_path / "a") == history(tmp_path / "b")
    a, b = (torch.load(tmp_path / run / CHECKPOINT_BEST, weights_only=True)["model"] for run in ("a", "b"))
    assert all(torch.equal(a[key], b[key]) for key in a)
    other_seed = sick("model.dropout=0.3", "training.epochs=2", "training.seed=1", train=200, dev=80)
    train(other_seed, tmp_path / "c")
    assert history(tmp_path / "c") != history(tmp_path / "a")


def test_collating_in_worker_processes_changes_nothing(sst, tmp_path):
    config = sst("training.epochs=1", "data.limit.train=100", "data.limit.dev=40")
    train(config, tmp_path / "main")
    train(sst("training.epochs=1", "data.limit.train=100", "data.limit.dev=40", "training.workers=2"),
          tmp_path / "workers")
    assert history(tmp_path / "workers") == history(tmp_path / "main")


def test_a_two_class_model_on_phrases(sst, tmp_path):
    config = sst("model.name=lstm", "sentiment.classes=2", "sentiment.train_on_phrases=true", "training.epochs=2",
                 "data.limit.train=150", "data.limit.dev=60")
    summary = train(config, tmp_path)
    assert set(summary["dev"]) == {"binary_root"} and summary["early_stopping_metric"] == "binary_root"
    metrics = evaluate(tmp_path, "dev")
    assert set(metrics) == {"binary_root", "binary_all", "split", "examples"}
    table = read_predictions(tmp_path / "predictions-dev.tsv")
    assert table["predicted"].isna().all() and (table["gold"] != 2).all()  # neutral sentences left out
    assert metrics["examples"] == len(table) < 60


def test_a_complete_run_is_not_trained_again(sick, tmp_path):
    config = sick("training.epochs=1", train=100, dev=50)
    summary = train(config, tmp_path)
    stamp = (tmp_path / CHECKPOINT_LAST).stat().st_mtime_ns
    assert train(config, tmp_path) == summary
    assert (tmp_path / CHECKPOINT_LAST).stat().st_mtime_ns == stamp
    with pytest.raises(Exception, match="started with a different config"):
        train(sick("training.epochs=2", train=100, dev=50), tmp_path)


def test_early_stopping_waits_patience_epochs(sick, tmp_path):
    # A learning rate too small to change the dev metric: epoch 1 stays the best.
    config = sick("optimizer.lr=1e-12", "training.epochs=6", "training.patience=2", train=100, dev=50)
    summary = train(config, tmp_path)
    assert summary["best_epoch"] == 1 and summary["epochs_run"] == 3 and summary["stopped_early"]


def test_a_huge_learning_rate_stops_with_the_epoch_and_batch(sick, tmp_path):
    config = sick("optimizer.lr=1e30", "optimizer.name=sgd", "embeddings.frozen=false", train=100, dev=50)
    with pytest.raises(DivergedError, match=r"epoch 1, batch \d+: the (loss|gradient norm) is (nan|inf)"):
        train(config, tmp_path)
    assert not (tmp_path / DONE).exists() and not (tmp_path / CHECKPOINT_LAST).exists()


def test_a_poisoned_batch_stops_the_run(sick, tmp_path):
    vectors = tmp_path / "poisoned.txt"  # GloVe text format: "dog" has a NaN in its vector
    vectors.write_text("man " + " ".join(["0.1"] * 8) + "\ndog " + " ".join(["0.1"] * 7 + ["nan"]) + "\n")
    config = sick(f"embeddings.source={vectors}", train=100, dev=50)
    with pytest.raises(DivergedError, match=r"epoch 1, batch \d+: the loss is nan"):
        train(config, tmp_path / "run")


RESUMABLE = """
import sys
from treenets.config import load_config
from treenets.train import train
train(load_config(sys.argv[1]), sys.argv[2])
"""


def test_kill_and_resume_ends_like_an_uninterrupted_run(sick, tmp_path):
    import yaml

    from treenets.config import to_dict

    # tuned vectors on plain SGD beside Adagrad: the resumed run restores both optimizers' states
    config = sick("model.dropout=0.3", "training.epochs=5", "embeddings.frozen=false", "embeddings.optimizer=sgd",
                  train=300, dev=100)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(to_dict(config)))
    train(config, tmp_path / "uninterrupted")

    killed = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-c", RESUMABLE, str(path), str(killed)], env=env,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (killed / EPOCHS).exists() or len((killed / EPOCHS).read_text().splitlines()) < 2:
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no second epoch within 5 minutes"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / DONE).exists()
    finished_epochs = len((killed / EPOCHS).read_text().splitlines())
    assert finished_epochs < 5

    resumed = subprocess.run([sys.executable, "-c", RESUMABLE, str(path), str(killed)], env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {killed} after epoch" in resumed.stderr
    assert history(killed) == history(tmp_path / "uninterrupted")
    assert json.loads((killed / DONE).read_text()) == json.loads((tmp_path / "uninterrupted" / DONE).read_text())
    a, b = (torch.load(run / CHECKPOINT_BEST, weights_only=True)["model"]
            for run in (killed, tmp_path / "uninterrupted"))
    assert all(torch.equal(a[key], b[key]) for key in a)
