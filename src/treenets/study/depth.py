"""Depth: deep stacks (Li et al.'s 21 layers) of residual IndRNN, LSTM and tanh RNN, trained on the
adding problem and on SST sentence sentiment, with each layer's gradient norm before and after.

A layer's gradient norm is ||dL/dW_l|| of its input weights (IndRNN: the projection; torch.nn's
stacks: ``weight_ih_l{l}``), measured on a fixed held-out batch: the signal that reaches layer l
from the loss at the top. The IndRNN is residual with ``study.models.indrnn_init``; by default
(``depth.indrnn_shortcut: preactivation``, ``indrnn_batch_norm: true``) it is Li et al. (2019)'s
pre-activation stack: a stream s_{i+1} = s_i + W_{i+1} IndRNN_i(BN(s_i)), so the shortcut carries
signed sums. With ``identity`` every layer adds its ReLU output to its input, a stream that only
grows with depth (at 21 layers most of its ReLUs died in training). The LSTM and RNN are plain
torch.nn stacks. Probes run in training mode: batch norm uses the probe batch's own statistics.
SST: the root label of a sentence from its tokens (word vectors tuned), a held-out accuracy.
"""

from __future__ import annotations

import dataclasses
import logging

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from treenets import train
from treenets.embeddings import Vocab, embedding_matrix
from treenets.models.sequence import IndRNN, RecurrentEncoder
from treenets.study.config import StudyConfig
from treenets.study.recurrent import (ADDING_INPUT_DIM, Regressor, adding_problem, build_encoder, full_lengths,
                                      make_optimizer, mean_prediction_mse, model_label, train_on_adding)

SST_CLASSES = 5
log = logging.getLogger(__name__)


def deep_encoder(config: StudyConfig, name: str, input_dim: int, length: int) -> nn.Module:
    """``name`` with ``depth.layers`` layers (IndRNN residual)."""
    settings = config.grad_norms.depth
    sizes = dataclasses.replace(config.models, hidden=settings.hidden, layers=settings.layers,
                                indrnn_layers=settings.layers)
    if name == "indrnn":
        return IndRNN(input_dim, sizes.hidden, settings.layers, mag=sizes.mag, constraint_len=length, residual=True,
                      preactivation=settings.indrnn_shortcut == "preactivation",
                      batch_norm=settings.indrnn_batch_norm, init=sizes.indrnn_init)
    return build_encoder(name, sizes, input_dim, length)


def layer_weights(encoder: nn.Module) -> list[Tensor]:
    """Each layer's input weights, bottom first."""
    if isinstance(encoder, IndRNN):
        return [projection.weight for projection in encoder.projections]
    if isinstance(encoder, RecurrentEncoder):
        return [getattr(encoder.rnn, f"weight_ih_l{layer}") for layer in range(encoder.rnn.num_layers)]
    raise TypeError(f"no layers to probe in {type(encoder).__name__}")


def layer_gradient_norms(model: nn.Module, loss: Tensor) -> list[float]:
    grads = torch.autograd.grad(loss, layer_weights(model.encoder))
    return [g.norm().item() for g in grads]


def rows(task: str, label: str, phase: str, norms: list[float], **extra) -> list[dict]:
    return [{"part": f"depth_{task}", "model": label, "phase": phase, "position": layer, "norm": norm, "count": 1,
             **extra} for layer, norm in enumerate(norms, start=1)]


# --------------------------------------------------------------------------- the adding problem
def adding_rows(config: StudyConfig, device: torch.device) -> tuple[list[dict], list[dict]]:
    settings = config.grad_norms.depth
    probe_x, probe_y = adding_problem(settings.batch_size, settings.length, torch.Generator().manual_seed(config.seed + 1))
    probe_x, probe_y = probe_x.to(device), probe_y.to(device)
    out, summary = [], []
    for name in settings.models:
        torch.manual_seed(config.seed)
        model = Regressor(deep_encoder(config, name, ADDING_INPUT_DIM, settings.length)).to(device)
        label = model_label(name, config.models)
        before = F.mse_loss(model(probe_x), probe_y)
        out += rows("adding", label, "init", layer_gradient_norms(model, before))
        optimizer = make_optimizer("adam", model, settings.lr)
        losses = train_on_adding(model, settings.train_steps, settings.batch_size, settings.length, optimizer,
                                 settings.clip_norm, config.seed, device)
        after = F.mse_loss(model(probe_x), probe_y)
        trained = layer_gradient_norms(model, after)
        finite = all(map(torch.isfinite, losses))
        out += rows("adding", label, "trained", trained, train_steps=settings.train_steps,
                    final_train_loss=torch.stack(losses[-10:]).mean().item())
        summary.append({"task": f"adding T={settings.length}", "model": label, "layers": settings.layers,
                        "steps": settings.train_steps, "metric": "held-out MSE", "init": before.item(),
                        "trained": after.item(), "baseline": mean_prediction_mse(probe_y),
                        "finite": finite})
        log.info("depth adding %s: MSE %.4g -> %.4g", label, before.item(), after.item())
    return out, summary


