"""IndRNN's elementwise recurrence fused: h_t = act(d_t + u * h_{t-1}) over a whole batch in one call.

:func:`fused_recurrence` runs the loop over t inside compiled code, forward and backward (a custom
autograd Function): on the CPU a C++ op JIT-built once with ``torch.utils.cpp_extension.load_inline``
(cached under torch's extensions folder), on CUDA a Triton kernel. Where neither can run (no
compiler, no Triton) :func:`available_backend` says None and :class:`treenets.models.sequence.IndRNN`
runs its per-step Python loop, the reference the tests compare the kernels with, after a one-time
warning.

:func:`fused_layer` (CPU) also takes the layer's projection into the C++ op: h = recurrence(x W^T + b),
computed a group of sequences at a time so that the drive and its gradient stay in a cache-sized
scratch instead of two [B, T, C] tensors (at T = 4096, batch 32, hidden 32: half the time of
projection-then-recurrence, most of it in allocating and first touching those tensors).
The C++ loops are bound by memory, not arithmetic; what keeps them near it (a monotone address stream
in either time direction, 2 MB pages for large outputs, x prefetched while the backward recurrence
runs) is commented where it is done.

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
#if defined(__linux__)
#include <sys/mman.h>
#endif

// Outputs are [B, T, C] tensors the loops below touch first. Fresh from the allocator, every 4 KB page
// of them faults on its first write (at T = 4096, batch 32, hidden 128, 64 MB: ~25 ms of faults, as long as
// the recurrence); asking Linux for 2 MB pages (transparent huge pages, where enabled) takes that away.
static torch::Tensor with_huge_pages(torch::Tensor t) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t huge = uintptr_t(1) << 21;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(t.data_ptr()), end = begin + t.nbytes();
  const uintptr_t first = (begin + huge - 1) & ~(huge - 1), last = end & ~(huge - 1);
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);  // a hint: failure is harmless
#endif
  return t;
}

template <typename scalar_t, bool relu>
static inline scalar_t activate(scalar_t pre) {
  if constexpr (relu) return pre > scalar_t(0) ? pre : scalar_t(0);
  else return std::tanh(pre);
}

// Calls visit(c0, c1) over [0, n) a cache line at a time, in decreasing order when descending. A walk
// backwards in time visits a row's lines backwards too, so that the addresses fall monotonically, a
// stream the hardware prefetcher follows (rows backwards but each row read forwards ran 4x slower at
// hidden 128, where the tensors live in DRAM).
template <typename scalar_t, typename Visit>
static inline void along_row(int64_t n, bool descending, Visit visit) {
  constexpr int64_t line = 64 / sizeof(scalar_t);
  if (!descending) {
    visit(int64_t(0), n);
    return;
  }
  for (int64_t c0 = (n - 1) / line * line; c0 >= 0; c0 -= line) visit(c0, std::min(n, c0 + line));
}

// Channels [lo, hi) of one sequence of L real steps, rows of C channels, walking t = 0..L-1 (or L-1..0
// when backwards): h_t = act(d_t + bias + u * h_{t-1}); bias may be null. The state and the bias sit in
// small arrays of their own, so the compiler sees that no row aliases another and vectorizes across c.
template <typename scalar_t, bool relu>
static void forward_direction(const scalar_t* d, const scalar_t* bias, const scalar_t* u, int64_t L, scalar_t* h,
                              int64_t C, int64_t lo, int64_t hi, bool backwards) {
  const int64_t n = hi - lo;
  if (n <= 0) return;
  std::vector<scalar_t> state(n, scalar_t(0)), offset(n, scalar_t(0));
  if (bias) std::copy(bias + lo, bias + hi, offset.begin());
  scalar_t* st = state.data();
  const scalar_t* off = offset.data();
  const scalar_t* uc = u + lo;
  for (int64_t s = 0; s < L; ++s) {
    const int64_t t = backwards ? L - 1 - s : s;
    const scalar_t* dt = d + t * C + lo;
    scalar_t* ht = h + t * C + lo;
    along_row<scalar_t>(n, backwards, [&](int64_t c0, int64_t c1) {
#pragma GCC ivdep
      for (int64_t c = c0; c < c1; ++c) {
        const scalar_t y = activate<scalar_t, relu>(dt[c] + off[c] + uc[c] * st[c]);
        st[c] = y;
        ht[c] = y;
      }
    });
  }
}

// Channels [R, C) run backwards in time (a bidirectional layer's second half), [0, R) forwards.
template <typename scalar_t, bool relu>
static void forward_sequence(const scalar_t* d, const scalar_t* bias, const scalar_t* u, int64_t L, scalar_t* h,
                             int64_t C, int64_t R) {
  forward_direction<scalar_t, relu>(d, bias, u, L, h, C, 0, R, false);
  forward_direction<scalar_t, relu>(d, bias, u, L, h, C, R, C, true);
}

// Memory that the next step of the caller reads, fetched into cache a slice per step of a loop that
// does not wait on memory itself: per_step bytes from base + step * per_step.
struct Prefetch {
  const char* base = nullptr;
  int64_t per_step = 0;
  void step(int64_t s) const {
    for (int64_t o = 0; o < per_step; o += 64) __builtin_prefetch(base + s * per_step + o);
  }
};

// gd[t] = (gh[t] + u * gd[t+1]) * act'(h[t]) (the gradient of the pre-activation), walking channels
// [lo, hi) against their time direction; adds sum_t gd[t] * h[t-1] to gu and, where given, sum_t gd[t]
// to gbias. The carried gradient and both sums live in small arrays (vectorized, as forward). Step s
// also prefetches ahead's slice (L - 1 - s), if any.
template <typename scalar_t, bool relu>
static void backward_direction(const scalar_t* gh, const scalar_t* h, const scalar_t* u, int64_t L, scalar_t* gd,
                               scalar_t* gu, scalar_t* gbias, int64_t C, int64_t lo, int64_t hi, bool backwards,
                               Prefetch ahead) {
  const int64_t n = hi - lo;
  if (n <= 0) return;
  std::vector<scalar_t> carry(n, scalar_t(0)), sum_u(n, scalar_t(0)), sum_bias(n, scalar_t(0)), zeros(n, scalar_t(0));
  scalar_t* cr = carry.data();
  scalar_t* su = sum_u.data();
  scalar_t* sb = sum_bias.data();
  const scalar_t* uc = u + lo;
  for (int64_t s = L - 1; s >= 0; --s) {
    const int64_t t = backwards ? L - 1 - s : s;
    const scalar_t* before = s > 0 ? h + (backwards ? t + 1 : t - 1) * C + lo : zeros.data();  // h_{t-1}; 0 at the start
    const scalar_t* ht = h + t * C + lo;
    const scalar_t* ght = gh + t * C + lo;
    scalar_t* gdt = gd + t * C + lo;
    if (ahead.base) ahead.step(L - 1 - s);
    along_row<scalar_t>(n, !backwards, [&](int64_t c0, int64_t c1) {
#pragma GCC ivdep
      for (int64_t c = c0; c < c1; ++c) {
        const scalar_t y = ht[c];
        // act'(pre) from y, written out here: the same expression through a helper beside activate()
        // measured 8x slower (GCC 12, hidden 128, T 4096: 14 -> 112 ms)
        const scalar_t slope = relu ? (y > scalar_t(0) ? scalar_t(1) : scalar_t(0)) : scalar_t(1) - y * y;
        const scalar_t g = (ght[c] + cr[c]) * slope;
        gdt[c] = g;
        cr[c] = g * uc[c];
        su[c] += g * before[c];
        sb[c] += g;
      }
    });
  }
  for (int64_t c = 0; c < n; ++c) {
    gu[lo + c] += su[c];
    if (gbias) gbias[lo + c] += sb[c];
  }
}

template <typename scalar_t, bool relu>
static void backward_sequence(const scalar_t* gh, const scalar_t* h, const scalar_t* u, int64_t L, scalar_t* gd,
                              scalar_t* gu, scalar_t* gbias, int64_t C, int64_t R, Prefetch ahead) {
  backward_direction<scalar_t, relu>(gh, h, u, L, gd, gu, gbias, C, 0, R, false, R > 0 ? ahead : Prefetch{});
  backward_direction<scalar_t, relu>(gh, h, u, L, gd, gu, gbias, C, R, C, true, R > 0 ? Prefetch{} : ahead);
}

// ---- the recurrence over a given drive d[B, T, C]
torch::Tensor indrnn_forward(torch::Tensor d, torch::Tensor u, torch::Tensor lengths, int64_t R, bool relu) {
  auto h = with_huge_pages(torch::empty_like(d));
  const int64_t B = d.size(0), T = d.size(1), C = d.size(2);
  const int64_t* len = lengths.data_ptr<int64_t>();
  AT_DISPATCH_FLOATING_TYPES(d.scalar_type(), "indrnn_forward", [&] {
    auto sequence = relu ? forward_sequence<scalar_t, true> : forward_sequence<scalar_t, false>;
    const scalar_t* dp = d.data_ptr<scalar_t>();
    const scalar_t* up = u.data_ptr<scalar_t>();
    scalar_t* hp = h.data_ptr<scalar_t>();
    at::parallel_for(0, B, 1, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        sequence(dp + b * T * C, nullptr, up, len[b], hp + b * T * C, C, R);
        std::fill(hp + (b * T + len[b]) * C, hp + (b + 1) * T * C, scalar_t(0));
      }
    });
  });
  return h;
}

std::vector<torch::Tensor> indrnn_backward(torch::Tensor gh, torch::Tensor h, torch::Tensor u, torch::Tensor lengths,
                                           int64_t R, bool relu) {
  auto gd = with_huge_pages(torch::empty_like(h));
  const int64_t B = h.size(0), T = h.size(1), C = h.size(2);
  auto gu = torch::zeros({B, C}, h.options());
  const int64_t* len = lengths.data_ptr<int64_t>();
  AT_DISPATCH_FLOATING_TYPES(h.scalar_type(), "indrnn_backward", [&] {
    auto sequence = relu ? backward_sequence<scalar_t, true> : backward_sequence<scalar_t, false>;
    at::parallel_for(0, B, 1, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        const int64_t off = b * T * C;
        sequence(gh.data_ptr<scalar_t>() + off, h.data_ptr<scalar_t>() + off, u.data_ptr<scalar_t>(), len[b],
                 gd.data_ptr<scalar_t>() + off, gu.data_ptr<scalar_t>() + b * C, nullptr, C, R, Prefetch{});
        std::fill(gd.data_ptr<scalar_t>() + off + len[b] * C, gd.data_ptr<scalar_t>() + off + T * C, scalar_t(0));
      }
    });
  });
  return {gd, gu.sum(0)};
}

// Sequence b's rows of x[B, T, D], spread over a loop of `steps` steps.
template <typename scalar_t>
static Prefetch x_rows(const scalar_t* x, int64_t b, int64_t T, int64_t D, int64_t steps) {
  const int64_t bytes = T * D * int64_t(sizeof(scalar_t));
  return {reinterpret_cast<const char*>(x + b * T * D), steps > 0 ? (bytes + steps - 1) / steps : 0};
}

// ---- the whole layer, projection included: h = recurrence(x W^T + bias). A group of sequences at a
// time, so a group's drive (forward) and its gradient (backward) live in a scratch of about SCRATCH
// numbers that stays in cache and the [B, T, C] drive is never stored: half the large tensors of
// projection-then-recurrence. Groups keep short sequences in one product (few calls), long ones alone.
static constexpr int64_t SCRATCH = 1 << 17;

static int64_t group_size(int64_t B, int64_t T, int64_t C) {
  return std::max<int64_t>(1, std::min<int64_t>(B, SCRATCH / std::max<int64_t>(1, T * C)));
}

torch::Tensor indrnn_layer_forward(torch::Tensor x, torch::Tensor weight, torch::Tensor bias, torch::Tensor u,
                                   torch::Tensor lengths, int64_t R, bool relu) {
  const int64_t B = x.size(0), T = x.size(1), D = x.size(2), C = weight.size(0);
  auto h = with_huge_pages(torch::empty({B, T, C}, x.options()));
  const int64_t* len = lengths.data_ptr<int64_t>();
  const auto weight_t = weight.t();
  const auto rows = x.view({B * T, D});
  const int64_t G = group_size(B, T, C), groups = (B + G - 1) / G;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "indrnn_layer_forward", [&] {
    auto sequence = relu ? forward_sequence<scalar_t, true> : forward_sequence<scalar_t, false>;
    at::parallel_for(0, groups, 1, [&](int64_t begin, int64_t end) {
      auto drive = torch::empty({G * T, C}, x.options());
      for (int64_t group = begin; group < end; ++group) {
        const int64_t first = group * G, count = std::min(G, B - first);
        auto out = drive.narrow(0, 0, count * T);
        at::mm_out(out, rows.narrow(0, first * T, count * T), weight_t);
        for (int64_t b = first; b < first + count; ++b) {
          scalar_t* hb = h.data_ptr<scalar_t>() + b * T * C;
          sequence(drive.data_ptr<scalar_t>() + (b - first) * T * C, bias.data_ptr<scalar_t>(),
                   u.data_ptr<scalar_t>(), len[b], hb, C, R);
          std::fill(hb + len[b] * C, hb + T * C, scalar_t(0));
        }
      }
    });
  });
  return h;
}

// Gradients of x (when asked for), weight, bias and u; per-thread sums of the weight's gradient.
std::vector<torch::Tensor> indrnn_layer_backward(torch::Tensor gh, torch::Tensor x, torch::Tensor h,
                                                 torch::Tensor weight, torch::Tensor u, torch::Tensor lengths,
                                                 int64_t R, bool relu, bool input_grad) {
  const int64_t B = x.size(0), T = x.size(1), D = x.size(2), C = weight.size(0);
  auto gx = input_grad ? with_huge_pages(torch::empty_like(x)) : torch::Tensor();
  const int64_t threads = at::get_num_threads();
  // The weight's gradient as sum_b x_b^T gd_b, [D, C], where the input is the narrower side: MKL runs
  // products with a narrow output far below speed (input width 2, the adding problem's, 5000 steps:
  // 0.83 ms a sequence as gd_b^T x_b, 0.13 ms so).
  const bool transposed = D < C;
  auto gw = torch::zeros(transposed ? std::vector<int64_t>{threads, D, C} : std::vector<int64_t>{threads, C, D},
                         x.options());
  auto gb = torch::zeros({threads, C}, x.options());
  auto gu = torch::zeros({threads, C}, x.options());
  const int64_t* len = lengths.data_ptr<int64_t>();
  const auto rows = x.view({B * T, D});
  auto gx_rows = input_grad ? gx.view({B * T, D}) : torch::Tensor();
  const int64_t G = group_size(B, T, C), groups = (B + G - 1) / G;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "indrnn_layer_backward", [&] {
    auto sequence = relu ? backward_sequence<scalar_t, true> : backward_sequence<scalar_t, false>;
    at::parallel_for(0, groups, 1, [&](int64_t begin, int64_t end) {
      const int64_t thread = at::get_thread_num();
      auto gd = torch::empty({G * T, C}, x.options());
      auto gw_thread = gw[thread];
      for (int64_t group = begin; group < end; ++group) {
        const int64_t first = group * G, count = std::min(G, B - first);
        for (int64_t b = first; b < first + count; ++b) {  // padded steps: zero gradient, so zero rows below
          scalar_t* gdb = gd.data_ptr<scalar_t>() + (b - first) * T * C;
          // x_b, which both products below read, comes into cache while the recurrence runs (at hidden 32,
          // T = 4096: a tenth off the backward)
          const Prefetch x_b = x_rows(x.data_ptr<scalar_t>(), b, T, D, len[b]);
          sequence(gh.data_ptr<scalar_t>() + b * T * C, h.data_ptr<scalar_t>() + b * T * C, u.data_ptr<scalar_t>(),
                   len[b], gdb, gu.data_ptr<scalar_t>() + thread * C, gb.data_ptr<scalar_t>() + thread * C,
                   C, R, x_b);
          std::fill(gdb + len[b] * C, gdb + T * C, scalar_t(0));
        }
        const auto gd_rows = gd.narrow(0, 0, count * T);
        const auto group_x = rows.narrow(0, first * T, count * T);
        if (transposed) gw_thread.addmm_(group_x.t(), gd_rows);
        else gw_thread.addmm_(gd_rows.t(), group_x);
        if (input_grad) {
          auto out = gx_rows.narrow(0, first * T, count * T);
          at::mm_out(out, gd_rows, weight);
        }
      }
    });
  });
  return {gx, transposed ? gw.sum(0).t().contiguous() : gw.sum(0), gb.sum(0), gu.sum(0)};
}
"""


