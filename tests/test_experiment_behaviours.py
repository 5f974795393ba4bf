"""Behaviours the shipped experiments rely on, each pinned against an expectation computed another way.

Every test here failed when the bug its docstring names was planted by hand (docs/mutation/README.md
lists them). They go through the public entry points (train(config, run_dir), load_dataset, the
heads, paired_bootstrap, write_report) so that refactoring the internals does not break them.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from treenets.batching import SequenceBatch, TreeBatch
from treenets.config import load_config
from treenets.evaluate import relatedness_metrics
from treenets.inference import load_best
from treenets.models import build_model
from treenets.parse.store import ParsedSentence, ParseStore
from treenets.report import write_report
from treenets.tasks import Batch, load_dataset, paired_bootstrap, task_for
from treenets.train import EPOCHS, train
from treenets.trees import Tree

def epochs_of(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / EPOCHS).read_text().splitlines()]


# --------------------------------------------------------------------------- gradient clipping
class StepRecorder:
    """Wraps an optimizer class's ``step`` to record the gradients it sees (what the update uses)."""

    def __init__(self):
        self.grads: list[list[torch.Tensor]] = []

    @contextlib.contextmanager
    def recording(self, monkeypatch, optimizer_class):
        original = optimizer_class.step

        def step(optimizer, *args, **kwargs):
            self.grads.append([p.grad.detach().clone() for g in optimizer.param_groups for p in g["params"]
                               if p.grad is not None])
            return original(optimizer, *args, **kwargs)

        with monkeypatch.context() as patch:
            patch.setattr(optimizer_class, "step", step)
            yield self

    @property
    def norms(self) -> list[float]:
        return [torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads])).item() for grads in self.grads]


def test_trainer_clips_the_gradient_the_optimizer_sees(sick, tmp_path, monkeypatch):
    """Bug caught: optimizer.clip_norm ignored, or applied after optimizer.step (recurrent_baselines' RNN)."""
    clip = 1e-3
    unclipped, clipped = StepRecorder(), StepRecorder()
    with unclipped.recording(monkeypatch, torch.optim.Adagrad):
        train(sick("training.epochs=1", train=60, dev=30), tmp_path / "unclipped")
    with clipped.recording(monkeypatch, torch.optim.Adagrad):
        train(sick("training.epochs=1", f"optimizer.clip_norm={clip}", train=60, dev=30), tmp_path / "clipped")
    assert len(clipped.grads) == len(unclipped.grads) == 3  # 60 pairs, batches of 25
    assert min(unclipped.norms) > 10 * clip  # so clipping has work to do at every step
    assert clipped.norms == pytest.approx([clip] * 3, rel=1e-4)
    # The first step (same weights, same batch): the same direction, scaled down to the clip norm.
    scale = clip / unclipped.norms[0]
    for before, after in zip(unclipped.grads[0], clipped.grads[0]):
        torch.testing.assert_close(after, before * scale, rtol=1e-4, atol=1e-12)
    for run in ("unclipped", "clipped"):
        assert all(record["train_loss"] >= 0 for record in epochs_of(tmp_path / run))  # a KL divergence


def test_study_training_step_clips_before_the_update():
    """Bug caught: the gradient_flow study's clip_norm ignored, or applied after the update."""
    from treenets.study.config import ModelSizes
    from treenets.study.recurrent import Regressor, adding_problem, build_encoder, training_step

    torch.manual_seed(0)
    model = Regressor(build_encoder("rnn_tanh", ModelSizes(hidden=6), 2, 12))
    x, target = adding_problem(8, 12, torch.Generator().manual_seed(1))
    reference_loss = F.mse_loss(model(x), target)
    reference = torch.autograd.grad(reference_loss, list(model.parameters()))
    norm = torch.linalg.vector_norm(torch.cat([g.flatten() for g in reference])).item()
    before = [p.detach().clone() for p in model.parameters()]

    seen = []

    class RecordingSGD(torch.optim.SGD):
        def step(self, closure=None):
            seen.append([p.grad.detach().clone() for p in self.param_groups[0]["params"]])
            return super().step(closure)

    lr, clip = 0.5, norm / 4
    loss = training_step(model, RecordingSGD(model.parameters(), lr=lr), x, target, clip)
    assert loss.item() == pytest.approx(reference_loss.item()) and loss.item() >= 0  # the loss before the update
    for grad, expected, old, new in zip(seen[0], reference, before, model.parameters()):
        torch.testing.assert_close(grad, expected * clip / norm, rtol=1e-4, atol=1e-10)  # clipped, same direction
        torch.testing.assert_close(new.detach(), old - lr * expected * clip / norm, rtol=1e-4, atol=1e-7)


