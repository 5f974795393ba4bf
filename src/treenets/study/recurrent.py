"""What the three study parts share: the adding problem, the project's recurrent encoders (built by
:func:`treenets.models.build_encoder`) with a regression readout, trained by the trainer's own step and
optimizers (:func:`treenets.train.training_step`, :func:`treenets.train.optimizer_for`), and the
per-step gradient probe.

The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015; Li et al. 2018): a step is
``(value, marker)`` with ``value ~ U(0, 1)``; exactly two steps are marked, one in each half of the
sequence, and the target is the sum of their two values. Predicting the mean sum, 1, scores an MSE
of Var(U1 + U2) = 2/12 ~ 0.167: the baseline a model has to beat to show it remembered anything.
"""

from __future__ import annotations

import copy
import platform

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from treenets import models, train
from treenets.config import model_config
from treenets.errors import InputError
from treenets.study.config import MODEL_LABELS, ModelSizes

ADDING_INPUT_DIM = 2  # (value, marker)
ADDING_BASELINE_MSE = 1.0 / 6.0  # predicting 1 = E[U1 + U2] for every sequence


def mean_prediction_mse(target: Tensor) -> float:
    """MSE of predicting E[sum] = 1 for every sequence of ``target``: the adding problem's no-memory baseline
    on that set (:data:`ADDING_BASELINE_MSE` in expectation)."""
    return F.mse_loss(torch.ones_like(target), target).item()


def adding_problem(batch_size: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``x[B, T, 2]`` (values, markers) and ``target[B]`` (the sum of the two marked values), on the CPU."""
    if length < 2:
        raise InputError(f"the adding problem needs sequences of length >= 2, got {length}")
    values = torch.rand(batch_size, length, generator=generator)
    half = length // 2
    first = torch.randint(0, half, (batch_size,), generator=generator)
    second = torch.randint(half, length, (batch_size,), generator=generator)
    rows = torch.arange(batch_size)
    markers = torch.zeros(batch_size, length)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    return torch.stack([values, markers], dim=-1), values[rows, first] + values[rows, second]


def build_encoder(name: str, sizes: ModelSizes, input_dim: int, length: int) -> nn.Module:
    """The project's encoder for a study model name (:data:`MODEL_LABELS`); ``length`` sets IndRNN's
    recurrent bound |u| <= mag ** (1 / length)."""
    configs = {
        "rnn_tanh": dict(name="rnn", nonlinearity="tanh"), "rnn_relu": dict(name="rnn", nonlinearity="relu"),
        "lstm": dict(name="lstm"), "gru": dict(name="gru"),
        "indrnn": dict(name="indrnn", layers=sizes.indrnn_layers, mag=sizes.mag, constraint_len=length),
        "srnn": dict(name="srnn", slices=sizes.slices, levels=sizes.levels, cell=sizes.srnn_cell),
    }
    if name not in configs:
        raise InputError(f"unknown study model {name!r}; choose from {', '.join(MODEL_LABELS)}")
    encoder = models.build_encoder(model_config(**{"hidden": sizes.hidden, "layers": sizes.layers, **configs[name]}),
                                   input_dim)
    if name == "indrnn" and sizes.indrnn_init == "li2018":
        encoder.init_as_li2018_()  # after torch's initialisation, as IndRNN(init="li2018") does
    return encoder


def model_label(name: str, sizes: ModelSizes) -> str:
    if name == "srnn":
        return f"SRNN({sizes.slices}, {sizes.levels}) {sizes.srnn_cell.upper()}"
    return MODEL_LABELS[name]


class Regressor(nn.Module):
    """An encoder over whole (unpadded) sequences and a linear readout to one number."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.readout = nn.Linear(encoder.hidden_size, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.readout(self.encoder(x, full_lengths(x))).squeeze(-1)

    def constrain_(self) -> None:
        """IndRNN's |u| <= mag ** (1 / T) after every update (Li et al.); nothing for the others."""
        constrain = getattr(self.encoder, "constrain_", None)
        if constrain is not None:
            constrain()


def full_lengths(x: Tensor) -> Tensor:
    """Every sequence of ``x[B, T, D]`` has all T steps (on the CPU, where packing wants them)."""
    return torch.full((x.shape[0],), x.shape[1], dtype=torch.long)


def training_step(model: Regressor, optimizer: torch.optim.Optimizer, x: Tensor, target: Tensor,
                  clip_norm: float | None) -> Tensor:
    """One MSE step (:func:`treenets.train.training_step`); returns the loss (still on the device:
    reading it is the caller's choice)."""
    optimizer.zero_grad(set_to_none=True)
    loss = F.mse_loss(model(x), target)
    train.training_step(model, optimizer, loss, clip_norm)
    return loss.detach()


def make_optimizer(name: str, model: nn.Module, lr: float) -> torch.optim.Optimizer:
    """Adam, or SGD with momentum 0.9. Adam divides each update by a running gradient scale, so
    clipping changes it only where a step's norm stands out from its neighbours'; under SGD a
    clipped step is a shorter step."""
    settings = {"lr": lr} if name == "adam" else {"lr": lr, "momentum": 0.9}
    return train.optimizer_for(name, model.parameters(), **settings)


def train_on_adding(model: Regressor, steps: int, batch_size: int, length: int, optimizer: torch.optim.Optimizer,
                    clip_norm: float | None, seed: int, device: torch.device,
                    batches: torch.Generator | None = None) -> list[Tensor]:
    """``steps`` steps on fresh adding-problem batches (the same ones for every model with this
    seed; or drawn from ``batches``, to go on where an earlier call stopped); the per-step losses,
    left on the device."""
    batches = torch.Generator().manual_seed(seed) if batches is None else batches
    losses = []
    for _ in range(steps):
        x, target = adding_problem(batch_size, length, batches)
        losses.append(training_step(model, optimizer, x.to(device), target.to(device), clip_norm))
    return losses


def step_gradient_norms(model: Regressor, x: Tensor, target: Tensor) -> Tensor:
    """``[T]``: the batch mean of ||dL_b/dh_t|| for every step t, L_b the squared error of sequence b.

    The loss is summed over the batch so that each sequence's states get its own gradient
    (a mean would scale every norm by 1/B). The probe runs on a float64 copy of the model, so that
    gradients that vanish stay measurable instead of underflowing to 0.
    """
    model = copy.deepcopy(model).double()
    sentences, states = model.encoder.trace(x.double(), full_lengths(x))
    loss = F.mse_loss(model.readout(sentences).squeeze(-1), target.double(), reduction="sum")
    grads = torch.autograd.grad(loss, states)
    return torch.stack([g.norm(dim=-1).mean() for g in grads])


def describe_device(device: torch.device) -> str:
    """The name the captions give: the GPU's, or the CPU's with torch's thread count."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA, cuDNN {torch.backends.cudnn.version()})"
    return f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
