#!/usr/bin/env python3
"""Speed of the batched tree engine: one full training step of the N-ary Tree-LSTM on SST trees.

A step is what SST training does per minibatch (Tai et al. 2015): look up the word vectors (tuned
embedding), encode every node, classify every node (5 classes), cross-entropy over all nodes,
backward, Adagrad. It is timed for three ways of running the same encoder with the same weights:

* ``engine``: treenets' level-scheduled batch (``NaryTreeLSTM(batch, x)``);
* ``graphs``: the same, its level loop replayed as CUDA graphs captured per bucket of padded
  schedule shapes (``NaryTreeLSTM(..., cuda_graphs=True)``; on the CPU the graphs are emulated, for
  the smoke test only);
* ``dgl``:    the DGL reference path (``dgl.prop_nodes_topo``; CPU only: PyPI's DGL has no CUDA);
* ``naive``:  the one-tree-at-a-time, one-node-at-a-time recursion of treenets.models.reference.

Batches are collated beforehand (a DataLoader's workers do that while the device trains); the
engine's step includes moving the batch to the device. On CUDA the clock is read only after
``torch.cuda.synchronize()``, and a full SST training epoch is timed as well.

Runs with torch and numpy alone (no treenets install: ``PYTHONPATH=src``): without nltk the SST
brackets are read by a small reader here.

    PYTHONPATH=src python bench/bench_tree_engine.py                    # CPU, SST from ../shared/data/sst
    PYTHONPATH=src python bench/bench_tree_engine.py --device cuda --epoch --json out.json
    PYTHONPATH=src python bench/bench_tree_engine.py --check --device cuda  # correctness on the device
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]


def import_engine():
    """treenets' engine modules (they need torch and numpy alone)."""
    from treenets.batching import TreeBatch
    from treenets.models.level_graphs import LevelGraphs, LevelShape
    from treenets.models.recursive import RNTN, RecNN
    from treenets.models.reference import reference_encode
    from treenets.models.tree_lstm import ChildSumTreeLSTM, NaryTreeLSTM, nary_backward, nary_forward

    def level_graphs(device, **options):
        """The N-ary Tree-LSTM's graphs; emulated where there is no CUDA (smoke tests)."""
        return LevelGraphs(nary_forward, nary_backward, emulate=device.type != "cuda", **options)

    return types.SimpleNamespace(
        TreeBatch=TreeBatch, NaryTreeLSTM=NaryTreeLSTM, ChildSumTreeLSTM=ChildSumTreeLSTM,
        RecNN=RecNN, RNTN=RNTN, reference_encode=reference_encode, level_graphs=level_graphs,
        LevelShape=LevelShape,
    )


# ---------------------------------------------------------------------------- SST trees
class BracketTree:
    """What the engine and the reference read of a tree: tokens, children, labels."""

    def __init__(self, tokens, children, labels):
        self.tokens, self.children, self.labels = tuple(tokens), tuple(children), tuple(labels)

    @property
    def num_tokens(self) -> int:
        return len(self.tokens)


def parse_brackets(line: str) -> BracketTree:
    """One SST tree "(3 (2 It) (4 ...))": tokens numbered first, phrase nodes after (postorder).

    Splits on ASCII spaces and parentheses only (three SST tokens contain U+00A0).
    """
    tokens, token_labels, phrases, stack, root = [], [], [], [], None
    for atom in re.findall(r"[()]|[^ ()]+", line):
        if atom == "(":
            stack.append([])
        elif atom == ")":
            label, *parts = stack.pop()
            if len(parts) == 1 and isinstance(parts[0], str):
                node = ("token", len(tokens))
                tokens.append(parts[0])
                token_labels.append(int(label))
            else:
                node = ("phrase", len(phrases))
                phrases.append((parts, int(label)))
            if stack:
                stack[-1].append(node)
            else:
                root = node
        else:
            stack[-1].append(atom)
    if root is None or stack:
        raise ValueError(f"unbalanced brackets: {line[:60]!r}")
    number = lambda node: node[1] if node[0] == "token" else len(tokens) + node[1]  # noqa: E731
    children = [()] * len(tokens) + [tuple(number(part) for part in parts) for parts, _ in phrases]
    return BracketTree(tokens, children, token_labels + [label for _, label in phrases])


