#!/usr/bin/env bash
# One run on a lent CUDA machine (python3 + torch + numpy only; no treenets install) that checks
# and times the tree engine of issue 3 and the long-sequence encoders of issue 18, in under 10 minutes:
#   check       batched == naive reference on CUDA for every tree encoder, float64 and float32,
#               outputs and all gradients; CUDA == CPU in float64; no host-device sync in fwd+bwd;
#               the N-ary level loop replayed as CUDA graphs == eager (issue 16: buckets, eager past them)
#   bench_cuda  training steps of the N-ary Tree-LSTM (x 300, h 150, batch 25 and 256, real SST
#               train trees): trees/s eager and with CUDA graphs, engine/naive, peak memory, full SST
#               epochs (eager; with graphs the first, capturing, and the second), graph probe
#   bench_cpu   the same on that machine's CPU, 2 threads (its cores are not shared): engine vs
#               naive, and vs DGL if a DGL wheel is carried (DGL_WHEEL)
#   recurrent_check  IndRNN's Triton kernel == the per-step loop on CUDA (float64, every gradient; issue 18)
#   recurrent_cuda   bench_recurrent.py on CUDA: the fused IndRNN layer against the loop, cuDNN's GRU and
#               LSTM (T up to 16384), SRNN(8,2) and SRNN(16,2) against cuDNN's GRU (T up to 32768)
# Logs and JSON land in $OUT; the exit status is non-zero if anything failed.
#
#   SST_DIR=.gpu/data/sst OUT=/tmp/out bash bench/gpu_check.sh      # on the GPU machine
#   ONLY="check bench_cuda" OUT=/tmp/out bash bench/gpu_check.sh     # some of the steps (two calls)
#   PYTHON=.venv/bin/python OUT=/tmp/out bash bench/gpu_check.sh --tiny   # CPU smoke test, ~1 minute
#
# SST_DIR holds train.txt and dev.txt (default: .gpu/data/sst, else ../shared/data/sst). For the
# DGL baseline, carry PyPI's CPU wheel for the machine's python, e.g.
#   pip download dgl==2.1.0 --no-deps --python-version 3.12 --only-binary=:all: \
#       --platform manylinux1_x86_64 -d .gpu/whl_dgl            # then DGL_WHEEL=.gpu/whl_dgl/dgl-*.whl
set -uo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder for the logs}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PYTHON=${PYTHON:-python3}
if [[ -z "${SST_DIR:-}" && -f .gpu/data/sst/train.txt ]]; then export SST_DIR=.gpu/data/sst; fi

tiny=()
if [[ "${1:-}" == "--tiny" ]]; then tiny=(--tiny); fi
device=$($PYTHON -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")') || {
  echo "$PYTHON cannot import torch (set PYTHON to an interpreter that can)" >&2
  exit 2
}
if [[ $device == cpu && ${#tiny[@]} -eq 0 ]]; then
  echo "no CUDA device here (use --tiny for a smoke test on the CPU)" >&2
  exit 2
fi

status=0
step() {  # name, time limit in seconds, command...
  local name=$1 limit=$2 rc
  shift 2
  if [[ -n "${ONLY:-}" && " $ONLY " != *" $name "* ]]; then return; fi
  echo "== $name: $*" | tee -a "$OUT/summary.log"
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  rc=$?
  grep -v '^# ' "$OUT/$name.log" | tail -n 40 | tee -a "$OUT/summary.log"
  if [[ $rc -ne 0 ]]; then
    echo "!! $name exited with $rc$([[ $rc -eq 124 ]] && echo ' (time limit)')" | tee -a "$OUT/summary.log"
    status=1
  fi
}

{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv 2>/dev/null
  $PYTHON -c 'import sys, torch, numpy; print(sys.version.split()[0], "torch", torch.__version__, "numpy", numpy.__version__)'
  echo "cpus $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/environment.log" 2>&1
cat "$OUT/environment.log"

if [[ -n "${DGL_WHEEL:-}" ]]; then
  $PYTHON -m pip install -q --no-index --no-deps --no-compile --target /tmp/dgl_site $DGL_WHEEL \
    && export PYTHONPATH="$PYTHONPATH:/tmp/dgl_site" || echo "!! DGL wheel did not install: no DGL baseline"
fi

step check 90 $PYTHON bench/bench_tree_engine.py --check --device "$device" "${tiny[@]}"
step bench_cuda 200 $PYTHON bench/bench_tree_engine.py --device "$device" --engines engine,graphs,naive --epoch \
  --graph-probe --json "$OUT/bench_cuda.json" "${tiny[@]}"
step bench_cpu 60 $PYTHON bench/bench_tree_engine.py --device cpu --threads 2 --json "$OUT/bench_cpu.json" "${tiny[@]}"
quick=()
if [[ ${#tiny[@]} -gt 0 ]]; then quick=(--quick); fi
step recurrent_check 60 $PYTHON bench/bench_recurrent.py --check --device "$device"
step recurrent_cuda 200 $PYTHON bench/bench_recurrent.py --device "$device" --baselines gru,lstm --loop-max 1024 \
  --json "$OUT/bench_recurrent_cuda.json" "${quick[@]}"
exit $status