# --------------------------------------------------------------------------- what the models are trained on
def sst_slice(data_mirror: Path, folder: Path, every: int = 400) -> dict[str, str]:
    """Every ``every``-th tree of SST's train file (all five root classes) as train, dev and test."""
    lines = (data_mirror / "sst" / "train.txt").read_text(encoding="utf-8").splitlines()[::every]
    path = folder / "sst_slice.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {split: str(path) for split in ("train", "dev", "test")}


@pytest.mark.parametrize("classes", [2, 5])
def test_the_labels_a_tree_model_is_trained_on(classes, data_mirror, tmp_path, monkeypatch, embedding_cache):
    """Bugs caught: a two-class model (tai2015_sst's sst_binary) keeping neutral sentences, training
    neutral nodes as a class, mapping 0-1 / 3-4 wrongly or getting the 5-class labels unmapped; a
    five-class model getting the two-class mapping."""
    from treenets.models.heads import SentimentHead

    files = sst_slice(data_mirror, tmp_path)
    seen = []
    original = SentimentHead.loss

    def recording_loss(logits, labels, num_examples):
        seen.append((labels.tolist(), num_examples))
        return original(logits, labels, num_examples)

    monkeypatch.setattr(SentimentHead, "loss", staticmethod(recording_loss))
    config = load_config({"task": "sentiment", "data": {"dataset": "sst", "files": files},
                          "model": {"name": "nary_treelstm", "hidden": 8},
                          "embeddings": {"cache_dir": embedding_cache}, "sentiment": {"classes": classes},
                          "training": {"epochs": 1, "device": "cpu"}})
    summary = train(config, tmp_path / "run")

    # Independently: every "(<digit>" of a PTB line opens one node; the first is the root.
    expected, sentences = Counter(), 0
    lines = Path(files["train"]).read_text(encoding="utf-8").splitlines()
    for line in lines:
        fine = [int(label) for label in re.findall(r"\((\d)", line)]
        if classes == 2 and fine[0] == 2:
            continue  # neutral sentence: left out of a two-class model
        sentences += 1
        expected.update(fine if classes == 5 else (-1 if label == 2 else int(label > 2) for label in fine))
    assert sentences == len(lines) if classes == 5 else 0 < sentences < len(lines)  # neutral roots dropped
    assert all(expected[label] for label in (range(5) if classes == 5 else (-1, 0, 1)))
    trained = Counter(label for labels, _ in seen for label in labels)
    assert trained == expected
    assert sum(count for _, count in seen) == sentences
    main = "fine_root" if classes == 5 else "binary_root"
    assert summary["early_stopping_metric"] == main and ("fine_root" in summary["dev"]) == (classes == 5)


def test_sst_with_dependency_trees_reads_the_parse_store(data_mirror, tmp_path):
    """Bug caught: ``tree: dependency`` on SST silently building the corpus's constituency trees."""
    files = sst_slice(data_mirror, tmp_path, every=1000)
    store = ParseStore(tmp_path / "parsed")
    chains = {}
    for line in Path(files["train"]).read_text(encoding="utf-8").splitlines():
        tokens = Tree.from_ptb(line).words
        n = len(tokens)
        heads = [i + 2 for i in range(n - 1)] + [0]  # each word headed by the next one: a chain
        cparents = [n + 1 + min(i, n - 2) for i in range(n)] + [0] + [n + k for k in range(1, n - 1)]
        store.add(ParsedSentence(" ".join(tokens), tokens, heads, ["dep"] * (n - 1) + ["root"], cparents))
        chains[tokens] = heads
    store.save()
    config = load_config({"task": "sentiment", "data": {"dataset": "sst", "files": files, "tree": "dependency",
                                                        "parse_store": str(tmp_path / "parsed")},
                          "model": {"name": "childsum_treelstm"}})
    examples = load_dataset(config, ["train"]).splits["train"]
    assert len(examples) == len(chains) >= 8
    for example in examples:
        tree = example.inputs[0]
        assert tree.num_nodes == tree.num_tokens  # one node per word: not SST's 2n - 1 constituents
        assert tree.to_parents() == chains[tree.tokens]
        # Only spans that are SST phrases keep a label: the last word's subtree is the whole sentence.
        assert tree.labels[tree.root] >= 0
    constituency = load_dataset(load_config({**config_dict(config), "data": {"dataset": "sst", "files": files}}),
                                ["train"]).splits["train"]
    assert [e.inputs[0].num_nodes for e in constituency] == [2 * e.inputs[0].num_tokens - 1 for e in constituency]


