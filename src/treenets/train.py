"""The trainer: ``train(config, run_dir)`` runs epochs, keeps the best model on dev, resumes after a kill.

The run directory holds

* ``config.resolved.yaml``: the config with every default filled in (a rerun must match it);
* ``versions.json``: python / torch / numpy / stanza / treenets versions, the git commit (``+dirty``
  with uncommitted changes) and whether a clean tree was required, the device, and the sha256 of
  every data file read;
* ``epochs.jsonl``: one line per finished epoch (train loss, dev metrics, seconds, sentences/s);
* ``checkpoint-last.pt``: after every epoch, everything a resumed run needs (model, optimizer, torch
  RNG states, epoch, best-so-far, history), written atomically;
* ``vocab.txt``: the vocabulary (token ids = line numbers - 1);
* ``best.pt``: the model of the best dev epoch;
* ``training.json``: the best epoch and its dev metrics, written last, only when the run is
  complete (``treenets evaluate`` then adds ``metrics.json`` and ``predictions.tsv``).

Rerunning the same command continues from ``checkpoint-last.pt`` and ends with exactly the metrics
of an uninterrupted run: batches are shuffled by a generator seeded from (seed, epoch), dropout
draws from torch's global generator whose state is checkpointed, and deterministic algorithms are
required on the CPU. Loading uses ``torch.load(weights_only=True)``.

What depends on the task (targets, head, loss, dev metrics) is the config's task's
(:mod:`treenets.tasks`); loading checkpoints and predicting is :mod:`treenets.inference`'s.

Neither nltk, conllu nor stanza is imported on the way (a GPU machine without them trains SICK
from its TSV files and GloVe text files); only SST's PTB brackets need nltk, when they are read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

import treenets
from treenets.config import SPLITS, Config, dump_config, load_config, to_dict
from treenets.datasets import Dataset
from treenets.embeddings import Vocab, embedding_matrix
from treenets.errors import InputError
from treenets.files import atomic_write, sha256_file
from treenets.inference import (CHECKPOINT_BEST, CHECKPOINT_LAST, DONE, EPOCHS, RESOLVED_CONFIG, VERSIONS, VOCAB,
                                Architecture, build, load_checkpoint, make_loader, predict, resolve_device)
from treenets.tasks import Collate, Task, task_for


class DivergedError(InputError):
    """The loss or the gradient stopped being finite (usually: the learning rate is too high)."""


# --------------------------------------------------------------------------- setup
def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextlib.contextmanager
def deterministic_algorithms(device: torch.device):
    """Require deterministic algorithms while training (warn only on CUDA, where some scatter and
    index kernels have no deterministic version); the caller's settings are restored after."""
    previous = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
                torch.backends.cudnn.benchmark)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
    torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.backends.cudnn.benchmark = previous[2]


def versions(dataset_files: Sequence[Path], embeddings_source: str, device: torch.device,
             require_clean_tree: bool = False) -> dict:
    def installed(name: str) -> str | None:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    files = list(dataset_files) + ([Path(embeddings_source)] if Path(embeddings_source).is_file() else [])
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "stanza": installed("stanza"),
        "treenets": treenets.__version__,
        "git_commit": _git_commit(),
        "require_clean_tree": require_clean_tree,  # False: a +dirty commit was allowed
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "data_sha256": {str(path): sha256_file(path) for path in files},
    }