# --------------------------------------------------------------------------- SST sentences
class SentenceSentiment(nn.Module):
    """Tuned word vectors -> a sequence encoder -> 5-class softmax on the sentence vector."""

    def __init__(self, vectors, encoder: nn.Module):
        super().__init__()
        self.embed = nn.Embedding.from_pretrained(torch.from_numpy(vectors), freeze=False, padding_idx=0)
        self.encoder = encoder
        self.output = nn.Linear(encoder.hidden_size, SST_CLASSES)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        return self.output(self.encoder(self.embed(ids), lengths))

    def constrain_(self) -> None:
        """IndRNN's |u| bound after every update (train.training_step calls it)."""
        if isinstance(self.encoder, IndRNN):
            self.encoder.constrain_()


def sentence_batch(trees, vocab: Vocab, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """Padded word ids [B, T], lengths [B], root labels [B]."""
    ids = [torch.tensor(vocab.encode(tree.words)) for tree in trees]
    lengths = torch.tensor([len(i) for i in ids])
    padded = nn.utils.rnn.pad_sequence(ids, batch_first=True)
    labels = torch.tensor([tree.labels[tree.root] for tree in trees])
    return padded.to(device), lengths, labels.to(device)


def sst_rows(config: StudyConfig, device: torch.device, train_trees: list, probe_trees: list
             ) -> tuple[list[dict], list[dict]]:
    settings, tree_settings = config.grad_norms.depth, config.grad_norms.tree
    vocab = Vocab.build(tree.words for tree in train_trees + probe_trees)
    vectors = embedding_matrix(vocab, tree_settings.embeddings, config.seed, tree_settings.embeddings_cache)
    probe = sentence_batch(probe_trees, vocab, device)
    longest = max(len(tree.words) for tree in train_trees)
    order = torch.randperm(len(train_trees), generator=torch.Generator().manual_seed(config.seed)).tolist()
    majority = torch.tensor([tree.labels[tree.root] for tree in train_trees]).mode().values
    majority_accuracy = (probe[2] == majority.to(device)).float().mean().item()  # always the commonest label
    out, summary = [], []
    for name in settings.models:
        torch.manual_seed(config.seed)
        model = SentenceSentiment(vectors, deep_encoder(config, name, vectors.shape[1], longest)).to(device)
        label = model_label(name, config.models)

        def probe_loss() -> tuple[Tensor, float]:
            logits = model(probe[0], probe[1])
            return F.cross_entropy(logits, probe[2]), (logits.argmax(-1) == probe[2]).float().mean().item()

        before, accuracy_before = probe_loss()
        out += rows("sst", label, "init", layer_gradient_norms(model, before))
        optimizer = make_optimizer("adam", model, settings.lr)
        losses = []
        for step in range(settings.sst_train_steps):
            first = step * settings.sst_batch_size
            ids, lengths, labels = sentence_batch(
                [train_trees[order[(first + i) % len(order)]] for i in range(settings.sst_batch_size)], vocab, device)
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(ids, lengths), labels)
            train.training_step(model, optimizer, loss, settings.clip_norm)
            losses.append(loss.detach())
        after, accuracy_after = probe_loss()
        out += rows("sst", label, "trained", layer_gradient_norms(model, after), train_steps=settings.sst_train_steps,
                    final_train_loss=torch.stack(losses[-10:]).mean().item())
        summary.append({"task": "SST root sentiment", "model": label, "layers": settings.layers,
                        "steps": settings.sst_train_steps, "metric": "held-out accuracy", "init": accuracy_before,
                        "trained": accuracy_after, "baseline": majority_accuracy,
                        "finite": all(map(torch.isfinite, losses))})
        log.info("depth SST %s: accuracy %.3f -> %.3f", label, accuracy_before, accuracy_after)
    return out, summary


def run_all(config: StudyConfig, device: torch.device, train_trees: list, probe_trees: list
            ) -> tuple[list[dict], list[dict]]:
    """Per-layer norm rows (the grad_norms table's format) and one summary row per (task, model); SST:
    the tree probe's training and held-out trees, read as sentences."""
    adding_out, adding_summary = adding_rows(config, device)
    sst_out, sst_summary = sst_rows(config, device, train_trees, probe_trees)
    return adding_out + sst_out, adding_summary + sst_summary
