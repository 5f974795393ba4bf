"""A level loop replayed as CUDA graphs: one capture per bucket of padded schedule shapes.

On a GPU a batch of trees is launch-bound: ~20 levels of a dozen small kernels each, forward and
backward (the H100 probe: 8.1 ms eager, 1.5 ms replayed, for one batch-25 step of the N-ary
Tree-LSTM). A CUDA graph replays a fixed sequence of kernels on fixed buffers, so every batch's
schedule is padded to a *bucket* shape, and one capture serves every batch of that bucket:

* the leaves to ``leaves`` rows and each of ``depth`` phrase levels to ``width`` rows, where
  ``leaves`` and ``width`` are the batch's leaf count and largest phrase level rounded up on a grid
  of four steps per octave (8, 10, 12, 14, 16, 20, 24, ...) and ``depth`` its number of phrase
  levels rounded up to a multiple of 4. One shuffled epoch of SST's training trees meets 30 buckets
  at batch 25 and 6 at batch 256, with 3.1x and 3.8x the real rows: dummy rows cost little, a
  level's kernels are bound by their launch, not their arithmetic.
* a dummy node has no children and no parent and reads a zero input row; its output row is dropped,
  so no gradient reaches it, and the real nodes' values and gradients are the unpadded schedule's.

:class:`LevelGraphs` holds the captures of one encoder. It takes the loop as two functions,
``forward(x, W, b, U, child_slots, bounds, order, position) -> (h, saved)`` and
``backward(saved, bounds, grad_h, need_dx) -> (dx, dW, db, dU)`` (the N-ary Tree-LSTM's
:func:`~treenets.models.tree_lstm.nary_forward` and ``nary_backward``), and returns ``None`` where the
caller should run eagerly: more captures than ``max_graphs`` or a capture that failed. A bucket whose
capture still holds a forward waiting for its backward (a sentence pair's two sides in one bucket)
gets a second capture. A backward that finds its capture replayed by a later batch since (a second
backward through the same graph) recomputes from its own saved inputs.

``emulate=True`` runs the same bookkeeping without CUDA (a "replay" reruns the captured functions and
writes into the first run's tensors, as a graph's replay does): the tests check it on the CPU.
Only torch and numpy are imported.
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable


def _grid(n: int) -> int:
    """``n`` rounded up on a grid of four steps per octave (at least 8)."""
    if n <= 8:
        return 8
    step = 2 ** (math.floor(math.log2(n)) - 2)
    return math.ceil(n / step) * step


@dataclass(frozen=True)
class LevelShape:
    """A bucket: ``leaves`` leaf rows, then ``depth`` phrase levels of ``width`` rows each."""

    leaves: int
    width: int
    depth: int

    @classmethod
    def of(cls, bounds: tuple[int, ...]) -> "LevelShape":
        """The bucket of a schedule with level offsets ``bounds`` (``TreeBatch.level_bounds``)."""
        sizes = np.diff(bounds)
        depth = len(sizes) - 1
        return cls(_grid(int(sizes[0])), _grid(int(sizes[1:].max())) if depth else 0, 4 * math.ceil(depth / 4))

    @property
    def rows(self) -> int:
        return self.leaves + self.depth * self.width

    @property
    def bounds(self) -> tuple[int, ...]:
        return (0, *(self.leaves + level * self.width for level in range(self.depth + 1)))


def pad_schedule(shape: LevelShape, bounds: tuple[int, ...], child_slots, order, position):
    """The schedule ``(child_slots, order, position)`` of ``bounds`` padded to ``shape``.

    Rows ``N..R-1`` of the padded batch order are the dummy nodes (``R = shape.rows``): pad x with
    zero rows to R and keep the first N rows of the output. Index work on the host uses only the
    level sizes; the rest is device indexing, so nothing waits for the device.
    """
    sizes = np.diff(bounds)
    N, R = int(bounds[-1]), shape.rows
    padded_start = np.asarray(shape.bounds[: len(sizes)])
    padded_at = np.arange(N) + np.repeat(padded_start - np.asarray(bounds[:-1]), sizes)  # of each level position
    is_dummy = np.ones(R, dtype=bool)
    is_dummy[padded_at] = False
    indices = torch.from_numpy(np.concatenate([padded_at, np.flatnonzero(is_dummy), [R]]))
    indices = indices.to(order.device, non_blocking=True)
    real, dummies, zero_row = indices[:N], indices[N:R], indices[R:]
    slot_rows = torch.cat([real, zero_row])  # a child's position -> its padded one (N, no child -> R)
    slots = child_slots.new_full((R, child_slots.shape[1]), R)
    slots[real] = slot_rows[child_slots]
    padded_order = order.new_empty(R)
    padded_order[real] = order
    padded_order[dummies] = torch.arange(N, R, device=order.device)
    return slots, padded_order, torch.cat([real[position], dummies])


def _tensors(value):
    """The tensors of a nested tuple of tensors (and Nones), in order."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in _tensors(item)]
    return []