def _git_commit() -> str | None:
    """The checkout's commit, with ``+dirty`` when tracked files differ from it; None outside git."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def check_clean_tree() -> None:
    """Refuse to train from a source tree with uncommitted changes (or outside git): the results of
    such a run could not be reproduced from the commit its versions.json names."""
    commit = _git_commit()
    if commit is None or commit.endswith("+dirty"):
        state = "is not a git checkout" if commit is None else f"has uncommitted changes ({commit})"
        raise InputError(f"the treenets source tree {state}; commit first, or allow it: treenets train without "
                         "--require-clean-tree (in the workflow: --config require_clean_tree=false)")


def claim_run_dir(config: Config, run_dir: Path) -> None:
    """Record the resolved config, or check that a rerun uses the same one."""
    path = run_dir / RESOLVED_CONFIG
    if path.exists():
        if to_dict(load_config(path)) != to_dict(config):
            raise InputError("this run directory was started with a different config; use a new --run-dir", path)
        return
    dump_config(config, path)


# --------------------------------------------------------------------------- model and optimizer
def make_optimizer(config: Config, model: torch.nn.Module) -> torch.optim.Optimizer:
    """The optimizer over ``model.parameter_groups``, with L2 ``optimizer.l2`` on every group but the
    embeddings (``embeddings.l2``, 0 by default); with ``optimizer.l2_head`` set, the output layer is a
    group of its own under that weight.

    ``l2_mode: paper`` is Tai et al.'s 0.5 * lambda * ||theta||^2 added to each minibatch's mean
    loss; its gradient, lambda * theta, is exactly what torch's (coupled) ``weight_decay`` adds to
    the gradient before the Adagrad / SGD / Adam update, so that is how it is applied.
    ``l2_mode: weight_decay`` is decoupled weight decay instead (:func:`decay_weights`).
    """
    opt = config.optimizer
    regularised = {id(p) for p in model.l2_parameters()}
    head = {id(p) for p in model.head.parameters()} if opt.l2_head is not None else set()
    groups = [part for group in model.parameter_groups(opt.lr, config.embeddings.lr or opt.lr)
              for part in _split_group(group, head)]
    for group in groups:
        group["regularised"] = all(id(p) in regularised for p in group["params"])
        l2 = (opt.l2_head if id(group["params"][0]) in head else opt.l2) if group["regularised"] else config.embeddings.l2
        group["weight_decay"] = l2 if opt.l2_mode == "paper" else 0.0
    settings = {"lr": opt.lr} if opt.eps is None else {"lr": opt.lr, "eps": opt.eps}
    vectors = [group for group in groups if not group["regularised"]]  # the tuned embeddings, if any
    if config.embeddings.optimizer == "sgd" and vectors:
        rest = [group for group in groups if group["regularised"]]
        return JointOptimizer(optimizer_for(opt.name, rest, **settings),
                              optimizer_for("sgd", vectors, lr=vectors[0]["lr"]))
    return optimizer_for(opt.name, groups, **settings)


OPTIMIZERS = {"adagrad": torch.optim.Adagrad, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}


def optimizer_for(name: str, params, **settings) -> torch.optim.Optimizer:
    """The optimizer ``name`` (adagrad, adam, sgd) over ``params`` (tensors or groups) with torch's ``settings``."""
    return OPTIMIZERS[name](params, **settings)


def _split_group(group: dict, ids: set[int]) -> list[dict]:
    """``group`` as it is, or its parameters outside ``ids`` and those inside as two groups."""
    inside = [p for p in group["params"] if id(p) in ids]
    if not inside:
        return [group]
    outside = [p for p in group["params"] if id(p) not in ids]
    return [{**group, "params": params} for params in (outside, inside) if params]


