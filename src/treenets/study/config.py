"""The ``study:`` section of an experiment config, validated like the rest (:func:`treenets.config.from_dict`).

Every budget is a value here, so the CPU default stays small and a GPU run raises it in the YAML
(or with ``--set study.adding.steps=5000``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal

import yaml

from treenets.config import apply_overrides, from_dict
from treenets.data.fetch import DEFAULT_CACHE
from treenets.data.registry import CORPORA
from treenets.errors import InputError

# Study model name -> label in tables and plots.
MODEL_LABELS = {
    "rnn_tanh": "RNN (tanh)",
    "rnn_relu": "RNN (ReLU)",
    "lstm": "LSTM",
    "gru": "GRU",
    "indrnn": "IndRNN",
    "srnn": "SRNN",
}
# Where `treenets fetch sst:train` puts SST's training trees.
SST_TRAIN = str(Path(DEFAULT_CACHE) / CORPORA["sst"].files["train"].path)


def _check_models(models: tuple[str, ...], where: str, allow_none: bool = False) -> None:
    unknown = [m for m in models if m not in MODEL_LABELS]
    if unknown:
        raise InputError(f"{where}: unknown model {unknown[0]!r}; choose from {', '.join(MODEL_LABELS)}")
    if not models and not allow_none:
        raise InputError(f"{where}: name at least one model")


def _check_positive(section, where: str, keys: Iterable[str]) -> None:
    for key in keys:
        value = getattr(section, key)
        if value <= 0:
            raise InputError(f"{where}.{key}: must be > 0, got {value}")


@dataclass(frozen=True)
class ModelSizes:
    """Sizes shared by every recurrent model of the study (one layer each, as a like-for-like baseline)."""

    hidden: int = 32
    layers: int = 1
    # Li et al. use 2 IndRNN layers for the adding problem: a diagonal recurrence cannot combine the
    # value and the marker of a step within one layer.
    indrnn_layers: int = 2
    mag: float = 2.0  # IndRNN: |u| <= mag ** (1 / T), T the training length
    slices: int = 8  # SRNN(n, k): n
    levels: int = 2  # SRNN(n, k): k
    srnn_cell: Literal["rnn", "lstm", "gru"] = "gru"  # the SRNN paper's cell
    # IndRNN's initialisation: torch's Linear defaults, or Li et al.'s adding-problem code (IndRNN's docstring)
    indrnn_init: Literal["torch", "li2018"] = "torch"

    def __post_init__(self):
        _check_positive(self, "study.models", ("hidden", "layers", "indrnn_layers", "slices", "levels"))
        if self.mag <= 1.0:
            raise InputError(f"study.models.mag: must be > 1, got {self.mag}")


@dataclass(frozen=True)
class TreeProbeConfig:
    """The N-ary Tree-LSTM on SST: trained briefly on all labelled nodes (Tai et al.'s loss, Adagrad),
    probed with the root label's loss on trees it did not train on."""

    sst_file: str = SST_TRAIN
    train_trees: int = 1000  # the first trees of the file train; the next `probe_trees` are probed
    probe_trees: int = 64
    batch_size: int = 25
    train_steps: int = 100
    lr: float = 0.05  # Adagrad, Tai et al.
    embeddings: str = "glove-6b-50d"  # any treenets.embeddings source (random:D needs no download)
    embeddings_cache: str = "data/cache/embeddings"

    def __post_init__(self):
        _check_positive(self, "study.grad_norms.tree", ("train_trees", "probe_trees", "batch_size", "lr"))
        if self.train_steps < 0:
            raise InputError(f"study.grad_norms.tree.train_steps: must be >= 0, got {self.train_steps}")


@dataclass(frozen=True)
class DepthConfig:
    """Deep stacks (study.grad_norms.depth): residual IndRNN against plain LSTM / RNN stacks, trained on
    the adding problem and on SST root sentiment (the tree probe's sentences and word vectors)."""

    models: tuple[str, ...] = ("indrnn", "lstm", "rnn_tanh")
    layers: int = 21  # Li et al.'s deepest
    hidden: int = 32
    length: int = 100  # adding-problem T
    batch_size: int = 32
    train_steps: int = 300  # adding problem, Adam
    sst_train_steps: int = 100  # SST sentences, Adam
    sst_batch_size: int = 25
    lr: float = 2e-4  # Li et al.'s
    clip_norm: float = 1.0
    # The IndRNN's shortcut: "preactivation" (Li et al. 2019: s_{i+1} = s_i + W h_i, h_i = IndRNN(BN(s_i)))
    # or "identity" (h_i added to its input: a sum of ReLU outputs that grows with depth; with lr 2e-4,
    # 15 of 21 layers died on the adding problem).
    indrnn_shortcut: str = "preactivation"
    indrnn_batch_norm: bool = True

    def __post_init__(self):
        _check_models(self.models, "study.grad_norms.depth.models")
        if not set(self.models) <= {"indrnn", "lstm", "gru", "rnn_tanh", "rnn_relu"}:
            raise InputError("study.grad_norms.depth.models: only stacked models (not srnn)")
        _check_positive(self, "study.grad_norms.depth", ("layers", "hidden", "batch_size", "lr", "clip_norm",
                                                         "sst_batch_size"))
        if self.length < 2:
            raise InputError("study.grad_norms.depth.length: the adding problem needs T >= 2")
        if self.indrnn_shortcut not in ("preactivation", "identity"):
            raise InputError(f"study.grad_norms.depth.indrnn_shortcut: preactivation or identity, "
                             f"got {self.indrnn_shortcut!r}")
        if min(self.train_steps, self.sst_train_steps) < 0:
            raise InputError("study.grad_norms.depth: train_steps and sst_train_steps must be >= 0")


@dataclass(frozen=True)
class GradNormsConfig:
    models: tuple[str, ...] = ("rnn_tanh", "rnn_relu", "lstm", "gru", "indrnn")
    length: int = 100  # adding-problem sequences the sequence models train on and are probed with
    batch_size: int = 32  # training and probe batch
    train_steps: int = 200
    lr: float = 1e-3  # Adam
    clip_norm: float | None = 1.0  # keeps the ReLU RNN's training finite, so its trained norms exist
    tree: TreeProbeConfig = field(default_factory=TreeProbeConfig)
    depth: DepthConfig = field(default_factory=DepthConfig)

    def __post_init__(self):
        _check_models(self.models, "study.grad_norms.models")
        if "srnn" in self.models:
            raise InputError("study.grad_norms.models: srnn has no per-step states to probe (its levels are parallel)")
        _check_positive(self, "study.grad_norms", ("length", "batch_size", "lr"))
        if self.train_steps < 0:
            raise InputError(f"study.grad_norms.train_steps: must be >= 0, got {self.train_steps}")
        if self.length < 2:
            raise InputError("study.grad_norms.length: the adding problem needs T >= 2")
        if self.clip_norm is not None and self.clip_norm <= 0:
            raise InputError(f"study.grad_norms.clip_norm: must be > 0, got {self.clip_norm}")


@dataclass(frozen=True)
class AddingConfig:
    models: tuple[str, ...] = ("rnn_tanh", "rnn_relu", "lstm", "gru", "indrnn")
    lengths: tuple[int, ...] = (50, 200, 1000, 5000)
    steps: int = 20  # training budget per (model, T, clipping): a CPU smoke budget, far too few to learn
    steps_by_model: dict[str, int] = field(default_factory=dict)  # other budgets for some models
    batch_size: int = 16
    optimizer: Literal["adam", "sgd"] = "adam"  # sgd: momentum 0.9, where clipping matters more
    lr: float = 1e-3
    lr_by_model: dict[str, float] = field(default_factory=dict)  # other learning rates for some models
    clip_norm: float = 1.0  # the "with clipping" runs
    unclipped: bool = True  # also run every setting without clipping
    test_size: int = 256  # held-out sequences the MSE is measured on
    hidden: int | None = None  # this part's hidden size; None: study.models.hidden
    eval_every: int | None = None  # test MSE every that many steps (the learning curves); None: at the end
    target_mse: float | None = None  # a run stops once its test MSE is below this (converged)

    def __post_init__(self):
        _check_models(self.models, "study.adding.models")
        _check_models(tuple(self.steps_by_model), "study.adding.steps_by_model", allow_none=True)
        _check_models(tuple(self.lr_by_model), "study.adding.lr_by_model", allow_none=True)
        _check_positive(self, "study.adding", ("steps", "batch_size", "lr", "clip_norm", "test_size"))
        for key in ("hidden", "eval_every", "target_mse"):
            if getattr(self, key) is not None:
                _check_positive(self, "study.adding", (key,))
        for model, steps in self.steps_by_model.items():
            if steps <= 0:
                raise InputError(f"study.adding.steps_by_model.{model}: must be > 0, got {steps}")
        for model, lr in self.lr_by_model.items():
            if not lr > 0:
                raise InputError(f"study.adding.lr_by_model.{model}: must be > 0, got {lr}")
        if not self.lengths or min(self.lengths) < 2:
            raise InputError(f"study.adding.lengths: every T must be >= 2, got {list(self.lengths)}")

    def budget(self, model: str) -> int:
        """Training steps of ``model``'s runs."""
        return self.steps_by_model.get(model, self.steps)

    def learning_rate(self, model: str) -> float:
        """The optimizer's learning rate for ``model``'s runs."""
        return self.lr_by_model.get(model, self.lr)


@dataclass(frozen=True)
class SpeedConfig:
    models: tuple[str, ...] = ("rnn_tanh", "lstm", "gru", "indrnn", "srnn")
    lengths: tuple[int, ...] = (64, 256, 1024, 4096, 16384)
    batch_size: int = 32
    warmup_steps: int = 1  # untimed (allocations, cuDNN plans)
    timed_steps: int = 3
    reference: str = "gru"  # speed-ups relative to this model at the same T (SRNN's paper: its GRU)

    def __post_init__(self):
        _check_models(self.models, "study.speed.models")
        _check_positive(self, "study.speed", ("batch_size", "timed_steps"))
        if self.warmup_steps < 0:
            raise InputError(f"study.speed.warmup_steps: must be >= 0, got {self.warmup_steps}")
        if not self.lengths or min(self.lengths) < 2:
            raise InputError(f"study.speed.lengths: every T must be >= 2, got {list(self.lengths)}")
        if self.reference not in self.models:
            raise InputError(f"study.speed.reference: {self.reference!r} is not one of study.speed.models")


@dataclass(frozen=True)
class StudyConfig:
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    models: ModelSizes = field(default_factory=ModelSizes)
    grad_norms: GradNormsConfig = field(default_factory=GradNormsConfig)
    adding: AddingConfig = field(default_factory=AddingConfig)
    speed: SpeedConfig = field(default_factory=SpeedConfig)


def load_study_config(source: str | os.PathLike | dict | None = None, overrides: Iterable[str] = ()) -> StudyConfig:
    """The ``study:`` section of an experiment (a YAML file or its parsed dict) with ``study.key=value``
    overrides; every other section is ignored. No source: the defaults (and the overrides)."""
    path = None if source is None or isinstance(source, dict) else Path(source)
    data = source if isinstance(source, dict) else {}
    if path is not None:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as err:
            raise InputError(f"cannot read the config: {getattr(err, 'strerror', None) or err}", path) from None
    if not isinstance(data, dict):
        raise InputError("expected a mapping of config sections", path)
    try:
        data = apply_overrides(data, overrides)
        return from_dict(StudyConfig, data.get("study"), "study")
    except InputError as err:
        raise err.at(path) if path is not None else err