def config_dict(config) -> dict:
    from treenets.config import to_dict

    return {key: value for key, value in to_dict(config).items() if key in ("task", "model")}


# --------------------------------------------------------------------------- the loss
def uniform_sentiment_model(name: str, classes: int = 5):
    from treenets.config import model_config
    from treenets.models.heads import SentimentHead

    model = build_model(model_config(name=name, hidden=4), np.ones((6, 3), dtype=np.float32),
                        lambda hidden: SentimentHead(hidden, classes, dropout=0.0), freeze_embeddings=True,
                        max_length=10)
    with torch.no_grad():
        model.head.output.weight.zero_()
        model.head.output.bias.copy_(torch.arange(classes, dtype=torch.float32))  # logits = [0, 1, ..., C-1]
    return model.eval()


def sentiment_loss(model, batch):
    """The sentiment task's loss (what the trainer minimises) of a batch whose labels ride in it."""
    sentences = batch.num_trees if isinstance(batch, TreeBatch) else batch.num_sequences
    collated = Batch([str(i) for i in range(sentences)], (batch,), batch.labels, np.zeros(sentences))
    return task_for("sentiment").loss(model, collated)


def test_sentiment_loss_sums_over_labelled_nodes_and_divides_by_sentences():
    """Bugs caught: the mean over nodes, a division by every node (labelled or not) or no division."""
    model = uniform_sentiment_model("childsum_treelstm")
    first = Tree.from_ptb("(3 (2 The) (4 (3 (2 film) (4 rocks)) (2 .)))")  # 7 labelled nodes
    second = Tree.from_parents(["very", "bad"], [2, 0], labels=[-1, 0])  # 2 nodes, 1 labelled
    batch = TreeBatch.from_trees([first, second], [[1, 2, 3, 4], [1, 5]])
    log_partition = math.log(sum(math.exp(k) for k in range(5)))
    labels = [label for tree in (first, second) for label in tree.labels if label >= 0]
    expected = sum(log_partition - label for label in labels) / 2  # -log softmax(label), summed, / 2 sentences
    assert len(labels) == 8 and batch.num_nodes == 9
    assert sentiment_loss(model, batch).item() == pytest.approx(expected, rel=1e-6)

    sequences = uniform_sentiment_model("lstm")
    batch = SequenceBatch.from_token_ids([[1, 2], [3], [4, 5, 1]], labels=[4, 0, 1])
    expected = sum(log_partition - label for label in (4, 0, 1)) / 3
    assert sentiment_loss(sequences, batch).item() == pytest.approx(expected, rel=1e-6)


def test_epochs_jsonl_holds_the_mean_training_loss_per_pair(sick, tmp_path):
    """Bugs caught: the last batch's loss dropped, batch means averaged unweighted, a loss of the
    wrong sign. With a learning rate of 1e-12 the weights stay put, so every epoch's loss is the
    mean loss of the final model over all 110 training pairs (batches of 25, 25, 25, 25, 10)."""
    config = sick("optimizer.lr=1e-12", "training.epochs=2", train=110, dev=30)
    train(config, tmp_path)
    _, vocab, model, _ = load_best(tmp_path)
    examples = load_dataset(config, ["train"]).splits["train"]
    sides = [SequenceBatch.from_token_ids([vocab.encode(e.inputs[side]) for e in examples]) for side in (0, 1)]
    scores = torch.tensor([e.target for e in examples], dtype=torch.float32)
    with torch.no_grad():
        log_probs = model(*sides)
    # KL(target || p) per pair, written out: sum_k t_k (log t_k - log p_k)
    from treenets.models.heads import sparse_target

    target = sparse_target(scores, 1, 5)
    per_pair = torch.where(target > 0, target * (target.clamp_min(1e-30).log() - log_probs), 0.0).sum(1)
    expected = per_pair.mean().item()
    losses = [record["train_loss"] for record in epochs_of(tmp_path)]
    assert losses == pytest.approx([expected, expected], rel=1e-5)
    assert expected > 0


# --------------------------------------------------------------------------- significance and the report
def write_sentiment_predictions(path: Path, gold, predicted) -> Path:
    binary = [int(p > 2) for p in predicted]
    pd.DataFrame({"id": [str(i) for i in range(len(gold))], "gold": gold, "predicted": predicted,
                  "predicted_binary": binary}).to_csv(path, sep="\t", index=False)
    return path


