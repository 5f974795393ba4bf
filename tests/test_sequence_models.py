"""Recurrent encoders against naive one-sequence-at-a-time references (float64), and the SRNN theorem."""

from __future__ import annotations

import copy
import importlib.util
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from treenets.models.sequence import IndRNN, RecurrentEncoder, SlicedRNN, reverse_padded, sentence_vectors

GARBAGE = 1e3  # padding is filled with this: any leak into a result shows


def padded_batch(lengths, dim, seed=0, low=None):
    """x[B, T, D] with random real steps (uniform in [0, 1) if ``low`` == 0) and garbage padding."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(lengths)
    steps = int(lengths.max()) + 2  # extra padded columns beyond the longest sequence
    x = torch.full((len(lengths), steps, dim), GARBAGE, dtype=torch.float64)
    for b, length in enumerate(lengths.tolist()):
        real = torch.rand(length, dim, generator=gen, dtype=torch.float64)
        x[b, :length] = real if low == 0 else 2 * real - 1
    return x, lengths


def outputs_and_gradients(module, function, x, lengths):
    """Value of ``function(x, lengths)`` and gradients of a fixed projection of it w.r.t. x and params."""
    x = x.clone().requires_grad_(True)
    out = function(x, lengths)
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype, device=out.device).view_as(out)
    params = [p for p in module.parameters() if p.requires_grad]
    grads = torch.autograd.grad((out * weights).sum(), [x] + params)
    return out.detach(), grads


def assert_same_function(module, reference, x, lengths):
    out, grads = outputs_and_gradients(module, module, x, lengths)
    ref_out, ref_grads = outputs_and_gradients(module, reference, x, lengths)
    torch.testing.assert_close(out, ref_out, rtol=1e-9, atol=1e-10)
    for grad, ref_grad in zip(grads, ref_grads):
        torch.testing.assert_close(grad, ref_grad, rtol=1e-8, atol=1e-10)


# ---------------------------------------------------------------- torch.nn RNN / LSTM / GRU
def recurrent_reference(encoder, x, lengths):
    """Each sequence alone, unpadded: forward state at its last token, backward state at its first."""
    hidden = encoder.rnn.hidden_size
    rows = []
    for b, length in enumerate(lengths.tolist()):
        steps, _ = encoder.rnn(x[b:b + 1, :length])
        forward = steps[0, length - 1, :hidden]
        rows.append(torch.cat([forward, steps[0, 0, hidden:]]) if encoder.directions == 2 else forward)
    return torch.stack(rows)


@pytest.mark.parametrize("cell,nonlinearity", [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True)])
def test_recurrent_encoder_matches_each_sequence_alone(cell, nonlinearity, layers, bidirectional):
    torch.manual_seed(0)
    encoder = RecurrentEncoder(3, 4, cell, layers, bidirectional, nonlinearity).double()
    x, lengths = padded_batch([5, 1, 7, 3], 3)
    assert encoder(x, lengths).shape == (4, encoder.hidden_size) == (4, 4 * (2 if bidirectional else 1))
    assert_same_function(encoder, lambda x, lengths: recurrent_reference(encoder, x, lengths), x, lengths)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_trace_is_forward_step_by_step(cell):
    torch.manual_seed(1)
    encoder = RecurrentEncoder(3, 4, cell, layers=2).double()
    x, lengths = padded_batch([6, 2, 4], 3)
    assert_same_function(encoder, lambda x, lengths: encoder.trace(x, lengths)[0], x, lengths)
    with pytest.raises(ValueError, match="one direction"):
        RecurrentEncoder(3, 4, cell, bidirectional=True).trace(x.float(), lengths)


def test_trace_states_carry_the_recurrence_gradient():
    """dL/dh_{t-1} = W_hh^T ((1 - h_t^2) * dL/dh_t) for a tanh RNN: states are the real h_t."""
    torch.manual_seed(2)
    encoder = RecurrentEncoder(3, 4, "rnn").double()
    x, lengths = padded_batch([6], 3)
    sentence, states = encoder.trace(x, lengths)
    grads = torch.autograd.grad((sentence ** 2).sum(), states)
    assert len(states) == x.shape[1]
    w_hh = encoder.rnn.weight_hh_l0
    for t in range(1, 6):
        expected = ((1 - states[t] ** 2) * grads[t]) @ w_hh
        torch.testing.assert_close(grads[t - 1], expected)
    torch.testing.assert_close(grads[5], 2 * sentence)


# ---------------------------------------------------------------- IndRNN
def indrnn_reference(model, x, lengths):
    """Per sequence and step, with batch norm statistics over the real steps of the whole batch."""
    hidden, directions = model.hidden, model.directions
    sequences = [x[b, :length] for b, length in enumerate(lengths.tolist())]
    for i, (project, u) in enumerate(zip(model.projections, model.recurrent)):
        drives = [project(seq) for seq in sequences]
        if model.norms is not None:
            norm, every_step = model.norms[i], torch.cat(drives)
            mean, var = every_step.mean(0), every_step.var(0, unbiased=False)
            drives = [(d - mean) / torch.sqrt(var + norm.eps) * norm.weight + norm.bias for d in drives]
        outputs = []
        for drive in drives:
            per_direction = []
            for direction in range(directions):
                steps = drive.view(len(drive), directions, hidden)[:, direction]
                steps = steps.flip(0) if direction == 1 else steps
                h, states = torch.zeros(hidden, dtype=x.dtype), []
                for step in steps:
                    h = model.activation(step + u[direction] * h)
                    states.append(h)
                states = torch.stack(states)
                per_direction.append(states.flip(0) if direction == 1 else states)
            outputs.append(torch.cat(per_direction, dim=-1))
        sequences = [o + s if model.residual and i > 0 else o for o, s in zip(outputs, sequences)]
    return torch.stack([torch.cat([seq[-1, :hidden], seq[0, hidden:]]) for seq in sequences])


@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, True)])
def test_lstm_without_output_gate_is_tanh_of_the_cell(layers, bidirectional):
    """h_t = tanh(c_t) with i, f, g from the LSTM's own weights, also after an optimizer step."""
    torch.manual_seed(0)
    encoder = RecurrentEncoder(3, 4, "lstm", layers, bidirectional, output_gate=False).double()
    x, lengths = torch.randn(2, 5, 3, dtype=torch.float64), torch.tensor([5, 3])
    optimizer = torch.optim.Adagrad(encoder.parameters(), lr=0.5, weight_decay=0.1)
    encoder(x, lengths).sum().backward()
    optimizer.step()
    encoder.constrain_()

    def run(inputs, layer, suffix=""):  # one direction of one layer, step by step
        W, U = getattr(encoder.rnn, f"weight_ih_l{layer}{suffix}"), getattr(encoder.rnn, f"weight_hh_l{layer}{suffix}")
        b = getattr(encoder.rnn, f"bias_ih_l{layer}{suffix}") + getattr(encoder.rnn, f"bias_hh_l{layer}{suffix}")
        h, c, out = inputs.new_zeros(4), inputs.new_zeros(4), []
        for x_t in inputs:
            i, f, g, _ = (W @ x_t + U @ h + b).split(4)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.tanh(c)
            out.append(h)
        return torch.stack(out)

    every_layer = RecurrentEncoder(3, 4, "lstm", layers, bidirectional, output_gate=False, all_layers=True).double()
    every_layer.load_state_dict(encoder.state_dict())
    for row, length in enumerate(lengths.tolist()):
        inputs, finals = x[row, :length], []
        for layer in range(layers):
            forward = run(inputs, layer)
            backward = run(inputs.flip(0), layer, "_reverse").flip(0) if bidirectional else None
            finals.append([forward[-1]] + ([backward[0]] if bidirectional else []))
            inputs = torch.cat([forward, backward], dim=1) if bidirectional else forward
        torch.testing.assert_close(encoder(x, lengths)[row], torch.cat(finals[-1]), rtol=0, atol=1e-12)
        # all_layers: layer after layer, each [forward; backward] (Tai et al.'s multi-layer sentence vector)
        torch.testing.assert_close(every_layer(x, lengths)[row], torch.cat([h for layer in finals for h in layer]),
                                   rtol=0, atol=1e-12)
    assert every_layer.hidden_size == 4 * (2 if bidirectional else 1) * layers


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
def test_tied_directions_run_one_stack_forward_and_over_the_reversed_sentence(cell, layers):
    """tie_directions (Tai et al.'s BiLSTM): the backward half is the unidirectional stack itself on the
    reversed sentence, each direction its own stack; one direction's parameters; padding ignored."""
    torch.manual_seed(3)
    tied = RecurrentEncoder(3, 4, cell, layers, bidirectional=True, tie_directions=True, all_layers=True).double()
    one_way = RecurrentEncoder(3, 4, cell, layers).double()
    one_way.load_state_dict(tied.state_dict())
    assert sum(p.numel() for p in tied.parameters()) == sum(p.numel() for p in one_way.parameters())
    x, lengths = padded_batch([5, 1, 7, 3], 3)
    out = tied(x, lengths)
    assert out.shape == (4, tied.hidden_size) == (4, 4 * 2 * layers)

    def final_states(sequence):  # every layer's last state of the stack over one unpadded sequence
        _, final = one_way.rnn(sequence.unsqueeze(0))
        return (final[0] if cell == "lstm" else final)[:, 0]

    for row, length in enumerate(lengths.tolist()):
        forward, backward = final_states(x[row, :length]), final_states(x[row, :length].flip(0))
        expected = torch.cat([h for layer in range(layers) for h in (forward[layer], backward[layer])])
        torch.testing.assert_close(out[row], expected, rtol=1e-12, atol=1e-12)
    top = RecurrentEncoder(3, 4, cell, layers, bidirectional=True, tie_directions=True).double()
    top.load_state_dict(tied.state_dict())
    torch.testing.assert_close(top(x, lengths), out[:, -8:])
    assert_same_function(top, lambda x, lengths: top(x, lengths), x, lengths)  # finite, deterministic gradients
    with pytest.raises(ValueError, match="tie_directions needs bidirectional"):
        RecurrentEncoder(3, 4, cell, tie_directions=True)


