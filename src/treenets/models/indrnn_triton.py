"""The Triton kernels of :mod:`treenets.models.indrnn_kernels` (CUDA; or Triton's CPU interpreter with
``TRITON_INTERPRET=1``). Importing this module needs Triton; the package only does so through
:func:`treenets.models.indrnn_kernels.triton_kernels`.

One program per (sequence, block of channels) walks the sequence's real steps in time order
(channels >= R backwards) keeping its states in registers; padded steps get zeros.
"""

import triton
import triton.language as tl


@triton.jit
def activate(pre, RELU: tl.constexpr):
    if RELU:
        return tl.maximum(pre, 0.0)
    e = tl.exp(-2.0 * tl.abs(pre))  # tanh, stable for large |pre|
    magnitude = (1.0 - e) / (1.0 + e)
    return tl.where(pre < 0, -magnitude, magnitude)


@triton.jit
def program_setup(u, lengths, T, C, R, BLOCK: tl.constexpr):
    """This program's sequence b and channel block: (channels, inside C, reversed, length, u, row offset)."""
    b = tl.program_id(0)
    channels = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    inside = channels < C
    length = tl.load(lengths + b)
    weight = tl.load(u + channels, mask=inside, other=0.0)
    return channels, inside, channels >= R, length, weight, b * T * C


@triton.jit
def zero_padding(out, row, length, T, C, channels, inside, BLOCK: tl.constexpr):
    for t in range(length, T):
        tl.store(out + row + t * C + channels, tl.zeros([BLOCK], dtype=out.dtype.element_ty), mask=inside)


@triton.jit
def forward(d, u, lengths, h, T, C, R, RELU: tl.constexpr, BLOCK: tl.constexpr):
    channels, inside, reverse, length, weight, row = program_setup(u, lengths, T, C, R, BLOCK)
    state = tl.zeros([BLOCK], dtype=weight.dtype)
    for s in tl.range(0, length, num_stages=3):  # the drive's loads do not wait for the state: pipelined
        t = tl.where(reverse, length - 1 - s, s)
        pre = tl.load(d + row + t * C + channels, mask=inside, other=0.0) + weight * state
        state = activate(pre, RELU)
        tl.store(h + row + t * C + channels, state, mask=inside)
    zero_padding(h, row, length, T, C, channels, inside, BLOCK)


@triton.jit
def backward(gh, h, u, lengths, gd, gu, T, C, R, RELU: tl.constexpr, BLOCK: tl.constexpr):
    channels, inside, reverse, length, weight, row = program_setup(u, lengths, T, C, R, BLOCK)
    carry = tl.zeros([BLOCK], dtype=weight.dtype)  # dL/dh_{t} arriving from step t + 1
    weight_grad = tl.zeros([BLOCK], dtype=weight.dtype)
    for step in tl.range(0, length, num_stages=3):
        s = length - 1 - step  # recurrence steps in reverse
        t = tl.where(reverse, length - 1 - s, s)
        previous = tl.where(reverse, t + 1, t - 1)
        y = tl.load(h + row + t * C + channels, mask=inside, other=0.0)
        if RELU:
            slope = tl.where(y > 0, 1.0, 0.0)
        else:
            slope = 1.0 - y * y
        g = (tl.load(gh + row + t * C + channels, mask=inside, other=0.0) + carry) * slope
        tl.store(gd + row + t * C + channels, g, mask=inside)
        carry = g * weight
        has_previous = tl.full([BLOCK], s, tl.int32) > 0  # step s of the recurrence read step s - 1
        y_previous = tl.load(h + row + previous * C + channels, mask=inside & has_previous, other=0.0)
        weight_grad += g * y_previous
    tl.store(gu + tl.program_id(0) * C + channels, weight_grad, mask=inside)
    zero_padding(gd, row, length, T, C, channels, inside, BLOCK)