def test_paired_bootstrap_p_value_is_two_sided(tmp_path):
    """Bugs caught: a one-sided p (P(D* <= 0)), or ties not counted (> instead of >=).

    Four sentences; A is right where B is wrong twice, both right once, B right where A is wrong
    once: per-example differences d = (1, 1, 0, -1), delta = 0.25. Enumerating all 4^4 equally likely
    resamples gives the exact two-sided p = P(|D* - delta| >= |delta|) = 0.78125; one-sided 0.375.
    """
    gold = [0, 1, 2, 3]
    a = write_sentiment_predictions(tmp_path / "a.tsv", gold, [0, 1, 2, 4])
    b = write_sentiment_predictions(tmp_path / "b.tsv", gold, [4, 4, 2, 3])
    d = np.array([1, 1, 0, -1])
    resampled = np.array([d[list(index)].mean() for index in itertools.product(range(4), repeat=4)])
    exact = np.mean(np.abs(resampled - d.mean()) >= abs(d.mean()))
    assert exact == 0.78125 and np.mean(resampled <= 0) == 0.375
    comparison = paired_bootstrap(a, b, "fine", n_resamples=20_000, seed=3)
    assert comparison.delta == 0.25 and comparison.n == 4
    assert comparison.p_value == pytest.approx(exact, abs=0.02)
    assert paired_bootstrap(b, a, "fine", n_resamples=20_000, seed=3).p_value == pytest.approx(exact, abs=0.02)


def fake_relatedness_run(folder: Path, gold: np.ndarray, predicted: np.ndarray, losses) -> Path:
    folder.mkdir(parents=True)
    pd.DataFrame({"id": [str(i) for i in range(len(gold))], "gold": gold, "predicted": predicted}).to_csv(
        folder / "predictions.tsv", sep="\t", index=False)
    (folder / "metrics.json").write_text(json.dumps(relatedness_metrics(gold, predicted)))
    (folder / EPOCHS).write_text("".join(json.dumps({"epoch": e + 1, "train_loss": loss, "dev": {"pearson": 0.5}})
                                         + "\n" for e, loss in enumerate(losses)))
    return folder


def test_report_compares_median_seed_runs_and_plots_the_train_loss(tmp_path, monkeypatch):
    """Bugs caught: the representative run taken unsorted, as the best or the upper middle seed;
    the learning curve plotting something else than epochs.jsonl's train_loss (mean over seeds)."""
    rng = np.random.default_rng(0)
    gold = rng.uniform(1, 5, 80)
    base_a, base_b = rng.normal(size=80), rng.normal(size=80)
    # A: three seeds given in the order best, worst, median; B: two seeds (the lower middle is the worse).
    a_scales, b_scales = (0.5, 0.9, 0.7), (0.8, 1.0)
    runs = [("a", fake_relatedness_run(tmp_path / f"a{k}", gold, gold + s * base_a, [1.0 + k, 0.5 + k]))
            for k, s in enumerate(a_scales)]
    runs += [("b", fake_relatedness_run(tmp_path / f"b{k}", gold, gold + s * base_b, [2.0, 3.0 + k]))
             for k, s in enumerate(b_scales)]

    figures = []
    from matplotlib.figure import Figure

    original_savefig = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda figure, *args, **kwargs: (
        figures.append(figure), original_savefig(figure, *args, **kwargs))[1])
    paths = write_report("relatedness", "sick", runs, tmp_path / "out", n_resamples=2000)

    table = pd.read_csv(paths["table_csv"]).set_index("model")
    def p(a_run, b_run):  # noqa: E306
        return paired_bootstrap(tmp_path / a_run / "predictions.tsv", tmp_path / b_run / "predictions.tsv",
                                "pearson", n_resamples=2000).p_value

    expected = p("a2", "b1")  # A's median seed (scale 0.7) against B's lower middle (scale 1.0)
    wrong = {p(x, y) for x in ("a0", "a1") for y in ("b0", "b1")} | {p("a2", "b0")}
    assert expected not in wrong  # so the choice of runs is visible in the p-value
    assert table.loc["b", "p_vs_best"] == pytest.approx(expected, rel=1e-8)
    assert np.isnan(table.loc["a", "p_vs_best"])
    assert table.loc["a", "pearson_mean"] == pytest.approx(
        np.mean([relatedness_metrics(gold, gold + s * base_a)["pearson"] for s in a_scales]))

    curves = figures[0]  # the learning curves are drawn first
    loss_axis = curves.axes[0]
    assert loss_axis.get_ylabel() == "training loss"
    lines = {line.get_label(): line.get_ydata().tolist() for line in loss_axis.get_lines()}
    assert lines["a"] == pytest.approx([2.0, 1.5]) and lines["b"] == pytest.approx([2.0, 3.5])
