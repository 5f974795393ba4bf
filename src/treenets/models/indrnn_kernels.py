"""IndRNN's elementwise recurrence fused: h_t = act(d_t + u * h_{t-1}) over a whole batch in one call.

:func:`indrnn_recurrence` runs the loop over t inside compiled code, forward and backward (a custom
autograd Function): on the CPU a C++ op JIT-built once with ``torch.utils.cpp_extension.load_inline``
(cached under torch's extensions folder), on CUDA a Triton kernel. Where neither can run (no
compiler, no Triton) :func:`available_backend` says None and :class:`treenets.models.sequence.IndRNN`
runs its per-step Python loop, the reference the tests compare the kernels with, after a one-time
warning.

Layout: ``drive[B, T, C]``, ``u[C]``, ``lengths[B]``. Channels ``c >= reverse_from`` run backwards
in time within each sequence (t = L-1 down to 0: a bidirectional layer's backward half, no
reversal gathers needed), the others forwards. Sequence b's real steps are t < lengths[b]; its
padded steps get h = 0 and pass no gradient, as if each sequence were run alone and zero-padded.
Every sequence starts from h = 0.
"""

from __future__ import annotations

import functools
import warnings

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

NONLINEARITIES = ("relu", "tanh")


# --------------------------------------------------------------------------- CPU: a C++ op
CPP_SOURCE = r"""
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <cmath>

// Channels [0, reverse_from) run t = 0..L-1, channels [reverse_from, C) run t = L-1..0.
template <typename scalar_t, bool relu>
static void forward_kernel(const scalar_t* d, const scalar_t* u, const int64_t* lengths, scalar_t* h,
                           int64_t B, int64_t T, int64_t C, int64_t R) {
  at::parallel_for(0, B, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t L = lengths[b];
      const scalar_t* db = d + b * T * C;
      scalar_t* hb = h + b * T * C;
      for (int64_t s = 0; s < L; ++s) {
        const int64_t tf = s, tb = L - 1 - s;
        const scalar_t* df = db + tf * C;
        scalar_t* hf = hb + tf * C;
        for (int64_t c = 0; c < R; ++c) {
          const scalar_t prev = s > 0 ? hf[c - C] : scalar_t(0);
          const scalar_t pre = df[c] + u[c] * prev;
          hf[c] = relu ? (pre > scalar_t(0) ? pre : scalar_t(0)) : std::tanh(pre);
        }
        const scalar_t* dr = db + tb * C;
        scalar_t* hr = hb + tb * C;
        for (int64_t c = R; c < C; ++c) {
          const scalar_t prev = s > 0 ? hr[c + C] : scalar_t(0);
          const scalar_t pre = dr[c] + u[c] * prev;
          hr[c] = relu ? (pre > scalar_t(0) ? pre : scalar_t(0)) : std::tanh(pre);
        }
      }
      for (int64_t i = L * C; i < T * C; ++i) hb[i] = scalar_t(0);
    }
  });
}

// grad_d[t] = (grad_h[t] + u * grad_d[t+1]) * act'(h[t]), walking each channel against its time
// direction; grad_u (per sequence, summed by the caller) = sum_t grad_d[t] * h[t-1].
template <typename scalar_t, bool relu>
static void backward_kernel(const scalar_t* gh, const scalar_t* h, const scalar_t* u, const int64_t* lengths,
                            scalar_t* gd, scalar_t* gu, int64_t B, int64_t T, int64_t C, int64_t R) {
  at::parallel_for(0, B, 1, [&](int64_t begin, int64_t end) {
    std::vector<scalar_t> carry(C);
    for (int64_t b = begin; b < end; ++b) {
      const int64_t L = lengths[b];
      const int64_t off = b * T * C;
      scalar_t* gub = gu + b * C;
      std::fill(carry.begin(), carry.end(), scalar_t(0));
      for (int64_t s = L - 1; s >= 0; --s) {
        const int64_t tf = s, tb = L - 1 - s;
        const scalar_t* hf = h + off + tf * C;
        const scalar_t* ghf = gh + off + tf * C;
        scalar_t* gdf = gd + off + tf * C;
        for (int64_t c = 0; c < R; ++c) {
          const scalar_t y = hf[c];
          const scalar_t slope = relu ? (y > scalar_t(0) ? scalar_t(1) : scalar_t(0)) : scalar_t(1) - y * y;
          const scalar_t g = (ghf[c] + carry[c]) * slope;
          gdf[c] = g;
          carry[c] = g * u[c];
          gub[c] += g * (s > 0 ? hf[c - C] : scalar_t(0));
        }
        const scalar_t* hr = h + off + tb * C;
        const scalar_t* ghr = gh + off + tb * C;
        scalar_t* gdr = gd + off + tb * C;
        for (int64_t c = R; c < C; ++c) {
          const scalar_t y = hr[c];
          const scalar_t slope = relu ? (y > scalar_t(0) ? scalar_t(1) : scalar_t(0)) : scalar_t(1) - y * y;
          const scalar_t g = (ghr[c] + carry[c]) * slope;
          gdr[c] = g;
          carry[c] = g * u[c];
          gub[c] += g * (s > 0 ? hr[c + C] : scalar_t(0));
        }
      }
      for (int64_t i = off + L * C; i < off + T * C; ++i) gd[i] = scalar_t(0);
    }
  });
}

torch::Tensor indrnn_forward(torch::Tensor d, torch::Tensor u, torch::Tensor lengths, int64_t R, bool relu) {
  auto h = torch::empty_like(d);
  const int64_t B = d.size(0), T = d.size(1), C = d.size(2);
  AT_DISPATCH_FLOATING_TYPES(d.scalar_type(), "indrnn_forward", [&] {
    auto kernel = relu ? forward_kernel<scalar_t, true> : forward_kernel<scalar_t, false>;
    kernel(d.data_ptr<scalar_t>(), u.data_ptr<scalar_t>(), lengths.data_ptr<int64_t>(), h.data_ptr<scalar_t>(),
           B, T, C, R);
  });
  return h;
}

std::vector<torch::Tensor> indrnn_backward(torch::Tensor gh, torch::Tensor h, torch::Tensor u, torch::Tensor lengths,
                                           int64_t R, bool relu) {
  auto gd = torch::empty_like(h);
  const int64_t B = h.size(0), T = h.size(1), C = h.size(2);
  auto gu = torch::zeros({B, C}, h.options());
  AT_DISPATCH_FLOATING_TYPES(h.scalar_type(), "indrnn_backward", [&] {
    auto kernel = relu ? backward_kernel<scalar_t, true> : backward_kernel<scalar_t, false>;
    kernel(gh.data_ptr<scalar_t>(), h.data_ptr<scalar_t>(), u.data_ptr<scalar_t>(), lengths.data_ptr<int64_t>(),
           gd.data_ptr<scalar_t>(), gu.data_ptr<scalar_t>(), B, T, C, R);
  });
  return {gd, gu.sum(0)};
}
"""