@functools.cache
def cpu_extension():
    """The C++ op, built on first use (a minute with g++; then loaded from torch's extension cache),
    or None where it cannot be built."""
    from torch.utils import cpp_extension

    try:
        return cpp_extension.load_inline(
            name="treenets_indrnn_cpu", cpp_sources=[CPP_SOURCE], functions=["indrnn_forward", "indrnn_backward", "indrnn_layer_forward", "indrnn_layer_backward"],
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


class FusedLayer(torch.autograd.Function):
    """A whole CPU layer, h = recurrence(x W^T + bias), forward and backward each one C++ call that runs
    the projection sequence by sequence (see ``indrnn_layer_forward``); saves x and h, no drive."""

    @staticmethod
    def forward(ctx, x, weight, bias, u, lengths, reverse_from, relu):
        x, weight, bias, u = x.contiguous(), weight.contiguous(), bias.contiguous(), u.contiguous()
        h = cpu_extension().indrnn_layer_forward(x, weight, bias, u, lengths, reverse_from, relu)
        ctx.save_for_backward(x, h, weight, u, lengths)
        ctx.options = (reverse_from, relu)
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h):
        x, h, weight, u, lengths = ctx.saved_tensors
        reverse_from, relu = ctx.options
        grad_x, grad_weight, grad_bias, grad_u = cpu_extension().indrnn_layer_backward(
            grad_h.contiguous(), x, h, weight, u, lengths, reverse_from, relu, ctx.needs_input_grad[0])
        return (grad_x if ctx.needs_input_grad[0] else None), grad_weight, grad_bias, grad_u, None, None, None


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


