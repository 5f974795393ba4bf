#!/usr/bin/env bash
# On a lent CUDA machine (issue 16): Tai et al.'s SST constituency Tree-LSTM (tai2015_sst's settings,
# docs/results/reproduction/sst_base.yaml: x GloVe 6B-50d tuned, h 150, Adagrad 0.05, batch 25, dropout
# 0.5, 10 epochs, best dev root accuracy), seeds 1-5 side by side on the one GPU, through `treenets
# train` and `treenets evaluate`, with the level loop replayed as CUDA graphs (model.cuda_graphs).
# Needs what bench/gpu_prepare.sh puts in .gpu/ (carry it). Each run's small files come back in
# $OUT/runs (checkpoints deleted); then, here:
#   cp -r <files_at>/runs docs/results/h100/tai2015_sst/
#   treenets report --task sentiment --name sst --out-dir docs/results/h100/tai2015_sst \
#     $(for s in 1 2 3 4 5; do echo --run constituency_treelstm=docs/results/h100/tai2015_sst/runs/seed$s; done) \
#     --paper constituency_treelstm=tai2015/sst/constituency_treelstm
# A device call: command 'OUT=$OUT bash bench/gpu_sst_seeds.sh', carry [".gpu"], timeout ~480 s.
#
#   OUT=/tmp/out bash bench/gpu_sst_seeds.sh                       # on the GPU machine
#   PYTHON=.venv/bin/python DEVICE=cpu EPOCHS=1 LIMIT=50 SEEDS="1 2" OUT=/tmp/out bash bench/gpu_sst_seeds.sh  # smoke test
set -uo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder for the runs and logs}"
PYTHON=${PYTHON:-python3} DEVICE=${DEVICE:-cuda} SEEDS=${SEEDS:-1 2 3 4 5} LIMIT_S=${LIMIT_S:-420}
for needed in .gpu/whl .gpu/data/sst/train.txt .gpu/glove50d.txt; do
  [[ -e $needed ]] || { echo "$needed is missing: run bench/gpu_prepare.sh here and carry .gpu" >&2; exit 2; }
done
if ! $PYTHON -c 'import nltk' 2>/dev/null; then
  $PYTHON -m pip install -q --no-index --no-deps --no-compile --target /tmp/treenets_site .gpu/whl/*.whl || exit 2
  export PYTHONPATH=/tmp/treenets_site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
mkdir -p "$OUT/runs"
sets=(--set embeddings.source=.gpu/glove50d.txt --set embeddings.cache_dir=/tmp/treenets_embeddings
      --set training.device="$DEVICE" --set model.cuda_graphs=true)
for split in train dev test; do sets+=(--set data.files.$split=.gpu/data/sst/$split.txt); done
if [[ -n "${EPOCHS:-}" ]]; then sets+=(--set training.epochs=$EPOCHS); fi
if [[ -n "${LIMIT:-}" ]]; then sets+=(--set "data.limit={train: $LIMIT, dev: $LIMIT, test: $LIMIT}"); fi

run() {  # seed
  local dir=$OUT/runs/seed$1 start=$SECONDS rc
  timeout "$LIMIT_S" $PYTHON -m treenets.cli train --config docs/results/reproduction/sst_base.yaml --run-dir "$dir" \
    "${sets[@]}" --set training.seed=$1 >"$OUT/runs/seed$1.train.log" 2>&1 \
    && $PYTHON -m treenets.cli evaluate --run-dir "$dir" --split test >"$OUT/runs/seed$1.evaluate.log" 2>&1
  rc=$?
  echo "== seed $1: exit $rc, $((SECONDS - start)) s; $(grep '^epoch' "$OUT/runs/seed$1.train.log" | tail -n 1)"
  cat "$OUT/runs/seed$1.evaluate.log" 2>/dev/null | tr -d '\n '; echo
  return $rc
}
{ nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null || echo "$DEVICE"; } >"$OUT/sst_seeds.log"
pids=()
for seed in $SEEDS; do run "$seed" >>"$OUT/sst_seeds.$seed.log" 2>&1 & pids+=($!); done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
cat "$OUT"/sst_seeds.*.log >>"$OUT/sst_seeds.log" && rm -f "$OUT"/sst_seeds.*.log
find "$OUT/runs" -name '*.pt' -delete
cat "$OUT/sst_seeds.log"
exit $status