@pytest.mark.parametrize("layers,bidirectional,residual,batch_norm,nonlinearity", [
    (1, False, False, False, "relu"),
    (3, False, True, False, "relu"),
    (2, True, True, True, "relu"),
    (2, True, False, True, "tanh"),
])
def test_indrnn_matches_naive_loop(layers, bidirectional, residual, batch_norm, nonlinearity):
    torch.manual_seed(3)
    model = IndRNN(3, 4, layers, bidirectional, nonlinearity, constraint_len=10,
                   residual=residual, batch_norm=batch_norm).double()
    with torch.no_grad():  # signed recurrent weights exercise both signs of the elementwise recurrence
        for u in model.recurrent:
            u.uniform_(-1, 1)
    x, lengths = padded_batch([5, 1, 7, 3], 3)
    assert model(x, lengths).shape == (4, model.hidden_size) == (4, 4 * (2 if bidirectional else 1))
    assert_same_function(model, lambda x, lengths: indrnn_reference(model, x, lengths), x, lengths)


def test_indrnn_constraint_holds_after_constrain():
    model = IndRNN(3, 5, layers=2, mag=10.0, constraint_len=50)
    bound = 10.0 ** (1 / 50)
    assert all(bool((u.abs() <= bound).all()) for u in model.recurrent)  # initialised inside
    with torch.no_grad():
        model.recurrent[0].copy_(torch.tensor([[3.0, -3.0, 0.5, -0.5, bound]]))
        model.recurrent[1].fill_(-7.0)
    model.constrain_()
    assert model.recurrent[0].tolist() == [[pytest.approx(bound), pytest.approx(-bound), 0.5, -0.5, pytest.approx(bound)]]
    assert torch.allclose(model.recurrent[1], torch.full((1, 5), -bound))


