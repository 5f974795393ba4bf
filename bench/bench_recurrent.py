#!/usr/bin/env python3
"""Speed of the long-sequence encoders (issue 18): IndRNN's fused recurrence and the Sliced RNN.

Everything is one forward + backward (what a training step costs besides the optimizer; backward from
a fixed random gradient of the outputs, as a layer above would send it), batch 32,
timed in turns (every model once per round, the median over rounds), so load on a shared machine
hits all alike and the ratios come from one run:

* ``indrnn``: one IndRNN layer (``Linear(H, H)`` projection, the recurrence, ReLU; gradients of
  every step's output reach the input and all weights) with the fused kernel against the same
  layer on the per-step Python loop, and against ``torch.nn.GRU(H, H)`` (``--baselines gru,lstm``:
  also the LSTM; cuDNN on CUDA). Also the
  recurrence alone (fused kernel against the loop) and its memory-traffic floor: forward reads
  the drive and writes h, backward reads dL/dh and h and writes dL/d(drive), 5 x B*T*H floats,
  at the bandwidth of a same-sized tensor copy measured in the same run.
* ``srnn``: SRNN(8, 2) and SRNN(16, 2) with GRU cells against the standard GRU over the whole
  sequence (input 2 features, the adding problem's), sentence vector at the end. Bound: the matrix
  products alone that SRNN(8, 2) cannot avoid, forward and backward: the input projection of every
  token (which the standard GRU pays too) and level 0's recurrent products (T / 64 steps on
  [B * 64, H] x [H, 3H]); ``srnn_8_2_speedup_bound`` = GRU / that.
* the IndRNN part's bound, ``products_s``: the layer's three matrix products alone (x W^T and the
  gradients of W and x; on the CPU a sequence at a time into cache-sized blocks, as the C++ op runs
  them; on CUDA ``Linear(H, H)`` forward + backward, as the layer runs it); every layer pays them, so
  ``layer_speedup_bound`` = loop layer / products is the most any fused recurrence can give the layer.

Needs torch alone (``PYTHONPATH=src``; the C++ op is built on first use with g++, Triton on CUDA).

    OMP_NUM_THREADS=1 PYTHONPATH=src python bench/bench_recurrent.py --parts indrnn --json docs/results/gradient_flow/bench_recurrent_cpu_indrnn.json
    PYTHONPATH=src python bench/bench_recurrent.py --device cuda --json out.json
    PYTHONPATH=src python bench/bench_recurrent.py --device cuda --check   # fused == loop on the device
    PYTHONPATH=src python bench/bench_recurrent.py --quick       # a seconds-long smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from bench_tree_engine import import_engine, synchronize  # noqa: E402

import_engine()  # treenets.models without its config-building init where nltk, conllu, yaml are missing
from treenets.models.indrnn_kernels import available_backend, fused_recurrence  # noqa: E402
from treenets.models.sequence import IndRNN, RecurrentEncoder, SlicedRNN  # noqa: E402

BATCH = 32
FLOAT_BYTES = 4
RECURRENCE_TENSORS = 5  # drive, h (forward); dL/dh, h, dL/d(drive) (backward)


def timed_in_turns(jobs: dict, rounds: int, device: torch.device) -> dict[str, float]:
    """Median seconds of each job (a callable), every job once per round after one untimed warm-up."""
    for job in jobs.values():
        job()
    times = {name: [] for name in jobs}
    for _ in range(rounds):
        for name, job in jobs.items():
            synchronize(device)
            started = time.perf_counter()
            job()
            synchronize(device)
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def forward_backward(module, inputs, outputs, upstream: torch.Tensor | None = None):
    """A job: ``outputs(module, inputs)``, then backward with the fixed gradient ``upstream`` (what the
    layer above would send; default: ones of the output's shape, drawn once)."""
    gradients = {}

    def job():
        module.zero_grad(set_to_none=True)
        inputs.grad = None
        out = outputs(module, inputs)
        if "out" not in gradients:
            gradients["out"] = torch.randn_like(out) if upstream is None else upstream
        out.backward(gradients["out"])
    return job


def blocked_products(x: torch.Tensor, weight: torch.Tensor, upstream: torch.Tensor):
    """A job: the CPU layer's three matrix products (x W^T forward; the gradients of W and x backward,
    ``upstream`` standing in for the drive's gradient) a sequence at a time into cache-sized blocks,
    as the C++ op runs them, reading x from memory as it does but writing nothing large: the arithmetic
    any IndRNN layer pays at this BLAS's speed."""
    block = x.new_empty(x.shape[1], weight.shape[0])
    input_block = x.new_empty(x.shape[1], x.shape[2])
    weight_grad = torch.zeros_like(weight)

    def job():
        with torch.no_grad():
            for b in range(x.shape[0]):
                torch.mm(x[b], weight.t(), out=block)
                weight_grad.addmm_(upstream[b].t(), x[b])
                torch.mm(upstream[b], weight, out=input_block)
    return job


def indrnn_rows(hidden: int, lengths: list[int], loop_max: int, gru_max: int, rounds: int,
                device: torch.device, baselines: list[str]) -> list[dict]:
    torch.manual_seed(0)
    rows = []
    for steps in lengths:
        x = torch.randn(BATCH, steps, hidden, device=device, requires_grad=True)
        full = torch.full((BATCH,), steps, device=device)
        fused = IndRNN(hidden, hidden, constraint_len=steps).to(device)
        loop = IndRNN(hidden, hidden, constraint_len=steps, backend=None).to(device)
        loop.load_state_dict(fused.state_dict())
        upstream = torch.randn(BATCH, steps, hidden, device=device)  # dL/d(every output), the same for all
        every_step = lambda module, inputs: module.layer_outputs(inputs, full)[-1]  # noqa: E731
        jobs = {"fused_layer": forward_backward(fused, x, every_step, upstream)}
        # The layer's matrix products alone: every layer pays them, so loop_layer / this bounds any fused layer's ratio.
        if device.type == "cpu":
            jobs["products"] = blocked_products(x.detach(), fused.projections[0].weight.detach(), upstream)
        else:
            projection = torch.nn.Linear(hidden, hidden).to(device)
            jobs["products"] = forward_backward(projection, x, lambda module, inputs: module(inputs), upstream)
        drive = torch.randn(BATCH, steps, hidden, device=device, requires_grad=True)
        u = torch.nn.Parameter(torch.rand(hidden, device=device))
        recurrence = torch.nn.ParameterList([u])
        backend = available_backend(device)
        jobs["fused_recurrence"] = forward_backward(
            recurrence, drive, lambda _, d: fused_recurrence(d, u, full, hidden, "relu", backend), upstream)
        if steps <= gru_max:
            for name in baselines:  # torch.nn's layer of that cell (cuDNN on CUDA)
                cell = getattr(torch.nn, name.upper())(hidden, hidden, batch_first=True).to(device)
                jobs[f"{name}_layer"] = forward_backward(cell, x, lambda module, inputs: module(inputs)[0], upstream)
        if steps <= loop_max:
            jobs["loop_layer"] = forward_backward(loop, x, every_step, upstream)
            real = torch.ones(BATCH, steps, dtype=torch.bool, device=device)
            jobs["loop_recurrence"] = forward_backward(recurrence, drive, lambda _, d: loop._loop(d, u, full, real)[0],
                                                       upstream)
        source = torch.randn(BATCH * steps * hidden, device=device)
        target = torch.empty_like(source)
        jobs["copy"] = lambda: target.copy_(source)
        seconds = timed_in_turns(jobs, rounds, device)
        bandwidth = 2 * source.numel() * FLOAT_BYTES / seconds.pop("copy")  # read + write, bytes/s
        floor = RECURRENCE_TENSORS * BATCH * steps * hidden * FLOAT_BYTES / bandwidth
        row = {"part": "indrnn", "hidden": hidden, "T": steps, "batch": BATCH, **{f"{k}_s": v for k, v in seconds.items()},
               "copy_bandwidth_GBps": bandwidth / 1e9, "memory_floor_s": floor,
               "floor_fraction": floor / seconds["fused_recurrence"]}
        if "loop_layer" in seconds:
            row["layer_speedup_vs_loop"] = seconds["loop_layer"] / seconds["fused_layer"]
            row["layer_speedup_bound"] = seconds["loop_layer"] / seconds["products"]
            row["recurrence_speedup_vs_loop"] = seconds["loop_recurrence"] / seconds["fused_recurrence"]
        for name in baselines:
            if f"{name}_layer" in seconds:
                row[f"layer_speedup_vs_{name}"] = seconds[f"{name}_layer"] / seconds["fused_layer"]
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def srnn_rows(hidden: int, lengths: list[int], gru_max: int, rounds: int, device: torch.device) -> list[dict]:
    torch.manual_seed(0)
    rows = []
    last_state = lambda module, inputs: module(inputs, torch.full((BATCH,), inputs.shape[1]))  # noqa: E731
    for steps in lengths:
        x = torch.rand(BATCH, steps, 2, device=device, requires_grad=True)
        jobs = {}
        if steps <= gru_max:
            jobs["gru"] = forward_backward(RecurrentEncoder(2, hidden, "gru").to(device), x, last_state)
        jobs["srnn_8_2_products"] = level0_products(steps, hidden, 8 ** 2, device)
        for n, k in ((8, 2), (16, 2)):
            jobs[f"srnn_{n}_{k}"] = forward_backward(SlicedRNN(2, hidden, n, k, "gru").to(device), x, last_state)
        seconds = timed_in_turns(jobs, rounds, device)
        row = {"part": "srnn", "hidden": hidden, "T": steps, "batch": BATCH, **{f"{k}_s": v for k, v in seconds.items()}}
        if "gru" in seconds:
            for name in ("srnn_8_2", "srnn_16_2"):
                row[f"{name}_speedup_vs_gru"] = seconds["gru"] / seconds[name]
            row["srnn_8_2_speedup_bound"] = seconds["gru"] / seconds["srnn_8_2_products"]
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def level0_products(steps: int, hidden: int, pieces: int, device: torch.device):
    """A job: only the matrix products an SRNN with GRU cells and ``pieces`` minimal subsequences must do,
    forward and backward: the input projection of all B * T tokens (a Linear(2, 3H) with autograd, as
    torch's GRU computes it for the whole sequence, the standard GRU included), and level 0's recurrent
    products, per step h W_hh^T, dL/dh and dL/dW_hh on [B * pieces, H] x [H, 3H]. No SRNN(n, k) with
    n^k = pieces does less, so GRU / this bounds its speed-up."""
    rows = BATCH * pieces
    h = torch.randn(rows, hidden, device=device)
    gates = torch.randn(rows, 3 * hidden, device=device)
    weight = torch.randn(3 * hidden, hidden, device=device)
    tokens = torch.rand(BATCH * steps, 2, device=device, requires_grad=True)
    projection = torch.nn.Linear(2, 3 * hidden).to(device)
    upstream = torch.randn(BATCH * steps, 3 * hidden, device=device)

    def job():
        projection(tokens).backward(upstream)
        for _ in range(steps // pieces):
            h @ weight.t()
            gates @ weight
            gates.t() @ h
    return job


def check(device: torch.device) -> int:
    """The device's fused kernel against the per-step loop: bidirectional, residual, batch norm, ReLU and
    tanh, random lengths with padding, a length-1 sequence; outputs and every gradient, float64."""
    failures = 0
    for nonlinearity in ("relu", "tanh"):
        torch.manual_seed(0)
        fused = IndRNN(3, 16, 3, True, nonlinearity, constraint_len=50, residual=True, batch_norm=True).double()
        loop = IndRNN(3, 16, 3, True, nonlinearity, constraint_len=50, residual=True, batch_norm=True,
                      backend=None).double()
        loop.load_state_dict(fused.state_dict())
        lengths = torch.tensor([50, 1, 17, 33, 2, 49])
        x = torch.randn(len(lengths), 52, 3, dtype=torch.float64)
        results = []
        for module in (fused.to(device), loop.to(device)):
            inputs = x.to(device).requires_grad_(True)
            out = torch.cat(module.layer_outputs(inputs, lengths), dim=-1)
            weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype, device=device).view_as(out)
            grads = torch.autograd.grad((out * weights).sum(), [inputs, *module.parameters()])
            results.append([out, *grads])
        worst = max((a - b).abs().max().item() for a, b in zip(*results))
        ok = worst <= 1e-10
        failures += not ok
        print(f"{'ok' if ok else 'FAIL'}: IndRNN {nonlinearity} fused ({available_backend(device)}) == loop on "
              f"{device.type}, largest difference {worst:.2e} (outputs and {len(results[0]) - 1} gradients)")
    return 1 if failures else 0


def describe(device: torch.device) -> dict:
    info = {"device": device.type, "torch": torch.__version__, "threads": torch.get_num_threads(),
            "python": sys.version.split()[0], "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(), "backend": available_backend(device)}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cudnn"] = torch.backends.cudnn.version()
    if hasattr(os, "getloadavg"):
        info["load_average"] = os.getloadavg()
    return info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--parts", default="indrnn,srnn")
    parser.add_argument("--hidden", default="32,128")
    parser.add_argument("--indrnn-lengths", default="64,256,1024,4096,16384")
    parser.add_argument("--srnn-lengths", default="1024,4096,16384,32768")
    parser.add_argument("--loop-max", type=int, default=4096, help="longest T the per-step loop runs")
    parser.add_argument("--gru-max", type=int, default=32768, help="longest T the torch.nn baselines run")
    parser.add_argument("--baselines", default="gru", help="torch.nn layers the IndRNN layer is timed against")
    parser.add_argument("--check", action="store_true",
                        help="instead: the fused IndRNN == the loop on this device (float64, all gradients)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--srnn-rounds", type=int, help="rounds of the srnn part (default: --rounds)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--json", help="write the rows and the setup here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.quick:
        args.hidden, args.indrnn_lengths, args.srnn_lengths, args.rounds = "8", "16,64", "64,256", 1
    hiddens = [int(h) for h in args.hidden.split(",")]
    parts = args.parts.split(",")
    if args.check:
        return check(device)
    setup = describe(device)
    print(f"# {json.dumps(setup)}", flush=True)
    rows = []
    for hidden in hiddens:
        if "indrnn" in parts:
            rows += indrnn_rows(hidden, [int(t) for t in args.indrnn_lengths.split(",")], args.loop_max,
                                args.gru_max, args.rounds, device, args.baselines.split(","))
        if "srnn" in parts:
            rows += srnn_rows(hidden, [int(t) for t in args.srnn_lengths.split(",")], args.gru_max,
                              args.srnn_rounds or args.rounds, device)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"setup": setup, "command": " ".join(sys.argv), "rows": rows},
                                              indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