@functools.cache
def cpu_extension():
    """The C++ op, built on first use (a minute with g++; then loaded from torch's extension cache),
    or None where it cannot be built."""
    from torch.utils import cpp_extension

    try:
        return cpp_extension.load_inline(
            name="treenets_indrnn_cpu", cpp_sources=[CPP_SOURCE], functions=["indrnn_forward", "indrnn_backward"],
            extra_cflags=["-O3"], verbose=False)
    except Exception as error:  # no compiler, no ninja, no Python headers: any of them ends here
        warnings.warn(f"IndRNN: the C++ recurrence could not be built ({type(error).__name__}: "
                      f"{str(error).strip().splitlines()[-1] if str(error).strip() else ''}); "
                      "running the per-step Python loop instead (slow on long sequences)", RuntimeWarning, stacklevel=3)
        return None


# --------------------------------------------------------------------------- CUDA: Triton
@functools.cache
def triton_kernels():
    """:mod:`treenets.models.indrnn_triton` (its forward and backward kernels), or None without Triton.
    Under ``TRITON_INTERPRET=1`` they also run on CPU tensors (how the tests check them without a GPU)."""
    try:
        from treenets.models import indrnn_triton
    except ImportError:
        return None
    return indrnn_triton


def _triton_grid(drive: Tensor) -> tuple[tuple[int, int], int]:
    """One warp per (sequence, 32 channels): the loop over t is latency-bound, so more, smaller programs."""
    block = 32 if drive.shape[2] > 16 else 16
    return (drive.shape[0], -(-drive.shape[2] // block)), block


def triton_forward(drive, u, lengths, reverse_from, relu):
    h = torch.empty_like(drive)
    grid, block = _triton_grid(drive)
    triton_kernels().forward[grid](drive, u, lengths, h, drive.shape[1], drive.shape[2], reverse_from, RELU=relu,
                                   BLOCK=block, num_warps=1)
    return h


def triton_backward(grad_h, h, u, lengths, reverse_from, relu):
    grad_d = torch.empty_like(h)
    grad_u = h.new_empty(h.shape[0], h.shape[2])
    grid, block = _triton_grid(h)
    triton_kernels().backward[grid](grad_h, h, u, lengths, grad_d, grad_u, h.shape[1], h.shape[2], reverse_from,
                                    RELU=relu, BLOCK=block, num_warps=1)
    return grad_d, grad_u.sum(0)


def cpu_forward(drive, u, lengths, reverse_from, relu):
    return cpu_extension().indrnn_forward(drive, u, lengths, reverse_from, relu)


def cpu_backward(grad_h, h, u, lengths, reverse_from, relu):
    return cpu_extension().indrnn_backward(grad_h, h, u, lengths, reverse_from, relu)


BACKENDS = {"cpu": (cpu_forward, cpu_backward), "triton": (triton_forward, triton_backward)}


class FusedRecurrence(torch.autograd.Function):
    """Forward and backward of the whole recurrence, each one kernel call; saves only h."""

    @staticmethod
    def forward(ctx, drive, u, lengths, reverse_from, relu, backend):
        drive, u = drive.contiguous(), u.contiguous()
        h = BACKENDS[backend][0](drive, u, lengths, reverse_from, relu)
        ctx.save_for_backward(h, u, lengths)
        ctx.options = (reverse_from, relu, backend)
        return h

    @staticmethod
    @once_differentiable  # a second derivative would need a kernel of its own
    def backward(ctx, grad_h):
        h, u, lengths = ctx.saved_tensors
        reverse_from, relu, backend = ctx.options
        grad_d, grad_u = BACKENDS[backend][1](grad_h.contiguous(), h, u, lengths, reverse_from, relu)
        return grad_d, grad_u, None, None, None, None


_warned = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def available_backend(device: torch.device) -> str | None:
    """The fused backend for tensors on ``device``: "cpu" (C++), "triton" (CUDA), or None (loop)."""
    if device.type == "cpu":
        return "cpu" if cpu_extension() is not None else None
    if device.type == "cuda":
        if triton_kernels() is None:
            _warn_once("triton", "IndRNN: Triton is not installed; running the per-step Python loop on CUDA")
            return None
        return "triton"
    return None


def fused_recurrence(drive: Tensor, u: Tensor, lengths: Tensor, reverse_from: int, nonlinearity: str,
                     backend: str) -> Tensor:
    """``h[B, T, C]`` of h_t = act(drive_t + u * h_{t-1}) (see the module docstring), zero after each
    length, by ``backend`` ("cpu": the C++ op, "triton"); ``lengths`` may live on either device."""
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}; choose from {', '.join(NONLINEARITIES)}")
    lengths = lengths.to(device=drive.device, dtype=torch.int64).contiguous()
    return FusedRecurrence.apply(drive, u.to(drive.dtype), lengths, reverse_from, nonlinearity == "relu", backend)