def read_sst(path: Path, limit: int | None) -> list:
    with open(path, encoding="utf-8") as handle:
        lines = [line.rstrip("\n") for line, _ in zip(handle, range(limit or 10**9))]
    try:
        from treenets.trees import Tree

        return [Tree.from_ptb(line) for line in lines]
    except ImportError:  # no nltk here
        return [parse_brackets(line) for line in lines]


def find_sst(explicit: str | None) -> Path:
    candidates = [explicit, os.environ.get("SST_DIR"), REPO.parent / "shared" / "data" / "sst"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "train.txt").is_file():
            return Path(candidate)
    sys.exit(f"no SST train.txt in any of {[str(c) for c in candidates if c]} (set --sst-dir or SST_DIR)")


def vocabulary_ids(trees) -> tuple[list[list[int]], int]:
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(word, len(vocab) + 1) for word in tree.tokens] for tree in trees]
    return ids, len(vocab) + 1  # id 0: padding (phrase nodes)


# ---------------------------------------------------------------------------- the training step
class Trainer:
    """Embedding (tuned) -> N-ary Tree-LSTM -> per-node linear classifier, Adagrad (Tai et al.)."""

    def __init__(self, engine, vocab_size: int, dim: int, hidden: int, device: torch.device):
        torch.manual_seed(0)
        torch.sparse.check_sparse_tensor_invariants.disable()  # Adagrad's own sparse updates are valid
        # sparse embedding gradients on the CPU (a dense Adagrad update of the whole table would
        # dominate a small batch); dense on CUDA, where that update is one cheap kernel
        self.embedding = torch.nn.Embedding(vocab_size, dim, padding_idx=0, sparse=device.type == "cpu").to(device)
        self.encoder = engine.NaryTreeLSTM(dim, hidden).to(device)
        self.graphs = engine.level_graphs(device)  # the encoder's when the step runs with graphs
        self.classifier = torch.nn.Linear(hidden, 5).to(device)
        self.optimizer = torch.optim.Adagrad([
            {"params": [*self.encoder.parameters(), *self.classifier.parameters()], "lr": 0.05},
            {"params": self.embedding.parameters(), "lr": 0.1},
        ])
        self.device = device

    def step(self, encode, word_ids, labels) -> torch.Tensor:
        x = self.embedding(word_ids)
        loss = F.cross_entropy(self.classifier(encode(x)), labels, ignore_index=-1)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss


def engine_step(trainer, batch, graphs: bool = False):
    batch = batch.to(trainer.device, non_blocking=True)
    trainer.encoder.graphs = trainer.graphs if graphs else None
    return trainer.step(lambda x: trainer.encoder(batch, x), batch.word_ids, batch.labels)


def naive_step(trainer, engine, trees, batch):
    # batch order is tree after tree, which is also the order reference_encode returns
    return trainer.step(lambda x: engine.reference_encode(trainer.encoder, trees, x),
                        batch.word_ids.to(trainer.device), batch.labels.to(trainer.device))


def dgl_step(trainer, graph, batch):
    from treenets.dgl_interop import propagate_dgl

    def encode(x):
        graph.ndata["x"] = x
        return propagate_dgl(trainer.encoder, graph)

    return trainer.step(encode, batch.word_ids, batch.labels)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class PeakMemory:
    """Peak memory of a block: CUDA allocator peak, or the process's peak RSS growth on Linux."""

    def __init__(self, device):
        self.device, self.peak = device, None

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
        elif Path("/proc/self/clear_refs").exists():
            try:
                Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
                self.base = _rss_kib("VmRSS")
            except OSError:
                self.base = None
        else:
            self.base = None
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            self.peak = (torch.cuda.max_memory_allocated(self.device) - self.base) / 2**20
        elif self.base is not None:
            self.peak = (_rss_kib("VmHWM") - self.base) / 1024


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def time_interleaved(runners: dict, device) -> dict:
    """Trees per second of each runner over its timed steps.

    ``runners[name] = (run_step, items, warmup, steps, trees_of)``; step k runs ``items[warmup + k]``
    (cycling). The runners take turns step by step, so that a load that changes on shared cores
    hits them alike and their ratios stay meaningful. Peak memory: the largest of any one step.
    """
    for run_step, items, warmup, _, _ in runners.values():
        for item in items[:warmup]:
            run_step(item)
    synchronize(device)
    stats = {name: {"seconds": 0.0, "trees": 0, "steps": 0, "peak_mib": None} for name in runners}
    for k in range(max(runner[3] for runner in runners.values())):
        for name, (run_step, items, warmup, steps, trees_of) in runners.items():
            if k >= steps:
                continue
            item = items[(warmup + k) % len(items)]
            with PeakMemory(device) as memory:
                start = time.perf_counter()
                loss = run_step(item)
                synchronize(device)
                seconds = time.perf_counter() - start
            row = stats[name]
            row["seconds"] += seconds
            row["trees"] += trees_of(item)
            row["steps"] += 1
            if memory.peak is not None:
                row["peak_mib"] = max(memory.peak, row["peak_mib"] or 0.0)
            row["last_loss"] = loss.detach().item()
    for row in stats.values():
        row["trees_per_s"] = row["trees"] / row["seconds"]
    return stats