def test_indrnn_trace_gives_elementwise_recurrence_gradient():
    """dL/dh_{t-1} = u * relu'(pre_t) * dL/dh_t: one neuron's gradient never mixes with another's."""
    torch.manual_seed(4)
    model = IndRNN(3, 4, constraint_len=8).double()
    x, lengths = padded_batch([8], 3)
    sentence, states = model.trace(x, lengths)
    grads = torch.autograd.grad((sentence ** 2).sum(), states[:8])
    u = model.recurrent[0][0]
    for t in range(1, 8):
        torch.testing.assert_close(grads[t - 1], u * (states[t] > 0) * grads[t])
    with pytest.raises(ValueError, match="one direction"):
        IndRNN(3, 4, bidirectional=True, constraint_len=8).trace(x.float(), lengths)


def test_sentence_vectors_pick_the_last_real_step_forward_and_the_first_backward():
    """By hand, on padded outputs [B, T, 2 * H]: the forward half at step length - 1, the backward half
    at step 0; the gradient reaches those positions only, once."""
    outputs = torch.arange(3 * 5 * 4, dtype=torch.float64).view(3, 5, 4).requires_grad_(True)
    lengths = torch.tensor([5, 2, 1])
    vectors = sentence_vectors(outputs, lengths, directions=2)
    expected = torch.stack([torch.cat([outputs[b, n - 1, :2], outputs[b, 0, 2:]]) for b, n in enumerate([5, 2, 1])])
    assert torch.equal(vectors, expected)
    assert torch.equal(sentence_vectors(outputs[..., :2], lengths, directions=1), expected[:, :2])
    vectors.sum().backward()
    picked = torch.zeros(3, 5, 4, dtype=torch.float64)
    for b, n in enumerate([5, 2, 1]):
        picked[b, n - 1, :2] += 1
        picked[b, 0, 2:] += 1
    assert torch.equal(outputs.grad, picked)