def _kernel_arguments(lengths: Tensor, nonlinearity: str, device: torch.device) -> tuple[Tensor, bool]:
    """What both fused functions hand the kernels: int64 lengths on ``device``, and whether act is ReLU."""
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}; choose from {', '.join(NONLINEARITIES)}")
    return lengths.to(device=device, dtype=torch.int64).contiguous(), nonlinearity == "relu"


def fused_recurrence(drive: Tensor, u: Tensor, lengths: Tensor, reverse_from: int, nonlinearity: str,
                     backend: str) -> Tensor:
    """``h[B, T, C]`` of h_t = act(drive_t + u * h_{t-1}) (see the module docstring), zero after each
    length, by ``backend`` ("cpu": the C++ op, "triton"); ``lengths`` may live on either device."""
    lengths, relu = _kernel_arguments(lengths, nonlinearity, drive.device)
    return FusedRecurrence.apply(drive, u.to(drive.dtype), lengths, reverse_from, relu, backend)


def fused_layer(x: Tensor, weight: Tensor, bias: Tensor, u: Tensor, lengths: Tensor, reverse_from: int,
                nonlinearity: str) -> Tensor:
    """``h[B, T, C]`` of h_t = act(x_t W^T + bias + u * h_{t-1}) on the CPU, the projection inside the C++
    op (a group of sequences at a time, the drive never stored as a [B, T, C] tensor); zero after each length."""
    lengths, relu = _kernel_arguments(lengths, nonlinearity, x.device)
    return FusedLayer.apply(x, weight, bias, u.to(x.dtype), lengths, reverse_from, relu)