class _CudaGraph:
    """``fn()`` captured as a CUDA graph; ``outputs`` are its static results, ``replay()`` refreshes them."""

    def __init__(self, fn: Callable, pool=None):
        self.graph = torch.cuda.CUDAGraph()
        # thread_local: a DataLoader's pin-memory thread may call CUDA while this thread captures
        with torch.cuda.graph(self.graph, pool=pool, capture_error_mode="thread_local"):
            self.outputs = fn()

    def pool(self):
        return self.graph.pool()

    def replay(self) -> None:
        self.graph.replay()


class _Rerun:
    """What a graph replay does, on any device: ``fn`` runs once now, and ``replay()`` runs it again
    and writes its results into the first run's tensors (the static outputs)."""

    def __init__(self, fn: Callable, pool=None):
        self.fn, self.outputs = fn, fn()

    def pool(self):
        return None

    def replay(self) -> None:
        for static, fresh in zip(_tensors(self.outputs), _tensors(self.fn())):
            if static is not fresh:
                static.copy_(fresh)


class _Capture:
    """One bucket: static inputs, the forward and the backward captured on them."""

    def __init__(self, forward, backward, shape: LevelShape, x, params, slots, order, position, emulate: bool,
                 warmup: int):
        self.forward, self.backward, self.bounds = forward, backward, shape.bounds
        self.inputs = [t.clone() for t in (x, slots, order, position)]
        self.params = params  # parameters are updated in place, so their storage is already static
        self.generation, self.owner = 0, None  # owner: the autograd node of the forward now in the buffers
        x, slots, order, position = self.inputs
        run_forward = lambda: forward(x, *params, slots, self.bounds, order, position)  # noqa: E731
        Graph = _Rerun if emulate else _CudaGraph
        with torch.no_grad():
            if not emulate:  # a few eager runs on a side stream first (cuBLAS workspaces, allocator pools)
                side = torch.cuda.Stream(x.device)
                side.wait_stream(torch.cuda.current_stream(x.device))
                with torch.cuda.stream(side):
                    for _ in range(warmup):
                        h, saved = run_forward()
                        backward(saved, self.bounds, torch.zeros_like(h), True)
                        del h, saved
                torch.cuda.current_stream(x.device).wait_stream(side)
            self.forward_graph = Graph(run_forward)
            # kept referenced (as the graphs' own memory is) so that nothing else is ever handed it
            self.h, self.saved = self.forward_graph.outputs
            self.grad_h = torch.zeros_like(self.h)
            self.backward_graph = Graph(lambda: backward(self.saved, self.bounds, self.grad_h, True),
                                        pool=self.forward_graph.pool())

    @property
    def busy(self) -> bool:
        """Whether the buffers hold a forward whose backward may still come."""
        return self.owner is not None and self.owner() is not None

    def replay_forward(self, x, slots, order, position) -> None:
        for static, value in zip(self.inputs, (x, slots, order, position)):
            static.copy_(value)
        self.forward_graph.replay()
        self.generation += 1

    def replay_backward(self, grad_h):
        self.grad_h.copy_(grad_h)
        self.backward_graph.replay()
        self.owner = None
        return tuple(g.clone() for g in self.backward_graph.outputs)