# ---------------------------------------------------------------- IndRNN: fused kernels == the Python loop
def fused_matches_loop(backend, layers, bidirectional, residual, batch_norm, nonlinearity, lengths, seed=0,
                       preactivation=False, hidden=5):
    """IndRNN with ``backend`` against the same weights on the per-step loop (backend=None): outputs and
    the gradients of x, every projection, batch norm and recurrent weight, float64, 1e-10."""
    torch.manual_seed(seed)
    model = IndRNN(3, hidden, layers, bidirectional, nonlinearity, mag=10.0, constraint_len=4, residual=residual,
                   batch_norm=batch_norm, backend=backend, preactivation=preactivation).double()
    with torch.no_grad():  # signed weights and |u| > 1: both signs of the recurrence and growing states
        for u in model.recurrent:
            u.uniform_(-1.1, 1.1)
    loop = copy.deepcopy(model)
    loop.backend = None
    x, lengths = padded_batch(lengths, 3, seed=seed)
    def every_layer(module):  # every step of every layer, padding included (must be 0 there)
        return lambda x, lengths: torch.cat(module.layer_outputs(x, lengths), dim=-1)

    for function, reference in ((model, loop), (every_layer(model), every_layer(loop))):
        out, grads = outputs_and_gradients(model, function, x, lengths)
        ref_out, ref_grads = outputs_and_gradients(loop, reference, x, lengths)
        torch.testing.assert_close(out, ref_out, rtol=0, atol=1e-10)
        assert len(grads) == len(ref_grads) == 1 + len(list(model.parameters()))
        for grad, ref_grad in zip(grads, ref_grads):
            torch.testing.assert_close(grad, ref_grad, rtol=0, atol=1e-10)


INDRNN_VARIANTS = [  # layers, bidirectional, residual, batch_norm, nonlinearity
    (1, False, False, False, "relu"),
    (1, True, False, False, "tanh"),
    (3, False, True, False, "relu"),
    (2, True, True, True, "relu"),
    (2, True, False, True, "tanh"),
]
LENGTH_CASES = {  # padded_batch adds 2 all-padding steps after the longest sequence
    "random": [int(n) for n in torch.randint(1, 40, (7,), generator=torch.Generator().manual_seed(1))],
    "single_steps": [1, 1],  # batch norm needs two real steps
    "length_one_among_long": [1, 12, 1, 5],
}


@pytest.mark.parametrize("variant", INDRNN_VARIANTS, ids=lambda v: "-".join(map(str, v)))
@pytest.mark.parametrize("case", LENGTH_CASES)
def test_fused_indrnn_equals_loop_on_cpu(variant, case):
    fused_matches_loop("cpu", *variant, LENGTH_CASES[case])


@pytest.mark.parametrize("nonlinearity", ["relu", "tanh"])
def test_fused_indrnn_rows_over_several_cache_lines(nonlinearity):
    """Hidden 21 in float64: each direction's row spans three 64-byte lines, the last one partly, which
    the kernels walk line by line (backwards against time), the backward half starting mid-line."""
    fused_matches_loop("cpu", 2, True, True, False, nonlinearity, LENGTH_CASES["random"], hidden=21)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_preactivation_indrnn_fused_equals_loop(batch_norm):
    fused_matches_loop("cpu", 3, True, True, batch_norm, "relu", LENGTH_CASES["random"], preactivation=True)


