"""Gradient norms over time: ||dL/dh_t|| at every step of the recurrent encoders, ||dL/dh|| at every
depth of the N-ary Tree-LSTM, at initialisation and after a short training.

Sequences: each model is probed on one fixed batch of adding-problem sequences (loss: the squared
error of the prediction from the last state) through the encoders' ``trace``, then trained on the
adding problem for ``train_steps`` and probed again. Trees: an N-ary Tree-LSTM with a sentiment
head is probed with the root label's cross-entropy on held-out SST trees, trained briefly on all
labelled nodes (Tai et al.'s loss), and probed again. A node's depth is its distance from the root,
the tree's counterpart of T - t: the number of compositions the gradient has passed through.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from treenets import train
from treenets.batching import TreeBatch
from treenets.config import model_config
from treenets.data.readers import read_sst
from treenets.embeddings import Vocab, embedding_matrix
from treenets.errors import InputError
from treenets.models import TaskModel, build_model
from treenets.models.heads import SentimentHead
from treenets.models.reference import nary_cell
from treenets.models.tree_lstm import NaryTreeLSTM
from treenets.plots import pyplot, save_figure
from treenets.study import depth
from treenets.study.config import StudyConfig, TreeProbeConfig
from treenets.study.output import write_results
from treenets.study.recurrent import (ADDING_INPUT_DIM, Regressor, adding_problem, build_encoder, describe_device,
                                      make_optimizer, model_label, step_gradient_norms,
                                      train_on_adding)
from treenets.trees import Tree, read_lines

SST_CLASSES = 5
TREE_LABEL = "N-ary Tree-LSTM"


# --------------------------------------------------------------------------- sequences
def sequence_rows(config: StudyConfig, device: torch.device) -> list[dict]:
    """Per-step norms of every sequence model, before and after training."""
    settings = config.grad_norms
    probe_x, probe_y = adding_problem(settings.batch_size, settings.length,
                                      torch.Generator().manual_seed(config.seed + 1))
    probe_x, probe_y = probe_x.to(device), probe_y.to(device)
    rows = []
    for name in settings.models:
        torch.manual_seed(config.seed)
        model = Regressor(build_encoder(name, config.models, ADDING_INPUT_DIM, settings.length)).to(device)
        label = model_label(name, config.models)
        rows += _norm_rows("sequence", label, "init", step_gradient_norms(model, probe_x, probe_y), settings.batch_size)
        optimizer = make_optimizer("adam", model, settings.lr)
        losses = train_on_adding(model, settings.train_steps, settings.batch_size, settings.length, optimizer,
                                 settings.clip_norm, config.seed, device)
        trained = _norm_rows("sequence", label, "trained", step_gradient_norms(model, probe_x, probe_y),
                             settings.batch_size)
        rows += _with_training(trained, settings.train_steps, losses)
    return rows


# --------------------------------------------------------------------------- trees
def trace_tree_lstm(encoder: NaryTreeLSTM, batch: TreeBatch, x: Tensor) -> tuple[Tensor, list[Tensor]]:
    """``encoder(batch, x)`` recomputed level by level on autograd: ``(h [N, H] in batch order, states)``
    with ``states[l]`` the level-order rows of level ``l`` as their own graph nodes, so that
    ``torch.autograd.grad(loss, states)`` yields dL/dh of every node (the encoder's hand-written
    backward keeps those to itself). The cell is the project's reference (Tai et al.'s eqs. 9-14
    with the encoder's parameters); tests check that ``h`` equals the encoder's output.
    """
    H, N = encoder.hidden_size, batch.num_nodes
    slots = F.pad(batch.child_slots, (0, encoder.arity - batch.child_slots.shape[1]), value=N)
    inputs, zero = batch.in_level_order(x), x.new_zeros(1, H)
    h_levels, c_levels = [], []
    for level, (start, stop) in enumerate(zip(batch.level_bounds[:-1], batch.level_bounds[1:])):
        if level == 0:  # the leaves (in a constituency tree exactly the nodes of height 0): no child slots
            kid_h = kid_c = x.new_zeros(stop - start, 0, H)
        else:  # children sit in earlier levels; an absent one (N) reads the zero row after them
            kids = slots[start:stop].clamp(max=start)
            kid_h, kid_c = torch.cat(h_levels + [zero])[kids], torch.cat(c_levels + [zero])[kids]
        h, c = nary_cell(encoder, inputs[start:stop], kid_h, kid_c)
        h_levels.append(h)
        c_levels.append(c)
    return batch.in_batch_order(torch.cat(h_levels)), h_levels


def node_depths(trees: list[Tree]) -> np.ndarray:
    """Distance from the root of every node, in batch order (tree after tree)."""
    depths = []
    for tree in trees:
        depth = [0] * tree.num_nodes
        for node in reversed(tree.postorder()):  # parents before their children
            for kid in tree.children[node]:
                depth[kid] = depth[node] + 1
        depths.extend(depth)
    return np.array(depths, dtype=np.int64)


def tree_sentiment(vectors: np.ndarray, hidden: int) -> TaskModel:
    """Tuned word vectors -> N-ary Tree-LSTM -> sentiment softmax at every node (Tai et al.'s SST model),
    from the project's model factory."""
    return build_model(model_config(name="nary_treelstm", hidden=hidden), vectors,
                       lambda width: SentimentHead(width, SST_CLASSES), freeze_embeddings=False)


def depth_gradient_norms(model: TaskModel, batch: TreeBatch, depths: Tensor) -> tuple[Tensor, Tensor]:
    """Mean ||dL_b/dh|| over the nodes at each depth (L_b: tree b's root cross-entropy), and the node counts."""
    h, levels = trace_tree_lstm(model.encoder, batch, model.embedding(batch.word_ids))
    logits = model.head(h.index_select(0, batch.roots))
    loss = F.cross_entropy(logits, batch.labels.index_select(0, batch.roots), reduction="sum")
    norms = torch.cat(torch.autograd.grad(loss, levels)).norm(dim=1)  # level order
    depth = batch.in_level_order(depths)
    counts = torch.bincount(depth)
    return norms.new_zeros(len(counts)).index_add(0, depth, norms) / counts, counts


def load_sst_slices(settings: TreeProbeConfig, seed: int) -> tuple[list[Tree], list[Tree]]:
    """A seeded random sample of the file's trees (its positives come first, so not its first lines):
    ``train_trees`` to train on, then ``probe_trees`` to probe."""
    total = len(read_lines(settings.sst_file))
    wanted = settings.train_trees + settings.probe_trees
    if wanted > total:
        raise InputError(f"study.grad_norms.tree asks for {wanted} trees, the file has {total}", settings.sst_file)
    picks = np.random.default_rng(seed).permutation(total)[:wanted] + 1
    trees = read_sst(settings.sst_file, lines=picks.tolist())
    return trees[:settings.train_trees], trees[settings.train_trees:]


def tree_rows(config: StudyConfig, device: torch.device) -> list[dict]:
    """Per-depth norms of the N-ary Tree-LSTM on held-out SST trees, before and after training."""
    settings = config.grad_norms.tree
    train_trees, probe_trees = load_sst_slices(settings, config.seed)
    vocab = Vocab.build(tree.words for tree in train_trees + probe_trees)
    vectors = embedding_matrix(vocab, settings.embeddings, config.seed, settings.embeddings_cache)
    torch.manual_seed(config.seed)
    model = tree_sentiment(vectors, config.models.hidden).to(device)

    def collate(trees: list[Tree]) -> TreeBatch:
        return TreeBatch.from_trees(trees, [vocab.encode(tree.words) for tree in trees]).to(device)

    probe = collate(probe_trees)
    depths = torch.from_numpy(node_depths(probe_trees)).to(device)

    def probe_rows(phase: str) -> list[dict]:
        # float64 (vanishing gradients stay measurable), no dropout: one function before and after training
        norms, counts = depth_gradient_norms(copy.deepcopy(model).double().eval(), probe, depths)
        return _norm_rows("tree", TREE_LABEL, phase, norms, counts.tolist(), start=0)

    rows = probe_rows("init")
    optimizer = train.optimizer_for("adagrad", model.parameters(), lr=settings.lr)
    order = torch.randperm(len(train_trees), generator=torch.Generator().manual_seed(config.seed)).tolist()
    losses = []
    for step in range(settings.train_steps):
        first = step * settings.batch_size
        batch = collate([train_trees[order[(first + i) % len(order)]] for i in range(settings.batch_size)])
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(batch), batch.labels, ignore_index=-1)  # every labelled node
        train.training_step(model, optimizer, loss, clip_norm=None)
        losses.append(loss.detach())
    return rows + _with_training(probe_rows("trained"), settings.train_steps, losses)


