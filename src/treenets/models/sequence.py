"""Recurrent sentence encoders: RNN / LSTM / GRU (torch.nn, cuDNN), IndRNN, Sliced RNN.

Every encoder is called as ``encoder(x, lengths)`` with ``x: Tensor[B, T, D]`` (padded after each
sequence's end) and ``lengths: LongTensor[B]`` (all >= 1) and returns the sentence vectors
``Tensor[B, hidden_size]``. With ``bidirectional=True`` a sentence vector is the concatenation of the
forward direction's state after the last token and the backward direction's state after the first
token, so ``hidden_size`` is twice the per-direction ``hidden``.

:class:`RecurrentEncoder` and :class:`IndRNN` also have ``trace(x, lengths) -> (sentences, states)``
for gradient studies: ``states[t]`` ``[B, H]`` is the top layer's hidden state after token ``t`` as the
recurrence carries it to step ``t + 1``, so ``torch.autograd.grad(loss, states)`` yields dL/dh_t.
Only rows with ``t < lengths[b]`` are meaningful. cuDNN has no backward pass in eval mode: take
gradients with the module in ``train()`` (and dropout set to 0 where that matters).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from treenets.models.indrnn_kernels import available_backend, fused_layer, fused_recurrence
from treenets.models.tree_lstm import OPEN_GATE

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


class RecurrentEncoder(nn.Module):
    """A torch.nn RNN (tanh or ReLU), LSTM or GRU over packed sequences.

    ``RecurrentEncoder(input_dim, hidden, cell="lstm", layers=1, bidirectional=False,
    nonlinearity="tanh", output_gate=True, all_layers=False)``; ``nonlinearity`` applies to
    ``cell="rnn"`` only. ``forward(x, lengths) -> Tensor[B, hidden * directions]``, or with
    ``all_layers=True`` the final states of every layer, ``[B, hidden * directions * layers]``, the
    sentence vector of Tai et al.'s multi-layer LSTMs.

    ``tie_directions=True`` (with ``bidirectional``): the backward direction is the forward network
    itself run over each reversed sentence, as in Tai et al.'s code ("tying the forward and backward
    weights improves performance", LSTMSim.lua): half the parameters, and with several layers two
    separate stacks (a layer reads the layer below in its own direction only, unlike cuDNN's
    bidirectional stack, which feeds both directions to the next layer).

    ``output_gate=False`` (LSTM only): h_t = tanh(c_t), as Tai et al.'s relatedness code runs its
    LSTMs. cuDNN's LSTM always has the gate, so it is pinned open: zero weights and a bias of
    :data:`OPEN_GATE` (sigmoid = 1 in float32 and float64), restored by :meth:`constrain_` after
    every optimizer step.
    """

    def __init__(self, input_dim: int, hidden: int, cell: str = "lstm", layers: int = 1,
                 bidirectional: bool = False, nonlinearity: str = "tanh", output_gate: bool = True,
                 all_layers: bool = False, tie_directions: bool = False):
        super().__init__()
        if not output_gate and cell != "lstm":
            raise ValueError(f"only an LSTM has an output gate to leave out, not {cell!r}")
        if tie_directions and not bidirectional:
            raise ValueError("tie_directions needs bidirectional=True")
        options = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        self.tied = tie_directions
        self.rnn = CELLS[cell](input_dim, hidden, num_layers=layers, bidirectional=bidirectional and not self.tied,
                               batch_first=True, **options)
        self.directions = 2 if bidirectional else 1
        self.all_layers = all_layers
        self.hidden_size = hidden * self.directions * (layers if all_layers else 1)
        self.output_gate = output_gate
        self.constrain_()

    @torch.no_grad()
    def constrain_(self) -> None:
        """Pin every output gate open when the LSTM runs without one (torch's gate order: i, f, g, o)."""
        if self.output_gate:
            return
        H = self.rnn.hidden_size
        for name, parameter in self.rnn.named_parameters():
            parameter[3 * H:].fill_(OPEN_GATE if name.startswith("bias_ih") else 0.0)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        h_n = self._final_states(x, lengths)
        if self.tied:  # the same stack over the reversed sentences; interleave as cuDNN orders h_n
            backward = self._final_states(reverse_padded(x, lengths), lengths)
            h_n = torch.stack([h_n, backward], dim=1).flatten(0, 1)
        # h_n is [layers * directions, B, hidden], back in batch order; the top layer comes last.
        return torch.cat(list(h_n if self.all_layers else h_n[-self.directions:]), dim=-1)

    def _final_states(self, x: Tensor, lengths: Tensor) -> Tensor:
        # Unpadded batches skip packing: the packed CPU backward of nn.RNN/nn.GRU is quadratic in T.
        unpadded = bool((lengths == x.shape[1]).all())
        _, final = self.rnn(x if unpadded else pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False))
        return final[0] if isinstance(final, tuple) else final  # LSTM: (h_n, c_n)

    def trace(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, list[Tensor]]:
        """The same function as ``forward``, one step at a time (see the module docstring)."""
        if self.directions != 1 or self.all_layers:
            raise ValueError("trace() follows the top layer of one direction; build the encoder with "
                             "bidirectional=False and all_layers=False")
        is_lstm = isinstance(self.rnn, nn.LSTM)
        zeros = x.new_zeros(x.shape[0], self.hidden_size)
        h = [zeros] * self.rnn.num_layers  # one tensor per layer, so each is its own graph node
        c = [zeros] * self.rnn.num_layers
        lengths = lengths.to(x.device)
        states = []
        for t in range(x.shape[1]):
            hx = (torch.stack(h), torch.stack(c)) if is_lstm else torch.stack(h)
            _, new = self.rnn(x[:, t:t + 1], hx)
            running = (t < lengths).unsqueeze(1)  # finished sequences keep their last state
            if is_lstm:
                new, new_c = new
                c = [torch.where(running, n, o) for n, o in zip(new_c.unbind(0), c)]
            h = [torch.where(running, n, o) for n, o in zip(new.unbind(0), h)]
            states.append(h[-1])
        return h[-1], states