class JointOptimizer:
    """Two optimizers stepped as one: the model's, and plain SGD for the word vectors
    (``embeddings.optimizer: sgd``). Has what training and checkpoints use of an optimizer."""

    def __init__(self, *optimizers: torch.optim.Optimizer):
        self.optimizers = optimizers

    @property
    def param_groups(self) -> list[dict]:
        return [group for optimizer in self.optimizers for group in optimizer.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for optimizer in self.optimizers:
            optimizer.step()

    def state_dict(self) -> dict:
        return {"optimizers": [optimizer.state_dict() for optimizer in self.optimizers]}

    def load_state_dict(self, state: dict) -> None:
        for optimizer, optimizer_state in zip(self.optimizers, state["optimizers"], strict=True):
            optimizer.load_state_dict(optimizer_state)


@torch.no_grad()
def reset_adagrad(config: Config, optimizer, epoch: int) -> None:
    """Zero Adagrad's sums of squared gradients before every ``optimizer.adagrad_reset``-th epoch
    after the first (CoreNLP's SentimentTraining), so that its step sizes grow back to lr."""
    every = config.optimizer.adagrad_reset
    if not every or epoch == 1 or (epoch - 1) % every:
        return
    for inner in getattr(optimizer, "optimizers", [optimizer]):
        if isinstance(inner, torch.optim.Adagrad):
            for group in inner.param_groups:
                for param in group["params"]:
                    inner.state[param]["sum"].fill_(group["initial_accumulator_value"])


@torch.no_grad()
def decay_weights(config: Config, optimizer: torch.optim.Optimizer) -> None:
    """Decoupled weight decay (Loshchilov & Hutter 2019): theta <- theta - lr * lambda * theta after a step."""
    if config.optimizer.l2_mode != "weight_decay" or config.optimizer.l2 == 0:
        return
    for group in optimizer.param_groups:
        if group["regularised"]:
            for param in group["params"]:
                param.mul_(1 - group["lr"] * config.optimizer.l2)


# --------------------------------------------------------------------------- one epoch
@dataclass
class TrainingState:
    epoch: int = 0  # last complete epoch
    best_metric: float = -math.inf
    best_epoch: int = 0
    history: list[dict] = field(default_factory=list)  # the epochs.jsonl records


def training_step(model, optimizer, loss: torch.Tensor, clip_norm: float | None, decay=None) -> torch.Tensor:
    """One update from a batch's loss (gradients zeroed before its forward pass): backward, the global
    gradient norm (returned, still on the device), clipping to ``clip_norm``, the optimizer's step,
    ``decay()`` (decoupled weight decay) if given, then ``model.constrain_()`` (IndRNN's recurrent
    weight bound; a no-op for other models)."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    loss.backward()
    norm = torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])
    if clip_norm is not None:
        torch.nn.utils.clip_grads_with_norm_(params, clip_norm, norm)
    optimizer.step()
    if decay is not None:
        decay()
    model.constrain_()
    return norm


def run_epoch(task: Task, model, optimizer, loader, config: Config, epoch: int,
              device) -> tuple[float, float, int]:
    """Train one epoch; returns (mean loss per example, seconds, sentences).

    A batch's loss and gradient norm are read back one batch late, while the device works on the
    next batch (reading them at once would stall the GPU every batch). A non-finite value still
    stops the run naming its batch, before any checkpoint holds its weights.
    """
    model.train()
    total_loss, examples, sentences, start = 0.0, 0, 0, time.perf_counter()
    progress = tqdm(loader, desc=f"epoch {epoch}", unit="batch", leave=False, disable=None, file=sys.stderr)
    pending = None  # (batch number, batch size, tensor [loss, gradient norm]) not read yet

    def read(number: int, size: int, values: torch.Tensor) -> float:
        loss, norm = values.tolist()
        for what, value in (("the loss", loss), ("the gradient norm", norm)):
            if not math.isfinite(value):
                raise DivergedError(f"epoch {epoch}, batch {number}: {what} is {value} "
                                    "(lower optimizer.lr or set optimizer.clip_norm)")
        return loss * size

    for number, batch in enumerate(progress, 1):
        batch = batch.to(device)
        optimizer.zero_grad(set_to_none=True)
        loss = task.loss(model, batch)
        norm = training_step(model, optimizer, loss, config.optimizer.clip_norm,
                             decay=lambda: decay_weights(config, optimizer))
        if pending is not None:
            total_loss += read(*pending)
        pending = (number, batch.size, torch.stack([loss.detach(), norm]))
        examples += batch.size
        sentences += batch.size * len(batch.inputs)
        elapsed = time.perf_counter() - start
        progress.set_postfix(loss=f"{total_loss / max(examples - batch.size, 1):.4f}",
                             sent_per_s=f"{sentences / elapsed:.0f}")
    total_loss += read(*pending)
    return total_loss / examples, time.perf_counter() - start, sentences


# --------------------------------------------------------------------------- checkpoints
def save_checkpoint(path: Path, payload: dict) -> None:
    with atomic_write(path, "wb") as handle:
        torch.save(payload, handle)


def rng_states() -> dict:
    states = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


# --------------------------------------------------------------------------- the run
def train(config: Config, run_dir: str | os.PathLike, require_clean_tree: bool = False) -> dict:
    """Train (or resume, or return the summary of an already complete run in ``run_dir``).

    ``require_clean_tree``: refuse, before writing anything, when the source tree has uncommitted
    changes (experiments whose results are committed ask for it); versions.json records the choice.
    """
    if require_clean_tree:
        check_clean_tree()
    run_dir = Path(run_dir)
    if (run_dir / RESOLVED_CONFIG).exists():
        claim_run_dir(config, run_dir)
        if (run_dir / DONE).exists():
            return json.loads((run_dir / DONE).read_text())
    task = task_for(config.task)
    dataset = task.load_dataset(config, SPLITS)  # bad input fails here, before the run directory is made
    task.check_dataset(config, dataset)
    run_dir.mkdir(parents=True, exist_ok=True)
    claim_run_dir(config, run_dir)
    device = resolve_device(config.training.device)
    with deterministic_algorithms(device):
        return _train(config, dataset, run_dir, device, require_clean_tree)


def _train(config: Config, dataset: Dataset, run_dir: Path, device: torch.device, require_clean_tree: bool) -> dict:
    seed_everything(config.training.seed)
    task = task_for(config.task)
    vocab = Vocab.build(dataset.sentences())
    vocab.save(run_dir / VOCAB)
    embeddings = embedding_matrix(vocab, config.embeddings.source, config.training.seed, config.embeddings.cache_dir,
                                  config.data.cache_dir)
    with atomic_write(run_dir / VERSIONS) as handle:
        json.dump(versions(dataset.files, config.embeddings.source, device, require_clean_tree), handle, indent=2)
    architecture = Architecture.of(dataset, embeddings)
    model = build(config, architecture, embeddings).to(device)
    optimizer = make_optimizer(config, model)
    state = TrainingState()
    if (run_dir / CHECKPOINT_LAST).exists():
        checkpoint = load_checkpoint(run_dir / CHECKPOINT_LAST)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        restore_rng_states(checkpoint["rng"])
        state = TrainingState(**checkpoint["state"])
        print(f"resuming {run_dir} after epoch {state.epoch}", file=sys.stderr)
    collate = Collate(task, config, vocab)
    key = task.early_stopping_metric(config)
    patience = config.training.patience
    for epoch in range(state.epoch + 1, config.training.epochs + 1):
        if patience is not None and state.epoch - state.best_epoch >= patience:
            break
        # Shuffled by (seed, epoch) alone, so a resumed run sees the same batches.
        shuffle_seed = config.training.seed * 100_003 + epoch
        loader = make_loader(dataset.splits["train"], collate, config, shuffle_seed)
        reset_adagrad(config, optimizer, epoch)
        loss, seconds, sentences = run_epoch(task, model, optimizer, loader, config, epoch, device)
        dev = task.scores(predict(task, model, dataset.splits["dev"], collate, config, device))
        improved = dev[key] > state.best_metric
        if improved:
            state.best_metric, state.best_epoch = dev[key], epoch
            save_checkpoint(run_dir / CHECKPOINT_BEST, {"model": model.state_dict(), "epoch": epoch, "dev": dev,
                                                        "architecture": architecture.as_dict()})
        state.epoch = epoch
        state.history.append({"epoch": epoch, "train_loss": loss, "dev": dev, "seconds": seconds,
                              "sentences_per_s": sentences / seconds})
        save_checkpoint(run_dir / CHECKPOINT_LAST, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                                    "rng": rng_states(), "state": dataclasses.asdict(state)})
        with atomic_write(run_dir / EPOCHS) as handle:
            handle.writelines(json.dumps(record) + "\n" for record in state.history)
        print(f"epoch {epoch}/{config.training.epochs}  loss {loss:.4f}  dev {key} {dev[key]:.4f}"
              f"{' *' if improved else '  '} (best {state.best_metric:.4f} @ {state.best_epoch})"
              f"  {seconds:.1f} s  {sentences / seconds:.0f} sentences/s", file=sys.stderr)
    best = next(record for record in state.history if record["epoch"] == state.best_epoch)
    summary = {"task": config.task, "early_stopping_metric": key, "best_epoch": state.best_epoch,
               "epochs_run": state.epoch, "stopped_early": state.epoch < config.training.epochs,
               "dev": best["dev"], "train_loss": best["train_loss"]}
    with atomic_write(run_dir / DONE) as handle:
        json.dump(summary, handle, indent=2)
    return summary