# --------------------------------------------------------------------------- output
def _norm_rows(part: str, model: str, phase: str, norms: Tensor, count, start: int = 1) -> list[dict]:
    """One CSV row per step (``start`` = 1: steps 1..T) or per depth (``start`` = 0: the root is 0)."""
    counts = count if isinstance(count, list) else [count] * len(norms)
    return [{"part": part, "model": model, "phase": phase, "position": start + i, "norm": value, "count": n}
            for i, (value, n) in enumerate(zip(norms.tolist(), counts))]


def _with_training(rows: list[dict], steps: int, losses: list[Tensor]) -> list[dict]:
    """Rows of a trained model, with its budget and its mean training loss over the last 10 steps."""
    final = torch.stack(losses[-10:]).mean().item() if losses else float("nan")
    return [{**row, "train_steps": steps, "final_train_loss": final} for row in rows]


def plot(table: pd.DataFrame, path: str | os.PathLike, title: str) -> None:
    """Log-scale norms: steps of the sequence models, depths of the Tree-LSTM (top); layers of the deep
    stacks on the adding problem and on SST (bottom)."""
    plt = pyplot()
    figure, axes = plt.subplots(2, 2, figsize=(12, 9))
    panels = [("sequence", "step t (the loss reads h_T)", "||dL/dh_t||, batch mean",
               "Recurrent encoders on the adding problem"),
              ("tree", "depth (0 = the root, where the loss is)", "||dL/dh||, mean over the nodes at that depth",
               "Tree-LSTM on SST (root loss)"),
              ("depth_adding", "layer (1 = the bottom; the loss reads the top)", "||dL/dW_l|| (input weights)",
               "Deep stacks on the adding problem"),
              ("depth_sst", "layer (1 = the bottom; the loss reads the top)", "||dL/dW_l|| (input weights)",
               "Deep stacks on SST sentences (root label)")]
    for axis, (part, xlabel, ylabel, heading) in zip(axes.flat, panels):
        rows = table[table["part"] == part]
        for index, (model, lines) in enumerate(rows.groupby("model", sort=False)):
            color = f"C{index}"
            for phase, style in (("init", "--"), ("trained", "-")):
                line = lines[lines["phase"] == phase]
                axis.plot(line["position"], line["norm"], style, color=color, label=f"{model}, {phase}")
        axis.set_yscale("log")
        axis.set_xlabel(xlabel)
        axis.set_ylabel(ylabel)
        axis.set_title(heading)
        if len(rows):
            axis.legend(fontsize=7)
    figure.suptitle(title, fontsize=9)
    save_figure(figure, path)