def time_epoch(trainer, batches, device, graphs: bool = False) -> dict:
    """One pass over every training batch (the engine), timed with events and a final sync."""
    engine_step(trainer, batches[0], graphs)  # warm
    synchronize(device)
    events = device.type == "cuda"
    if events:
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        begin.record()
    start = time.perf_counter()
    for batch in batches:
        engine_step(trainer, batch, graphs)
    if events:
        end.record()
    synchronize(device)
    result = {"epoch_s": time.perf_counter() - start, "steps": len(batches)}
    if events:
        result["epoch_gpu_s"] = begin.elapsed_time(end) / 1000
    return result


def graph_probe(trainer, batch, device, replays: int) -> dict:
    """Encoder + classifier forward and backward of one fixed batch, eagerly and replayed as a
    captured CUDA graph (no launch cost): how much of the eager step is launch overhead.

    A diagnostic, not a way to train (the graph is bound to this batch's shapes).
    """
    batch = batch.to(device)
    x = trainer.embedding(batch.word_ids).detach().requires_grad_(True)

    def forward_backward():
        states = trainer.encoder(batch, x)
        F.cross_entropy(trainer.classifier(states), batch.labels, ignore_index=-1).backward()

    def timed(run):
        synchronize(device)
        start = time.perf_counter()
        for _ in range(replays):
            run()
        synchronize(device)
        return (time.perf_counter() - start) / replays * 1000

    trainer.optimizer.zero_grad(set_to_none=False)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            forward_backward()
    torch.cuda.current_stream().wait_stream(side)
    eager_ms = timed(forward_backward)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        forward_backward()
    return {"nodes": batch.num_nodes, "levels": batch.num_levels, "eager_fwd_bwd_ms": eager_ms,
            "graph_fwd_bwd_ms": timed(graph.replay)}


# ---------------------------------------------------------------------------- correctness on a device
def outputs_and_gradients(encode, x, weights, parameters) -> list[torch.Tensor]:
    """``[h, dL/dx, dL/d(each parameter)]`` of ``h = encode(x)``, L = sum(weights * h)."""
    leaf = x.detach().clone().requires_grad_(True)
    h = encode(leaf)
    return [h.detach(), *torch.autograd.grad((h * weights).sum(), [leaf, *parameters])]


def relative_error(tensors, references) -> float:
    """The largest ||a - b|| / ||b|| over pairs of tensors."""
    return max(float((a - b).norm() / b.norm().clamp_min(1e-30)) for a, b in zip(tensors, references))