class _Replayed(torch.autograd.Function):
    """The padded level loop as a replay of its bucket's graphs; backward replays the other graph,
    or recomputes eagerly where a later forward has overwritten the bucket's buffers since."""

    @staticmethod
    def forward(ctx, x, W, b, U, slots, order, position, capture: _Capture, stats: dict):
        capture.replay_forward(x, slots, order, position)
        ctx.capture, ctx.generation, ctx.stats = capture, capture.generation, stats
        capture.owner = weakref.ref(ctx)
        ctx.save_for_backward(x, W, b, U, slots, order, position)
        return capture.h.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h):
        capture = ctx.capture
        if ctx.generation == capture.generation:
            dx, dW, db, dU = capture.replay_backward(grad_h)
        else:
            x, W, b, U, slots, order, position = ctx.saved_tensors
            _, saved = capture.forward(x, W, b, U, slots, capture.bounds, order, position)
            dx, dW, db, dU = capture.backward(saved, capture.bounds, grad_h, True)
            ctx.stats["recomputed"] += 1
        return dx if ctx.needs_input_grad[0] else None, dW, db, dU, None, None, None, None, None


class LevelGraphs:
    """The captured level loops of one encoder, by bucket (see the module docstring).

    ``graphs(x, (W, b, U), child_slots, bounds, order, position)`` returns h ``[N, H]`` (batch order),
    or None where the caller should run the loop eagerly. A bucket gets a second capture when its
    first one holds a forward waiting for its backward (a sentence pair's two sides), up to
    ``max_graphs`` captures in all. ``stats``: captures and their seconds, replays, eager runs (no
    capture free: ``busy`` of them because their bucket's were all waiting for backwards), recomputed
    backwards, and the failures of captures (their buckets then run eagerly).
    """

    def __init__(self, forward: Callable, backward: Callable, max_graphs: int = 64, warmup: int = 2,
                 emulate: bool = False):
        self.forward, self.backward = forward, backward
        self.max_graphs, self.warmup, self.emulate = max_graphs, warmup, emulate
        self.clear()

    def clear(self) -> None:
        """Drop every capture (their memory returns to the allocator)."""
        self.captures: dict[tuple, list[_Capture]] = {}
        self.failed: set[tuple] = set()
        self.parameters_at: tuple = ()
        self.stats = {"captures": 0, "capture_s": 0.0, "replays": 0, "eager": 0, "busy": 0, "recomputed": 0,
                      "failures": []}

    def __call__(self, x, params, child_slots, bounds, order, position):
        shape = LevelShape.of(bounds)
        where = tuple((p.data_ptr(), p.device, p.dtype) for p in params)
        if where != self.parameters_at:  # the module moved or was re-created: captures read stale storage
            self.clear()
            self.parameters_at = where
        key = (shape, x.device, x.dtype, x.shape[1], child_slots.shape[1])
        captures = self.captures.setdefault(key, [])
        capture = next((c for c in captures if not c.busy), None)
        if capture is None and (key in self.failed or self.stats["captures"] >= self.max_graphs):
            self.stats["eager"] += 1
            self.stats["busy"] += bool(captures)
            return None
        N = x.shape[0]
        slots, order, position = pad_schedule(shape, bounds, child_slots, order, position)
        x = F.pad(x, (0, 0, 0, shape.rows - N))
        if capture is None:
            capture = self._capture(key, shape, x, params, slots, order, position)
            if capture is None:
                return None
        self.stats["replays"] += 1
        return _Replayed.apply(x, *params, slots, order, position, capture, self.stats)[:N]

    def _capture(self, key, shape, x, params, slots, order, position) -> _Capture | None:
        start = time.perf_counter()
        try:
            capture = _Capture(self.forward, self.backward, shape, x.detach(), tuple(p.detach() for p in params),
                               slots, order, position, self.emulate, self.warmup)
        except RuntimeError as error:  # the bucket runs eagerly from now on; the failure is reported
            if self.emulate:  # no CUDA involved: a bug, not a capture that the device refused
                raise
            self.failed.add(key)
            self.stats["failures"].append(f"{shape}: {type(error).__name__}: {str(error).splitlines()[0]}")
            self.stats["eager"] += 1
            return None
        self.captures[key].append(capture)
        self.stats["captures"] += 1
        self.stats["capture_s"] += time.perf_counter() - start
        return capture

    # a copied or pickled encoder starts without captures (they hold device memory and graphs)
    def __deepcopy__(self, memo) -> "LevelGraphs":
        return LevelGraphs(self.forward, self.backward, self.max_graphs, self.warmup, self.emulate)

    def __getstate__(self) -> dict:
        return {"forward": self.forward, "backward": self.backward, "max_graphs": self.max_graphs,
                "warmup": self.warmup, "emulate": self.emulate}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)