def depth_markdown(summary: pd.DataFrame, config: StudyConfig, device: torch.device) -> str:
    settings = config.grad_norms.depth
    table = summary.rename(columns={"task": "Task", "model": "Model", "layers": "Layers", "steps": "Steps",
                                    "metric": "Metric", "init": "At init", "trained": "Trained",
                                    "baseline": "Baseline", "finite": "Finite losses"})
    shortcut = ("pre-activation residual (Li et al. 2019: s + W IndRNN(BN(s)))"
                if settings.indrnn_shortcut == "preactivation" else "identity residual (s + IndRNN(W s))")
    norm = ", batch norm" if settings.indrnn_batch_norm else ""
    return table.to_markdown(index=False, floatfmt=".4g") + (
        f"\n\nDeep stacks: {settings.layers} layers of hidden {settings.hidden}; IndRNN {shortcut}{norm} "
        f"({config.models.indrnn_init} initialisation, |u| <= {config.models.mag:g}^(1/T)), LSTM and RNN (tanh) "
        f"plain torch.nn stacks. Adam lr {settings.lr:g}, gradient norm clipped at {settings.clip_norm:g}. Adding "
        f"problem: T={settings.length}, batch {settings.batch_size}, {settings.train_steps} steps, MSE on one "
        f"held-out batch. SST: {config.grad_norms.tree.train_trees} training sentences (root labels, "
        f"{config.grad_norms.tree.embeddings} vectors tuned), batch {settings.sst_batch_size}, "
        f"{settings.sst_train_steps} steps, accuracy on {config.grad_norms.tree.probe_trees} held-out sentences "
        f"(5 classes). Baseline: predicting the mean sum 1 (adding), always the commonest training label (SST). "
        f"Probes in training mode (batch norm with the probe's own statistics). Per-layer gradient norms: "
        f"grad_norms.csv (parts depth_adding, depth_sst) and grad_norms.png. {describe_device(device)}.\n")


def run(config: StudyConfig, out_dir: str | os.PathLike, device: torch.device) -> dict[str, Path]:
    deep_rows, deep_summary = depth.run_all(config, device, *load_sst_slices(config.grad_norms.tree, config.seed))
    table = pd.DataFrame(sequence_rows(config, device) + tree_rows(config, device) + deep_rows)
    paths = write_results(out_dir, "grad_norms", table)
    summary = pd.DataFrame(deep_summary)
    paths["depth"] = write_results(out_dir, "depth", summary, depth_markdown(summary, config, device))["markdown"]
    settings = config.grad_norms
    plot(table, paths["plot"],
         f"Adding problem T={settings.length}, batch {settings.batch_size}, {settings.train_steps} Adam steps; "
         f"SST: {settings.tree.probe_trees} held-out trees, {settings.tree.train_steps} Adagrad steps; "
         f"hidden {config.models.hidden}; deep stacks: {settings.depth.layers} layers (depth.md)\n"
         f"dashed: at initialisation, solid: trained; float64 probe (sequences, trees); {describe_device(device)}")
    return paths