def test_preactivation_indrnn_is_the_stream_of_li_et_al():
    """s_0 = W_0 x, h_i = relu(s_i + u_i * h_i(t-1)) (no batch norm), s_{i+1} = s_i + W_{i+1} h_i, by hand."""
    torch.manual_seed(5)
    model = IndRNN(3, 4, 3, constraint_len=6, residual=True, preactivation=True).double()
    x, lengths = padded_batch([6, 6], 3)

    def recurrence(drive, u):
        h, out = torch.zeros(drive.shape[0], drive.shape[2], dtype=drive.dtype), []
        for t in range(drive.shape[1]):
            h = torch.relu(drive[:, t] + u * h)
            out.append(h)
        return torch.stack(out, dim=1)

    stream = model.projections[0](x)
    for i, u in enumerate(model.recurrent):
        h = recurrence(stream, u.reshape(-1))
        if i + 1 < len(model.recurrent):
            stream = stream + model.projections[i + 1](h)
    torch.testing.assert_close(model.layer_outputs(x, lengths)[-1][:, :6], h[:, :6], rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="needs residual=True"):
        IndRNN(3, 4, 2, constraint_len=6, preactivation=True)


def test_fused_indrnn_without_padding_and_t_equals_one():
    """No padded step at all (every sequence full length), and T = 1."""
    torch.manual_seed(2)
    for steps in (1, 6):
        model = IndRNN(3, 4, 2, bidirectional=True, constraint_len=6, residual=True).double()
        loop = copy.deepcopy(model)
        loop.backend = None
        x = torch.randn(3, steps, 3, dtype=torch.float64)
        lengths = torch.full((3,), steps)
        out, grads = outputs_and_gradients(model, model, x, lengths)
        ref_out, ref_grads = outputs_and_gradients(loop, loop, x, lengths)
        torch.testing.assert_close(out, ref_out, rtol=0, atol=1e-10)
        for grad, ref_grad in zip(grads, ref_grads):
            torch.testing.assert_close(grad, ref_grad, rtol=0, atol=1e-10)


@pytest.mark.parametrize("threads", [1, 2])
def test_fused_cpu_layer_without_input_gradient_and_on_threads(threads):
    """The C++ layer (projection inside) when x needs no gradient (word vectors kept fixed), and with the
    batch split over threads (each thread sums its own weight gradient): parameters' gradients == loop."""
    torch.manual_seed(4)
    model = IndRNN(3, 5, 2, bidirectional=True, constraint_len=30, residual=True).double()
    loop = copy.deepcopy(model)
    loop.backend = None
    x, lengths = padded_batch([30, 1, 17, 9, 30, 2], 3)
    weights = torch.randn(len(lengths), 10, dtype=torch.float64)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        grads = torch.autograd.grad((model(x, lengths) * weights).sum(), list(model.parameters()))
    finally:
        torch.set_num_threads(previous)
    ref_grads = torch.autograd.grad((loop(x, lengths) * weights).sum(), list(loop.parameters()))
    for grad, ref_grad in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(grad, ref_grad, rtol=0, atol=1e-10)


def test_fused_indrnn_is_the_default_and_float32_agrees():
    from treenets.models.indrnn_kernels import available_backend

    assert available_backend(torch.device("cpu")) == "cpu"  # g++ builds it here, and on CI
    torch.manual_seed(3)
    model = IndRNN(3, 8, 2, bidirectional=True, constraint_len=20)
    loop = copy.deepcopy(model)
    loop.backend = None
    x, lengths = padded_batch([20, 3, 11], 3)
    torch.testing.assert_close(model(x.float(), lengths), loop(x.float(), lengths), rtol=1e-5, atol=1e-6)


