"""The gradient-flow and sequence-length study: its probes against hand-computed values, the adding
problem's targets, the speed table's shape, the config's checks and the three CLI commands."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from treenets.batching import TreeBatch
from treenets.cli import main
from treenets.errors import InputError
from treenets.models.tree_lstm import NaryTreeLSTM
from treenets.study import adding, speed
from treenets.study.config import ModelSizes, load_study_config
from treenets.study.grad_norms import depth_gradient_norms, node_depths, trace_tree_lstm, tree_sentiment
from treenets.study.recurrent import Regressor, adding_problem, build_encoder, step_gradient_norms
from treenets.trees import Tree

SST_LINES = [
    "(3 (2 It) (4 (4 (2 's) (4 (3 (2 a) (4 (3 lovely) (2 film))) (2 (2 with) (3 charm)))) (2 .)))",
    "(1 (2 No) (1 (2 one) (1 (2 goes) (2 here))))",
    "(2 (2 A) (2 film))",
    "(4 great)",
    "(0 (1 (2 (2 a) (1 dull)) (2 ,)) (1 (2 lifeless) (0 (2 (2 and) (2 (2 badly) (1 acted))) (2 mess))))",
    "(3 (2 (2 The) (3 actors)) (3 (2 are) (3 fine)))",
]
TINY = [  # settings that make every command finish in seconds
    "study.models.hidden=4",
    "study.grad_norms.length=6", "study.grad_norms.batch_size=3", "study.grad_norms.train_steps=2",
    "study.grad_norms.tree.train_trees=4", "study.grad_norms.tree.probe_trees=2",
    "study.grad_norms.tree.batch_size=2", "study.grad_norms.tree.train_steps=2",
    "study.grad_norms.tree.embeddings=random:3",
    "study.grad_norms.depth.layers=3", "study.grad_norms.depth.hidden=4", "study.grad_norms.depth.length=6",
    "study.grad_norms.depth.batch_size=3", "study.grad_norms.depth.train_steps=2",
    "study.grad_norms.depth.sst_train_steps=2", "study.grad_norms.depth.sst_batch_size=2",
    "study.adding.lengths=[4, 9]", "study.adding.steps=2", "study.adding.optimizer=sgd",
    "study.adding.batch_size=3", "study.adding.test_size=5",
    "study.speed.lengths=[4, 8]", "study.speed.warmup_steps=0", "study.speed.timed_steps=1",
]


def trees() -> list[Tree]:
    return [Tree.from_ptb(line, labelled=True) for line in SST_LINES]


# ---------------------------------------------------------------- the adding problem
def test_adding_problem_marks_two_values_one_per_half_and_sums_them():
    x, target = adding_problem(200, 11, torch.Generator().manual_seed(3))
    values, markers = x[..., 0], x[..., 1]
    assert x.shape == (200, 11, 2) and target.shape == (200,)
    assert ((values >= 0) & (values < 1)).all()
    assert set(markers.unique().tolist()) == {0.0, 1.0}
    assert (markers.sum(1) == 2).all()
    assert (markers[:, :5].sum(1) == 1).all() and (markers[:, 5:].sum(1) == 1).all()  # one in each half
    for row in range(200):
        marked = markers[row].nonzero().squeeze(1)
        assert target[row].item() == pytest.approx(values[row, marked].sum().item(), abs=0)
    # The baseline of the captions: predicting 1 scores Var(U1 + U2) = 1/6.
    _, many = adding_problem(20000, 4, torch.Generator().manual_seed(0))
    assert F.mse_loss(torch.ones_like(many), many).item() == pytest.approx(1 / 6, abs=0.01)


def test_adding_problem_is_seeded_and_rejects_one_step():
    first = adding_problem(4, 6, torch.Generator().manual_seed(1))
    again = adding_problem(4, 6, torch.Generator().manual_seed(1))
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    with pytest.raises(InputError, match="length >= 2"):
        adding_problem(4, 1, torch.Generator())


# ---------------------------------------------------------------- the per-step probe
@pytest.mark.parametrize("encoder_name", ["rnn_relu", "indrnn"])
@pytest.mark.parametrize("w", [0.5, 1.5])
def test_probe_of_a_linear_rnn_scales_as_w_to_the_distance(encoder_name, w):
    """ReLU with positive weights, inputs and biases never clips: h_t = w h_{t-1} + a x_t + b, so
    dL/dh_t = w^(T-t) dL/dh_T with dL_b/dh_T = 2 (y_hat_b - y_b) r, r the readout weights."""
    T, B, hidden = 7, 5, 2
    sizes = ModelSizes(hidden=hidden, indrnn_layers=1)
    model = Regressor(build_encoder(encoder_name, sizes, 2, T)).double()
    with torch.no_grad():
        if encoder_name == "rnn_relu":
            rnn = model.encoder.rnn
            rnn.weight_hh_l0.copy_(w * torch.eye(hidden))
            rnn.weight_ih_l0.fill_(0.3)
            rnn.bias_ih_l0.fill_(0.1)
            rnn.bias_hh_l0.fill_(0.0)
        else:
            model.encoder.recurrent[0].fill_(w)
            model.encoder.projections[0].weight.fill_(0.3)
            model.encoder.projections[0].bias.fill_(0.1)
        model.readout.weight.copy_(torch.tensor([[0.7, -0.4]], dtype=torch.float64))
        model.readout.bias.fill_(0.2)
    x, y = adding_problem(B, T, torch.Generator().manual_seed(0))
    x, y = x.double(), y.double()

    drive = 0.3 * x.sum(-1) + 0.1  # [B, T]: every hidden unit gets the same a x_t + b
    h_T = sum(w ** (T - 1 - t) * drive[:, t] for t in range(T))  # [B], per unit
    prediction = h_T * (0.7 - 0.4) + 0.2
    last = (2 * (prediction - y).abs() * math.hypot(0.7, -0.4)).mean()
    expected = torch.stack([last * w ** (T - 1 - t) for t in range(T)])

    norms = step_gradient_norms(model, x, y)
    assert norms.shape == (T,)
    torch.testing.assert_close(norms, expected, rtol=1e-10, atol=0)


@pytest.mark.parametrize("name", ["rnn_tanh", "lstm", "gru", "indrnn"])
def test_probe_gives_one_finite_norm_per_step_and_its_last_is_autograds(name):
    torch.manual_seed(0)
    T = 9
    model = Regressor(build_encoder(name, ModelSizes(hidden=3), 2, T))
    x, y = adding_problem(4, T, torch.Generator().manual_seed(0))
    norms = step_gradient_norms(model, x, y)
    assert norms.shape == (T,) and torch.isfinite(norms).all() and (norms > 0).all()
    # The last state is the sentence vector of the encoder's own forward (one cuDNN/ATen call).
    model = model.double()
    sentences = model.encoder(x.double(), torch.full((4,), T)).detach().requires_grad_(True)
    loss = F.mse_loss(model.readout(sentences).squeeze(-1), y.double(), reduction="sum")
    (grad,) = torch.autograd.grad(loss, sentences)
    assert norms[-1].item() == pytest.approx(grad.norm(dim=1).mean().item(), rel=1e-5)


# ---------------------------------------------------------------- trees
def test_node_depths_count_edges_to_the_root():
    tree = Tree.from_ptb("(2 (2 A) (3 (2 good) (2 film)))", labelled=True)
    depth = node_depths([tree, Tree.from_ptb("(4 great)", labelled=True)])
    assert depth[list(tree.tokens).index("A")] == 1
    assert depth[list(tree.tokens).index("film")] == 2
    assert depth[tree.root] == 0 and depth[tree.num_nodes] == 0  # the second tree's only node
    assert sorted(depth[:tree.num_nodes].tolist()) == [0, 1, 1, 2, 2]


def test_tree_trace_is_the_encoders_function_and_gradient():
    torch.manual_seed(0)
    sample = trees()
    batch = TreeBatch.from_trees(sample, [list(range(2, t.num_tokens + 2)) for t in sample])
    encoder = NaryTreeLSTM(3, 4).double()
    x = (torch.randn(batch.num_nodes, 3, dtype=torch.float64) * batch.has_word.unsqueeze(1)).requires_grad_(True)
    weights = torch.randn(batch.num_nodes, 4, dtype=torch.float64)
    traced, levels = trace_tree_lstm(encoder, batch, x)
    assert [len(level) for level in levels] == [b - a for a, b in zip(batch.level_bounds[:-1], batch.level_bounds[1:])]
    torch.testing.assert_close(traced, encoder(batch, x), rtol=1e-12, atol=1e-12)
    (traced_grad,) = torch.autograd.grad((traced * weights).sum(), x)
    (encoder_grad,) = torch.autograd.grad((encoder(batch, x) * weights).sum(), x)  # its hand-written backward
    torch.testing.assert_close(traced_grad, encoder_grad, rtol=1e-10, atol=1e-12)


def test_depth_norms_at_the_root_are_the_softmax_gradient():
    """At depth 0 only the roots: dL/dh_root = W_out^T (softmax(logits) - onehot(label))."""
    torch.manual_seed(0)
    sample = trees()
    batch = TreeBatch.from_trees(sample, [list(range(2, t.num_tokens + 2)) for t in sample])
    model = tree_sentiment(torch.randn(40, 3).numpy(), hidden=4).double().eval()
    norms, counts = depth_gradient_norms(model, batch, torch.from_numpy(node_depths(sample)))
    assert counts.sum().item() == batch.num_nodes and counts[0].item() == len(sample)
    assert len(norms) == max(t.depth for t in sample) + 1 and torch.isfinite(norms).all()
    h = model.encoder(batch, model.embedding(batch.word_ids))[batch.roots]
    probabilities = model.head(h).softmax(-1)
    delta = probabilities - F.one_hot(batch.labels[batch.roots], 5)
    expected = (delta @ model.head.output.weight).norm(dim=1).mean()
    assert norms[0].item() == pytest.approx(expected.item(), rel=1e-10)


def test_indrnn_learns_the_adding_problem_at_t100_in_a_few_hundred_steps():
    """Li et al.'s 2-layer IndRNN (hidden 128, ReLU, their initialisation), Adam, batch 50: the test MSE
    starts at the mean-predicting 1/6 and falls well below it; the run stops at the target."""
    config = load_study_config(None, [
        "study.models.indrnn_init=li2018",
        'study.adding={"models": ["indrnn"], "lengths": [100], "hidden": 128, "batch_size": 50, "lr": 1.0e-3, '
        '"steps": 500, "eval_every": 50, "target_mse": 0.05, "clip_norm": 10.0, "unclipped": false, '
        '"test_size": 200}'])
    table, curves = adding.run_all(config, torch.device("cpu"))
    assert len(table) == 1 and bool(table["converged"].iloc[0])
    assert table["test_mse"].iloc[0] < 0.05 < 0.167 and table["steps"].iloc[0] <= 500
    assert curves["test_mse"].iloc[0] > 0.1  # it had to learn: no shortcut from the first batches
    assert list(curves["step"]) == list(range(50, int(table["steps"].iloc[0]) + 1, 50))


def test_adding_runs_split_by_length_merge_into_the_same_table(tmp_path, capsys):
    """The workflow runs every T as its own job: merged, the numbers are those of one run over all T."""
    options = ["--device", "cpu"] + [arg for setting in TINY for arg in ("--set", setting)] + \
        ["--set", 'study.adding.models=["indrnn", "lstm"]', "--set", "study.adding.eval_every=1"]
    assert main(["study", "adding", "--out", str(tmp_path / "all")] + options) == 0
    for length in (4, 9):
        assert main(["study", "adding", "--out", str(tmp_path / f"T{length}")] + options +
                    ["--set", f"study.adding.lengths=[{length}]"]) == 0
    runs = [str(tmp_path / "T9"), str(tmp_path / "T4")]
    assert main(["study", "adding-merge", "--out", str(tmp_path / "merged"), "--runs", *runs] + options) == 0
    numbers = ["model", "T", "clipping", "steps", "test_mse", "final_train_mse"]
    whole, merged = (pd.read_csv(tmp_path / folder / "adding.csv") for folder in ("all", "merged"))
    pd.testing.assert_frame_equal(merged[numbers], whole[numbers])
    curves = pd.read_csv(tmp_path / "merged" / "adding_curves.csv")
    assert len(curves) == 2 * 2 * 2 * 2  # models x T x clipping x 2 evaluations
    assert (tmp_path / "merged" / "adding.md").read_text().split("\n")[:6] == \
        (tmp_path / "all" / "adding.md").read_text().split("\n")[:6]
    capsys.readouterr()
    assert main(["study", "adding-merge", "--out", str(tmp_path / "bad"), "--runs", runs[0]] + options) == 1
    assert "the runs in" in capsys.readouterr().err and not (tmp_path / "bad" / "adding.csv").exists()


def test_adding_budgets_per_model():
    config = load_study_config(None, ['study.adding.steps_by_model={"lstm": 5}', "study.adding.steps=9"])
    assert config.adding.budget("lstm") == 5 and config.adding.budget("indrnn") == 9
    with pytest.raises(InputError, match="study.adding.steps_by_model: unknown model 'elman'"):
        load_study_config(None, ['study.adding.steps_by_model={"elman": 5}'])
    with pytest.raises(InputError, match="study.adding.steps_by_model.lstm: must be > 0"):
        load_study_config(None, ['study.adding.steps_by_model={"lstm": 0}'])


def test_adding_caption_states_the_budgets_the_runs_had():
    """Merged runs made with different step budgets (a longer IndRNN run at T = 5000): the caption names
    the commonest budget and every run with another, from the table, not from the merging config."""
    table = pd.DataFrame({"model": ["IndRNN", "LSTM", "IndRNN", "LSTM"], "T": [100, 100, 5000, 1000],
                          "budget": [4000, 4000, 10000, 5]})
    assert adding.budget_text(table) == "at most 4000 training steps (IndRNN at T=5000: 10000, LSTM at T=1000: 5)"
    assert adding.budget_text(table.iloc[:2]) == "at most 4000 training steps"


def test_adding_learning_rates_per_model_reach_the_optimizer_and_the_table(monkeypatch):
    config = load_study_config(None, ['study.adding.lr_by_model={"indrnn": 2.0e-4}', "study.adding.lr=1.0e-3",
                                      'study.adding.models=["indrnn", "lstm"]', "study.adding.lengths=[5]",
                                      "study.adding.steps=1", "study.adding.unclipped=false",
                                      "study.adding.test_size=4"])
    assert config.adding.learning_rate("indrnn") == 2e-4 and config.adding.learning_rate("lstm") == 1e-3
    rates = []
    original = adding.make_optimizer
    monkeypatch.setattr(adding, "make_optimizer", lambda name, model, lr: rates.append(lr) or original(name, model, lr))
    table, _ = adding.run_all(config, torch.device("cpu"))
    assert rates == [2e-4, 1e-3] and list(table["lr"]) == [2e-4, 1e-3]
    assert "Adam lr 0.001 (IndRNN 0.0002)" in adding.caption(config, table.assign(baseline_mse=0.167))
    with pytest.raises(InputError, match="study.adding.lr_by_model.lstm: must be > 0"):
        load_study_config(None, ['study.adding.lr_by_model={"lstm": 0}'])


# ---------------------------------------------------------------- speed table
def test_speed_table_has_one_row_per_model_and_length():
    config = load_study_config(None, TINY)
    table = speed.run_all(config, torch.device("cpu"))
    assert len(table) == len(config.speed.models) * len(config.speed.lengths) == 10
    assert not table.duplicated(["model", "T"]).any()
    assert (table["steps_per_second"] > 0).all() and table["steps_per_second"].map(math.isfinite).all()
    reference = table[table["model"] == "GRU"]
    assert (reference["speedup_vs_reference"] == 1.0).all()
    assert "SRNN(8, 2) GRU" in set(table["model"])


# ---------------------------------------------------------------- config
def test_config_rejects_unknown_models_and_srnn_probes(tmp_path):
    with pytest.raises(InputError, match=r"study.adding.models: unknown model 'elman'"):
        load_study_config({"study": {"adding": {"models": ["lstm", "elman"]}}})
    with pytest.raises(InputError, match="srnn has no per-step states"):
        load_study_config(None, ["study.grad_norms.models=[srnn]"])
    with pytest.raises(InputError, match="study.speed.reference"):
        load_study_config(None, ["study.speed.models=[lstm]"])
    for lengths in ("[]", "[100, 1]"):
        with pytest.raises(InputError, match="study.adding.lengths: every T must be >= 2"):
            load_study_config(None, [f"study.adding.lengths={lengths}"])
    path = tmp_path / "experiment.yaml"
    path.write_text("study:\n  adding:\n    steps: 0\n")
    with pytest.raises(InputError, match="study.adding.steps: must be > 0") as error:
        load_study_config(path)
    assert str(error.value).startswith(str(path))
    path.write_text("experiment: x\nstudy:\n  adding:\n    steps: 7\n")
    assert load_study_config(path, ["study.seed=3"]).adding.steps == 7


# ---------------------------------------------------------------- the commands
def test_study_commands_write_their_tables_and_plots(tmp_path, capsys):
    sst = tmp_path / "sst.txt"
    sst.write_text("\n".join(SST_LINES) + "\n")
    options = ["--out", str(tmp_path / "study"), "--device", "cpu"]
    for setting in TINY + [f"study.grad_norms.tree.sst_file={sst}",
                           f"study.grad_norms.tree.embeddings_cache={tmp_path / 'embeddings'}"]:
        options += ["--set", setting]
    for part in ("grad-norms", "adding", "speed"):
        assert main(["study", part] + options) == 0
    out = tmp_path / "study"

    norms = pd.read_csv(out / "grad_norms.csv")
    sequences = norms[norms["part"] == "sequence"]
    assert len(sequences) == 5 * 2 * 6  # models x (init, trained) x steps
    assert sequences["norm"].map(math.isfinite).all()
    tree_rows = norms[norms["part"] == "tree"]
    assert tree_rows["position"].min() == 0 and set(tree_rows["phase"]) == {"init", "trained"}
    for task in ("adding", "sst"):  # 3 models x (init, trained) x 3 layers, finite; the top one reached
        deep = norms[norms["part"] == f"depth_{task}"]
        assert len(deep) == 3 * 2 * 3 and set(deep["position"]) == {1, 2, 3}
        assert (deep["norm"] >= 0).all() and deep["norm"].map(math.isfinite).all()  # a dead ReLU layer gets 0
        assert (deep[deep["position"] == 3]["norm"] > 0).all()
    summary = pd.read_csv(out / "depth.csv")
    assert len(summary) == 2 * 3 and summary["finite"].all()
    sst = summary[summary["task"] == "SST root sentiment"]  # the commonest label's share of the probe
    assert sst["baseline"].between(0, 1).all() and sst["baseline"].nunique() == 1
    assert "3 layers of hidden 4; IndRNN pre-activation residual" in (out / "depth.md").read_text()

    table = pd.read_csv(out / "adding.csv")
    assert len(table) == 5 * 2 * 2  # models x lengths x (clipped, not)
    assert set(table["clipping"].astype(str)) == {"1.0", "none"}
    assert (table["steps"] == 2).all() and not table["converged"].any()
    curves = pd.read_csv(out / "adding_curves.csv")  # no eval_every: one point per run, at its end
    assert len(curves) == len(table) and (curves["step"] == 2).all()
    text = (out / "adding.md").read_text()
    assert "after at most 2 training steps" in text and "SGD (momentum 0.9)" in text and "~0.167" in text
    assert "[2]" in text
    assert "CPU" in (out / "speed.md").read_text()
    for name in ("grad_norms.png", "adding.png", "speed.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_study_command_reports_bad_settings_in_one_line(tmp_path, capsys):
    assert main(["study", "speed", "--out", str(tmp_path), "--set", "study.speed.lengths=[1]"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("treenets: error: study.speed.lengths") and error.count("\n") == 1


def test_adding_table_marks_a_model_without_a_run_at_some_length():
    table = pd.DataFrame([{"model": "IndRNN", "clipping": 10, "T": 100, "test_mse": 0.01, "steps": 5},
                          {"model": "LSTM", "clipping": 10, "T": 100, "test_mse": float("nan"), "steps": 5},
                          {"model": "IndRNN", "clipping": 10, "T": 5000, "test_mse": 0.02, "steps": 7}])
    lines = adding.markdown(table, "caption").splitlines()
    assert [cell.strip() for cell in lines[2].split("|")[3:5]] == ["0.0100 [5]", "0.0200 [7]"]
    assert [cell.strip() for cell in lines[3].split("|")[3:5]] == ["diverged [5]", "not run"]