def check(engine, trees, device, report) -> bool:
    """Batched == naive reference on ``device`` (float64 and float32), for every tree encoder,
    in outputs and in every gradient; the device agrees with the CPU; on CUDA, no host-device
    synchronisation. Returns success."""
    ids, _ = vocabulary_ids(trees)
    batch = engine.TreeBatch.from_trees(trees, ids).to(device)
    makers = {"nary": lambda: engine.NaryTreeLSTM(12, 8), "childsum": lambda: engine.ChildSumTreeLSTM(12, 8),
              "recnn": lambda: engine.RecNN(12, 8), "rntn": lambda: engine.RNTN(8, 8)}
    tolerance = {torch.float64: 1e-10, torch.float32: 1e-4}  # relative, of the whole tensor
    ok = True
    for dtype in (torch.float64, torch.float32):
        for name, make in makers.items():
            torch.manual_seed(0)
            encoder = make().to(device, dtype)
            x = torch.randn(batch.num_nodes, encoder.input_dim, device=device, dtype=dtype)
            x = x * batch.has_word.unsqueeze(1)
            weights = torch.randn(batch.num_nodes, encoder.hidden_size, device=device, dtype=dtype)
            results = {path: outputs_and_gradients(encode, x, weights, list(encoder.parameters())) for path, encode in
                       [("engine", lambda x: encoder(batch, x)),
                        ("reference", lambda x: engine.reference_encode(encoder, trees, x))]}
            worst = relative_error(results["engine"], results["reference"])
            passed = worst <= tolerance[dtype]
            ok &= passed
            report(f"check {name:8s} {str(dtype):14s} on {device}: max relative error {worst:.2e} "
                   f"(tolerance {tolerance[dtype]:.0e}) {'ok' if passed else 'FAILED'}")
            if device.type == "cuda" and dtype == torch.float32:
                ok &= check_no_sync(encoder, batch, x, report, name)
            if dtype == torch.float64 and device.type != "cpu":
                cpu_encoder = make().double()
                cpu_encoder.load_state_dict({k: v.cpu() for k, v in encoder.state_dict().items()})
                h_cpu = cpu_encoder(batch.to("cpu"), x.cpu())
                gap = float((results["engine"][0].cpu() - h_cpu).abs().max())
                ok &= gap <= 1e-10
                report(f"check {name:8s} {device} vs cpu float64: max abs difference {gap:.2e} "
                       f"{'ok' if gap <= 1e-10 else 'FAILED'}")
    return ok


def check_graphs(engine, trees, device, report) -> bool:
    """The N-ary Tree-LSTM with its level loop replayed as graphs == eager, in outputs and every
    gradient, on SST dev batches of 25 and 256 trees (each batch twice: capture, then replay), with
    all buckets free and with one (the others run eagerly); on CUDA a replay never waits for the device."""
    ids, _ = vocabulary_ids(trees)
    tolerance = {torch.float64: 1e-12, torch.float32: 1e-5}  # relative, of the whole tensor
    ok = True
    for dtype in (torch.float64, torch.float32):
        for size in (25, 256):
            for max_graphs in (64, 1):
                torch.manual_seed(0)
                eager = engine.NaryTreeLSTM(12, 8).to(device, dtype)
                graphed = engine.NaryTreeLSTM(12, 8).to(device, dtype)
                graphed.load_state_dict(eager.state_dict())
                graphed.graphs = engine.level_graphs(device, max_graphs=max_graphs)
                worst = 0.0
                chunks = [range(k, min(k + size, len(trees))) for k in range(0, len(trees), size)]
                for chunk in chunks + chunks:
                    batch = engine.TreeBatch.from_trees([trees[i] for i in chunk], [ids[i] for i in chunk]).to(device)
                    x = torch.randn(batch.num_nodes, 12, device=device, dtype=dtype) * batch.has_word.unsqueeze(1)
                    weights = torch.randn(batch.num_nodes, 8, device=device, dtype=dtype)
                    eager_results, graphed_results = [
                        outputs_and_gradients(lambda x: encoder(batch, x), x, weights, list(encoder.parameters()))
                        for encoder in (eager, graphed)]
                    worst = max(worst, relative_error(graphed_results, eager_results))
                stats = graphed.graphs.stats
                passed = worst <= tolerance[dtype] and not stats["failures"] and stats["replays"] > 0
                passed &= max_graphs > 1 or stats["eager"] > 0 or len(chunks) == 1
                ok &= passed
                report(f"check graphs   {str(dtype):14s} batch {size:3d}, {max_graphs:2d} buckets free: max relative "
                       f"error {worst:.2e} (tolerance {tolerance[dtype]:.0e}), {stats['captures']} captures "
                       f"({stats['capture_s']:.2f} s), {stats['replays']} replays, {stats['eager']} eager, "
                       f"failures {stats['failures'] or 'none'} {'ok' if passed else 'FAILED'}")
                if device.type == "cuda" and dtype == torch.float32 and max_graphs > 1:
                    ok &= check_no_sync(graphed, batch, x, report, "graphs")  # the last batch: a replay
    return ok


def check_no_sync(encoder, batch, x, report, name) -> bool:
    """Forward and backward must never wait for the device (torch raises on a synchronising call)."""
    leaf = x.detach().clone().requires_grad_(True)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        encoder(batch, leaf).sum().backward()
        passed, detail = True, "none"
    except RuntimeError as error:
        passed, detail = False, str(error).splitlines()[0]
    finally:
        torch.cuda.set_sync_debug_mode("default")
    report(f"check {name:8s} host-device synchronisations in forward + backward: {detail} "
           f"{'ok' if passed else 'FAILED'}")
    return passed