def test_indrnn_falls_back_to_the_loop_once_warned_when_the_cpu_op_cannot_build(monkeypatch):
    from torch.utils import cpp_extension

    from treenets.models import indrnn_kernels

    def no_compiler(**kwargs):
        raise RuntimeError("g++: command not found")

    monkeypatch.setattr(cpp_extension, "load_inline", no_compiler)
    indrnn_kernels.cpu_extension.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="could not be built .*g\\+\\+: command not found.*Python loop"):
            assert indrnn_kernels.available_backend(torch.device("cpu")) is None
        torch.manual_seed(0)
        model = IndRNN(3, 4, constraint_len=5).double()
        x, lengths = padded_batch([5, 2], 3)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # warned once, not on every call
            loop_out = model(x, lengths)
        model.backend = None
        torch.testing.assert_close(loop_out, model(x, lengths), rtol=0, atol=0)
    finally:
        indrnn_kernels.cpu_extension.cache_clear()  # the next caller builds (loads) the real op again


TRITON_CHECK = """
import sys
sys.path.insert(0, {tests!r})
from test_sequence_models import INDRNN_VARIANTS, LENGTH_CASES, fused_matches_loop
for variant in INDRNN_VARIANTS:  # the interpreter is slow: every variant once, every length case once
    fused_matches_loop("triton", *variant, LENGTH_CASES["random"])
for lengths in LENGTH_CASES.values():
    fused_matches_loop("triton", *INDRNN_VARIANTS[3], lengths)
print("triton == loop")
"""