def reverse_padded(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each sequence of ``x[B, T, ...]`` within its length; padding stays at the end."""
    steps = torch.arange(x.shape[1], device=x.device)
    lengths = lengths.to(x.device).unsqueeze(1)
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)  # [B, T]
    index = index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, index)


def sentence_vectors(outputs: Tensor, lengths: Tensor, directions: int) -> Tensor:
    """From per-step outputs [B, T, directions * H]: forward state at the last token, backward at the first.
    One indexing op, so that its backward writes one dense [B, T, directions * H] gradient (a select and
    an index wrote two and copied one into the other: 115 ms against 49 ms at B = 50, T = 5000, H = 128
    on a CPU core, in a 0.5 s IndRNN training step)."""
    batch, steps = outputs.shape[:2]
    per_direction = outputs.view(batch, steps, directions, -1)
    last = lengths.to(outputs.device) - 1
    times = torch.stack([last, torch.zeros_like(last)], dim=1)[:, :directions]  # [B, directions]
    rows = torch.arange(batch, device=outputs.device).unsqueeze(1)
    return per_direction[rows, times, torch.arange(directions, device=outputs.device)].reshape(batch, -1)


class IndRNN(nn.Module):
    """Independently recurrent network (Li et al. 2018): h_t = act(W x_t + u * h_{t-1} + b).

    ``IndRNN(input_dim, hidden, layers=1, bidirectional=False, nonlinearity="relu", mag=2.0,
    constraint_len=..., residual=False, batch_norm=False, backend="auto", init="torch", preactivation=False)``.
    ``forward(x, lengths) -> Tensor[B, hidden * directions]``; ``layer_outputs(x, lengths)``: every
    layer's per-step outputs (the depth study's and the benchmark's view).

    Each layer projects all steps at once (``W x_t + b``, one Linear for both directions), optionally
    batch-normalises the projections over the real (non-padding) steps only (Li et al.'s
    "weight -> BN -> recurrent+ReLU" order), then runs the elementwise recurrence; the backward
    direction runs it over each sequence reversed within its length. The recurrence is one compiled
    kernel call forward and one backward (:mod:`treenets.models.indrnn_kernels`; ``backend="auto"``:
    C++ on the CPU, Triton on CUDA; or name "cpu" / "triton"); where no kernel is available, and
    with ``backend=None``, it runs step by step from Python (the reference). On the CPU without batch
    norm the projection runs inside the C++ op too (a few sequences at a time, the drive never stored).
    With ``residual=True`` every layer after the first adds its input to its output (identity
    shortcut); with ``preactivation=True`` as well, the stack is Li et al. (2019)'s pre-activation
    residual network instead (see :meth:`_run_preactivation`), the one that trains at 21 layers.
    The trainer calls :meth:`constrain_` after every optimizer step to keep
    ``|u| <= mag ** (1 / constraint_len)`` (``constraint_len``: the longest training sequence).

    ``init="torch"``: torch's Linear initialisation, u ~ U(0, bound). ``init="li2018"``: the authors'
    adding-problem code: input weights N(0, 0.001^2), biases 0, u ~ U(0, bound) in the first layer and
    U(mag^(-1/constraint_len), bound) above it (upper layers start close to remembering everything).
    """

    def __init__(self, input_dim: int, hidden: int, layers: int = 1, bidirectional: bool = False,
                 nonlinearity: str = "relu", mag: float = 2.0, *, constraint_len: int,
                 residual: bool = False, batch_norm: bool = False, backend: str | None = "auto", init: str = "torch",
                 preactivation: bool = False):
        super().__init__()
        if preactivation and not residual:
            raise ValueError("preactivation is a kind of residual stack: it needs residual=True")
        self.directions = 2 if bidirectional else 1
        self.hidden = hidden
        self.hidden_size = hidden * self.directions
        self.nonlinearity = nonlinearity
        self.activation = ACTIVATIONS[nonlinearity]
        self.recurrent_bound = mag ** (1.0 / constraint_len)
        self.residual = residual
        self.preactivation = preactivation
        self.backend = backend
        width = self.hidden_size
        self.projections = nn.ModuleList(nn.Linear(input_dim if i == 0 else width, width) for i in range(layers))
        self.recurrent = nn.ParameterList(
            nn.Parameter(torch.empty(self.directions, hidden).uniform_(0.0, self.recurrent_bound))
            for _ in range(layers))
        self.norms = nn.ModuleList(nn.BatchNorm1d(width) for _ in range(layers)) if batch_norm else None
        if init == "li2018":
            self.init_as_li2018_()
        elif init != "torch":
            raise ValueError(f"unknown IndRNN init {init!r}; choose torch or li2018")

    @torch.no_grad()
    def init_as_li2018_(self) -> None:
        """Li et al.'s adding-problem initialisation (see the class docstring), over torch's."""
        for i, (project, u) in enumerate(zip(self.projections, self.recurrent)):
            project.weight.normal_(0.0, 1e-3)
            project.bias.zero_()
            if i > 0:
                u.uniform_(1.0 / self.recurrent_bound, self.recurrent_bound)

    @torch.no_grad()
    def constrain_(self) -> None:
        """Clamp every recurrent weight into [-bound, bound] (call after each optimizer step)."""
        for u in self.recurrent:
            u.clamp_(-self.recurrent_bound, self.recurrent_bound)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        return self._run(x, lengths, self._backend(x.device))[0]

    def trace(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, list[Tensor]]:
        """``(sentences, states)``; ``states`` of the top layer (see the module docstring). Always the loop."""
        if self.directions != 1:
            raise ValueError("trace() follows one direction; build the encoder with bidirectional=False")
        return self._run(x, lengths, None)

    def layer_outputs(self, x: Tensor, lengths: Tensor) -> list[Tensor]:
        """Every layer's per-step outputs ``[B, T, hidden * directions]`` (zero after each length), bottom first."""
        return self._run(x, lengths, self._backend(x.device), every_layer=True)

    def _backend(self, device: torch.device) -> str | None:
        return available_backend(device) if self.backend == "auto" else self.backend

    def _run(self, x: Tensor, lengths: Tensor, backend: str | None, every_layer: bool = False):
        real = torch.arange(x.shape[1], device=x.device) < lengths.to(x.device).unsqueeze(1)  # [B, T]
        run = self._run_preactivation if self.preactivation else self._run_stacked
        layers, states = run(x, lengths, real, backend)
        if every_layer:
            return layers
        return sentence_vectors(layers[-1], lengths, self.directions), states

    def _run_stacked(self, x, lengths, real, backend) -> tuple[list[Tensor], list[Tensor]]:
        """Layer i: recurrence(BN(W_i input)); residual: input + that from the second layer on."""
        inputs, states, layers = x, [], []
        for i, (project, u) in enumerate(zip(self.projections, self.recurrent)):
            if backend == "cpu" and self.norms is None:  # projection and recurrence in one C++ op
                outputs = fused_layer(inputs, project.weight, project.bias, u.reshape(-1), lengths, self.hidden,
                                      self.nonlinearity)
            else:
                outputs, states = self._recurrence(i, project(inputs), u, lengths, real, backend)
            inputs = outputs + inputs if self.residual and i > 0 else outputs
            layers.append(inputs)
        return layers, states

    def _run_preactivation(self, x, lengths, real, backend) -> tuple[list[Tensor], list[Tensor]]:
        """Li et al. (2019)'s pre-activation residual stack, one recurrence per shortcut: a stream
        s_0 = W_0 x; layer i's output h_i = recurrence(BN(s_i)); s_{i+1} = s_i + W_{i+1} h_i. The stream
        carries signed sums (no ReLU on the shortcut path), so it does not grow with depth as a sum
        of ReLU outputs does; the top layer's h is the output."""
        stream, states, layers = self.projections[0](x), [], []
        for i, u in enumerate(self.recurrent):
            outputs, states = self._recurrence(i, stream, u, lengths, real, backend)
            layers.append(outputs)
            if i + 1 < len(self.recurrent):
                stream = stream + self.projections[i + 1](outputs)
        return layers, states

    def _recurrence(self, i: int, drive: Tensor, u: Tensor, lengths: Tensor, real: Tensor, backend: str | None
                    ) -> tuple[Tensor, list[Tensor]]:
        """Layer i's batch norm (statistics of real steps only), then its recurrence: (outputs, loop states)."""
        if self.norms is not None:
            normalised = drive.new_zeros(drive.shape)
            normalised[real] = self.norms[i](drive[real])
            drive = normalised
        if backend is None:
            return self._loop(drive, u.reshape(-1), lengths, real)
        # channels hidden.. (a backward direction's) run backwards in time inside the kernel
        return fused_recurrence(drive, u.reshape(-1), lengths, self.hidden, self.nonlinearity, backend), []

    def _loop(self, drive: Tensor, u: Tensor, lengths: Tensor, real: Tensor) -> tuple[Tensor, list[Tensor]]:
        """The recurrence step by step on autograd: ``(outputs masked after each length, per-step states)``."""
        drive = self._align_backward(drive, lengths)
        h, states = drive.new_zeros(drive.shape[0], self.hidden_size), []
        for drive_t in drive.unbind(1):  # drive[:, t] would cost a [B, T, H] gradient per step
            h = self.activation(drive_t + u * h)
            states.append(h)
        outputs = self._align_backward(torch.stack(states, dim=1), lengths)
        return outputs * real.unsqueeze(-1), states

    def _align_backward(self, steps: Tensor, lengths: Tensor) -> Tensor:
        """Reverse the backward half of ``steps[B, T, directions * H]`` within each sequence (its own inverse)."""
        if self.directions == 1:
            return steps
        forward, backward = steps.split(self.hidden, dim=-1)
        return torch.cat([forward, reverse_padded(backward, lengths)], dim=-1)


class SlicedRNN(nn.Module):
    """Sliced RNN (Yu & Liu 2018): ``levels`` (k) cuts into ``slices`` (n) pieces, k + 1 shared RNNs.

    ``SlicedRNN(input_dim, hidden, slices=8, levels=2, cell="gru", layers=1, bidirectional=False,
    nonlinearity="tanh")``; every level is a :class:`RecurrentEncoder` of that cell.
    ``forward(x, lengths) -> Tensor[B, hidden * directions]``.

    Level 0 runs all n^k minimal subsequences of the batch as one batch; its final states, n per
    group, are the sequences of level 1, and so on up to one state per sentence at level k.

    Padding rule (per sequence, independent of its batch mates): a sequence of length L is
    right-aligned in n^k pieces of width m = ceil(L / n^k), i.e. conceptually pre-padded with
    n^k * m - L empty steps. Empty steps are skipped, not fed: a piece holds only its real tokens,
    and a piece or group with nothing in it is left out of the level above (empties are always
    leading, so the rest run as ordinary packed sequences). With identity activations and no biases
    above level 0, this makes the SRNN exactly the level-0 RNN over the whole sequence when level l
    has input weights I and recurrent weights U^(m * n^(l-1)) -- the paper's special case, for every L.
    """

    def __init__(self, input_dim: int, hidden: int, slices: int = 8, levels: int = 2, cell: str = "gru",
                 layers: int = 1, bidirectional: bool = False, nonlinearity: str = "tanh"):
        super().__init__()
        self.slices = slices
        self.levels = nn.ModuleList()
        for _ in range(levels + 1):
            self.levels.append(RecurrentEncoder(input_dim, hidden, cell, layers, bidirectional, nonlinearity))
            input_dim = self.levels[-1].hidden_size
        self.hidden_size = input_dim

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        batch, steps, dim = x.shape
        lengths = lengths.to(x.device)
        pieces = self.slices ** (len(self.levels) - 1)
        width = (lengths + pieces - 1) // pieces  # m per sequence
        first_step = width * pieces - lengths  # where the real tokens start in the padded sequence
        edges = (torch.arange(pieces + 1, device=x.device) * width.unsqueeze(1) - first_step.unsqueeze(1)).clamp(min=0)
        starts, counts = edges[:, :-1], edges.diff(dim=1)  # [B, n^k]: a piece's real tokens
        counts = counts.reshape(-1)
        if steps % pieces == 0 and bool((lengths == steps).all()):  # no padding, no empty step: pieces are a view
            tokens = x.reshape(batch * pieces, steps // pieces, dim)
        else:  # each piece's real tokens moved to its front
            index = (starts.unsqueeze(-1) + torch.arange(int(width.max()), device=x.device)).clamp(max=steps - 1)
            tokens = x.gather(1, index.view(batch, -1, 1).expand(-1, -1, dim)).view(batch * pieces, -1, dim)
        summaries = self._run_nonempty(self.levels[0], tokens, counts)
        for level in self.levels[1:]:
            # Children of a group: empty ones lead; shift the rest to the front of the group.
            filled = (counts > 0).view(-1, self.slices).sum(dim=1)
            index = (torch.arange(self.slices, device=x.device) + self.slices - filled.unsqueeze(1))
            index = index.clamp(max=self.slices - 1).unsqueeze(-1).expand(-1, -1, summaries.shape[-1])
            children = summaries.view(-1, self.slices, summaries.shape[-1]).gather(1, index)
            summaries, counts = self._run_nonempty(level, children, filled), filled
        return summaries

    @staticmethod
    def _run_nonempty(encoder: RecurrentEncoder, inputs: Tensor, counts: Tensor) -> Tensor:
        """Encode the rows of ``inputs`` with ``counts > 0`` (left-aligned); empty rows get zeros."""
        if bool((counts > 0).all()):  # nothing to leave out: no row copies
            return encoder(inputs, counts)
        rows = counts.nonzero().squeeze(1)
        encoded = encoder(inputs.index_select(0, rows), counts.index_select(0, rows))
        return inputs.new_zeros(len(counts), encoder.hidden_size).index_copy(0, rows, encoded)