# ---------------------------------------------------------------------------- main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sst-dir", help="folder with SST train.txt (default: $SST_DIR, ../shared/data/sst)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[25, 256])
    parser.add_argument("--engines", default="engine,dgl,naive",
                        help="comma-separated subset of engine,graphs,dgl,naive")
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--hidden", type=int, default=150)
    parser.add_argument("--trees", type=int, help="use only the first TREES training trees")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per engine and batch size")
    parser.add_argument("--naive-trees", type=int, default=25, help="trees the naive recursion is timed on")
    parser.add_argument("--epoch", action="store_true",
                        help="also time a full SST epoch of the engine (with graphs: two, the first one capturing)")
    parser.add_argument("--graph-probe", action="store_true", help="CUDA: eager vs captured-graph fwd+bwd of one batch")
    parser.add_argument("--check", action="store_true", help="correctness checks on the device instead of timing")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--tiny", action="store_true", help="a few small trees and dimensions: a smoke test")
    parser.add_argument("--json", help="write the results here as JSON")
    args = parser.parse_args(argv)
    if args.tiny:
        args.trees, args.dim, args.hidden, args.naive_trees = 60, 16, 8, 3
        args.batch_sizes, args.steps = [5, 20], 2
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    engine = import_engine()
    lines: list[str] = []

    def report(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    sst = find_sst(args.sst_dir)
    load_avg = os.getloadavg() if hasattr(os, "getloadavg") else None
    report(f"# torch {torch.__version__} on {device}"
           + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else
              f" ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
              f"{os.cpu_count()} cores, load average {load_avg[0]:.1f})"))

    if args.check:
        trees = read_sst(sst / "dev.txt", 16 if not args.tiny else 6)
        ok = check(engine, trees, device, report)
        ok &= check_graphs(engine, read_sst(sst / "dev.txt", 600 if not args.tiny else 60), device, report)
        return 0 if ok else 1

    started = time.perf_counter()
    trees = read_sst(sst / "train.txt", args.trees)
    ids, vocab_size = vocabulary_ids(trees)
    report(f"# {len(trees)} SST training trees ({sum(len(t.children) for t in trees)} nodes), read in "
           f"{time.perf_counter() - started:.1f} s; x {args.dim}, h {args.hidden}, vocab {vocab_size}")
    engines = args.engines.split(",")
    if "dgl" in engines and device.type != "cpu":
        report("# dgl: skipped (PyPI's DGL is CPU-only)")
        engines.remove("dgl")
    if "dgl" in engines:
        try:
            from treenets.dgl_interop import import_dgl, to_dgl
            import_dgl()
        except ImportError as error:
            report(f"# dgl: skipped ({error})")
            engines.remove("dgl")

    results: dict = {"device": str(device), "dim": args.dim, "hidden": args.hidden, "trees": len(trees),
                     "load_average": load_avg, "threads": torch.get_num_threads(), "batch": {}}
    order = random.Random(0).sample(range(len(trees)), len(trees))  # one shuffled epoch
    for batch_size in args.batch_sizes:
        chunks = [order[k:k + batch_size] for k in range(0, len(order), batch_size)]
        started = time.perf_counter()
        batches = [engine.TreeBatch.from_trees([trees[i] for i in chunk], [ids[i] for i in chunk]) for chunk in chunks]
        collate_ms = (time.perf_counter() - started) / len(trees) * 1000
        if device.type == "cuda":
            batches = [b.pin_memory() for b in batches]
        row = {"collate_ms_per_tree": collate_ms,
               "levels_per_batch": float(np.mean([b.num_levels for b in batches]))}
        steps = args.steps or (4 if batch_size >= 128 else 12) * (10 if device.type == "cuda" else 1)
        trainer = Trainer(engine, vocab_size, args.dim, args.hidden, device)
        runners = {}
        if "engine" in engines:
            runners["engine"] = (lambda b: engine_step(trainer, b), batches, 2, steps, lambda b: b.num_trees)
        if "graphs" in engines:  # the engine's timed batches, once untimed first: as in a second epoch,
            timed = batches[2:2 + steps] or batches  # their buckets are captured before the clock runs
            runners["graphs"] = (lambda b: engine_step(trainer, b, graphs=True), timed + timed, len(timed), steps,
                                 lambda b: b.num_trees)
        if "dgl" in engines:
            graphs = [(to_dgl(b, torch.empty(b.num_nodes, 0)), b) for b in batches[: max(2, steps // 2) + 1]]
            runners["dgl"] = (lambda gb: dgl_step(trainer, *gb), graphs, 1, max(2, steps // 2),
                              lambda gb: gb[1].num_trees)
        if "naive" in engines:  # one step on a few trees: its cost per tree does not depend on the batch
            few = order[: args.naive_trees]
            naive_batch = engine.TreeBatch.from_trees([trees[i] for i in few], [ids[i] for i in few])
            runners["naive"] = (lambda tb: naive_step(trainer, engine, *tb), [([trees[i] for i in few], naive_batch)],
                                0, 1, lambda tb: len(tb[0]))
        row.update(time_interleaved(runners, device))
        if args.epoch and "engine" in engines:
            row["epoch"] = time_epoch(trainer, batches, device)
        if args.epoch and "graphs" in engines:
            trainer.graphs.clear()
            row["graphs_epochs"] = [time_epoch(trainer, batches, device, graphs=True) for _ in range(2)]
        if "graphs" in engines:
            row["graphs_stats"] = dict(trainer.graphs.stats)
            shapes = [engine.LevelShape.of(b.level_bounds) for b in batches]
            row["buckets"] = {"epoch_batches": len(batches), "buckets": len(set(shapes)),
                              "padded_rows_per_node": sum(s.rows for s in shapes) / sum(b.num_nodes for b in batches)}
        if args.graph_probe and device.type == "cuda":
            try:
                row["graph_probe"] = graph_probe(trainer, batches[0], device, 20)
            except Exception as error:  # a diagnostic: report and go on
                row["graph_probe"] = {"error": f"{type(error).__name__}: {error}"}
        results["batch"][batch_size] = row
        summarize(batch_size, row, len(trees), report)

    results["report"] = lines
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def summarize(batch_size: int, row: dict, num_trees: int, report) -> None:
    report(f"\n## batch {batch_size}: {row['levels_per_batch']:.1f} levels per batch on average, "
           f"collation {row['collate_ms_per_tree']:.3f} ms per tree (in DataLoader workers)")
    for name in ("engine", "graphs", "dgl", "naive"):
        if name in row:
            r = row[name]
            memory = f"{r['peak_mib']:.0f} MiB" if r["peak_mib"] is not None else "n/a"
            report(f"{name:7s} {r['trees_per_s']:10.1f} trees/s   peak memory +{memory:>9s}   "
                   f"({r['trees']} trees in {r['seconds']:.2f} s, loss {r['last_loss']:.3f})")
    if "engine" in row:
        for other in ("dgl", "naive"):
            if other in row:
                report(f"engine / {other}: {row['engine']['trees_per_s'] / row[other]['trees_per_s']:.1f}x")
        if "graphs" in row:
            report(f"graphs / engine: {row['graphs']['trees_per_s'] / row['engine']['trees_per_s']:.2f}x")
        report(f"SST epoch estimate from the timed steps: {num_trees / row['engine']['trees_per_s']:.2f} s")
    if "epoch" in row:
        e = row["epoch"]
        gpu = f", {e['epoch_gpu_s']:.3f} s between CUDA events" if "epoch_gpu_s" in e else ""
        report(f"SST epoch measured: {e['epoch_s']:.3f} s wall ({e['steps']} steps){gpu}")
    for k, e in enumerate(row.get("graphs_epochs", [])):
        gpu = f", {e['epoch_gpu_s']:.3f} s between CUDA events" if "epoch_gpu_s" in e else ""
        report(f"SST epoch with graphs, {('first (captures its buckets)', 'second')[k]}: {e['epoch_s']:.3f} s wall{gpu}")
    if "graphs_stats" in row:
        b = row["buckets"]
        report(f"graphs: {b['buckets']} buckets over the epoch's {b['epoch_batches']} batches, "
               f"{b['padded_rows_per_node']:.2f} padded rows per node; {row['graphs_stats']}")
    if "graph_probe" in row:
        report(f"graph probe (one batch, fwd+bwd): {row['graph_probe']}")


if __name__ == "__main__":
    sys.exit(main())