@pytest.mark.slow  # ~20 s on an idle core: the interpreter runs every program in Python
@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="needs triton (pip install triton)")
def test_triton_indrnn_equals_loop_in_the_interpreter():
    """The CUDA kernels, run by Triton's CPU interpreter on CPU tensors (a GPU runs the same code compiled)."""
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    result = subprocess.run([sys.executable, "-c", TRITON_CHECK.format(tests=str(Path(__file__).parent))], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "triton == loop" in result.stdout


def test_reverse_padded_keeps_padding_in_place():
    x = torch.arange(8.0).view(2, 4)
    assert reverse_padded(x, torch.tensor([3, 4])).tolist() == [[2, 1, 0, 3], [7, 6, 5, 4]]


# ---------------------------------------------------------------- Sliced RNN
def srnn_reference(model, x, lengths):
    """Slice each sequence alone with Python lists: pre-pad with empty steps, drop empties per level."""

    def run(level, steps):
        _, final = level.rnn(torch.stack(steps).unsqueeze(0))
        h_n = final[0] if isinstance(final, tuple) else final
        return torch.cat(list(h_n[-level.directions:, 0]))

    n, pieces = model.slices, model.slices ** (len(model.levels) - 1)
    rows = []
    for b, length in enumerate(lengths.tolist()):
        width = math.ceil(length / pieces)
        steps = [None] * (pieces * width - length) + list(x[b, :length])
        items = [[s for s in steps[i * width:(i + 1) * width] if s is not None] for i in range(pieces)]
        summaries = [run(model.levels[0], piece) if piece else None for piece in items]
        for level in model.levels[1:]:
            groups = [[s for s in summaries[i:i + n] if s is not None] for i in range(0, len(summaries), n)]
            summaries = [run(level, group) if group else None for group in groups]
        rows.append(summaries[0])
    return torch.stack(rows)


@pytest.mark.parametrize("slices,levels,cell,bidirectional", [
    (2, 2, "gru", False), (3, 1, "lstm", True), (8, 2, "gru", False), (2, 3, "rnn", False)])
def test_srnn_matches_sequences_sliced_alone(slices, levels, cell, bidirectional):
    torch.manual_seed(5)
    model = SlicedRNN(3, 4, slices, levels, cell, bidirectional=bidirectional).double()
    x, lengths = padded_batch([1, 9, 4, 12, 7, 2], 3)
    assert model(x, lengths).shape == (6, model.hidden_size) == (6, 4 * (2 if bidirectional else 1))
    assert_same_function(model, lambda x, lengths: srnn_reference(model, x, lengths), x, lengths)


@pytest.mark.parametrize("steps", [16, 13, 3])
def test_srnn_unpadded_batches_match_sequences_sliced_alone(steps):
    """No padding: 16 = 2^2 * 4 slices into a view of x, 13 needs leading empty steps, 3 leaves pieces empty."""
    torch.manual_seed(8)
    model = SlicedRNN(3, 4, slices=2, levels=2).double()
    x = torch.rand(3, steps, 3, dtype=torch.float64)
    lengths = torch.full((3,), steps)
    assert_same_function(model, lambda x, lengths: srnn_reference(model, x, lengths), x, lengths)


def test_srnn_result_does_not_depend_on_batch_mates():
    torch.manual_seed(6)
    model = SlicedRNN(3, 4, slices=2, levels=2).double()
    x, lengths = padded_batch([3, 11, 6, 1, 8], 3)
    together = model(x, lengths)
    order = torch.tensor([4, 2, 0, 3, 1])
    torch.testing.assert_close(model(x[order], lengths[order]), together[order], rtol=0, atol=1e-12)
    for b, length in enumerate(lengths.tolist()):
        alone = model(x[b:b + 1, :length], lengths[b:b + 1])
        torch.testing.assert_close(alone[0], together[b], rtol=0, atol=1e-12)


def make_srnn_linear(model, width, seed):
    """Level 0: nonnegative weights (so ReLU acts as the identity on nonnegative inputs).
    Level l >= 1: W = I, U = U_0^(width * n^(l-1)), no biases -- the paper's special case."""
    gen = torch.Generator().manual_seed(seed)
    base = model.levels[0].rnn
    with torch.no_grad():
        for param in base.parameters():
            param.copy_(0.4 * torch.rand(param.shape, generator=gen, dtype=param.dtype))
        for l, level in enumerate(model.levels[1:], start=1):
            rnn = level.rnn
            rnn.weight_ih_l0.copy_(torch.eye(rnn.hidden_size, dtype=rnn.weight_ih_l0.dtype))
            power = width * model.slices ** (l - 1)
            rnn.weight_hh_l0.copy_(torch.linalg.matrix_power(base.weight_hh_l0, power))
            rnn.bias_ih_l0.zero_()
            rnn.bias_hh_l0.zero_()


@pytest.mark.parametrize("slices,levels", [(2, 2), (3, 1), (2, 3)])
def test_srnn_with_linear_activations_is_the_plain_rnn(slices, levels):
    """Yu & Liu 2018: with linear activations the standard RNN is a special case of the SRNN.
    Exact for every length under our padding rule (empty leading steps are skipped)."""
    pieces = slices ** levels
    for length in range(1, 3 * pieces + 1):
        width = math.ceil(length / pieces)
        model = SlicedRNN(3, 3, slices, levels, cell="rnn", nonlinearity="relu").double()
        make_srnn_linear(model, width, seed=length)
        plain = model.levels[0]  # the level-0 RNN over the whole sequence
        x, lengths = padded_batch([length], 3, seed=length, low=0)
        torch.testing.assert_close(model(x, lengths), plain(x, lengths), rtol=1e-10, atol=1e-12)
        if width > 1:  # the condition is needed: recurrent weights U instead of U^m break it
            model.levels[1].rnn.weight_hh_l0.data.copy_(plain.rnn.weight_hh_l0)
            assert not torch.allclose(model(x, lengths), plain(x, lengths))


# ---------------------------------------------------------------- CUDA (cuDNN) equals CPU
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("make", [
    lambda: RecurrentEncoder(3, 4, "lstm", layers=2, bidirectional=True),
    lambda: RecurrentEncoder(3, 4, "gru", layers=2),
    lambda: IndRNN(3, 4, 2, bidirectional=True, constraint_len=10, residual=True, batch_norm=True),
    lambda: SlicedRNN(3, 4, slices=2, levels=2, cell="gru"),
], ids=["bilstm", "gru", "indrnn", "srnn"])
def test_encoders_on_cuda_equal_cpu(make):
    """Lengths on the GPU too, as a SequenceBatch moved with .to("cuda") has them."""
    torch.manual_seed(7)
    model = make().double()
    x, lengths = padded_batch([5, 1, 7, 3, 12], 3)
    out, grads = outputs_and_gradients(model, model, x, lengths)
    on_gpu = copy.deepcopy(model).cuda()
    gpu_out, gpu_grads = outputs_and_gradients(on_gpu, on_gpu, x.cuda(), lengths.cuda())
    torch.testing.assert_close(gpu_out.cpu(), out, rtol=1e-9, atol=1e-10)
    for grad, gpu_grad in zip(grads, gpu_grads):
        torch.testing.assert_close(gpu_grad.cpu(), grad, rtol=1e-8, atol=1e-10)
