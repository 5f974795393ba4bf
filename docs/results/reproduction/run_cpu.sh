#!/usr/bin/env bash
# The CPU reproduction runs of issue 7 that need no parser: SST (its own constituency trees) and the
# SICK sequence models. One seed each, GloVe 6B-50d. Run from the repository root:
#   bash docs/results/reproduction/run_cpu.sh results/reproduction
set -uo pipefail
out=${1:-results/reproduction}
here=docs/results/reproduction
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} TREENETS_DATA_MIRROR=${TREENETS_DATA_MIRROR:-../shared/data}
tn=.venv/bin/treenets
run() {  # name base.yaml overrides...
  local name=$1 base=$2; shift 2
  local sets=(); for s in "$@"; do sets+=(--set "$s"); done
  local start=$SECONDS
  $tn train --config "$here/$base" --run-dir "$out/$name" "${sets[@]}" > "$out/$name.train.log" 2>&1 \
    && $tn evaluate --run-dir "$out/$name" --split test > "$out/$name.eval.log" 2>&1
  echo "$name rc=$? wall=$((SECONDS - start))s" | tee -a "$out/walltimes.txt"
}
mkdir -p "$out"
run sst_constituency_treelstm sst_base.yaml
run sick_lstm sick_base.yaml
run sick_bilstm sick_base.yaml model.bidirectional=true
run sst_rntn sst_base.yaml model.name=rntn model.hidden=25 model.dropout=0.0 optimizer.lr=0.01 optimizer.l2=0.001 training.batch_size=27 training.epochs=15
run sst_recnn sst_base.yaml model.name=recnn model.hidden=25 model.dropout=0.0 optimizer.lr=0.01 optimizer.l2=0.001 training.batch_size=27 training.epochs=15
run sst_lstm sst_base.yaml model.name=lstm model.hidden=168 sentiment.train_on_phrases=true training.epochs=3
run sst_bilstm sst_base.yaml model.name=lstm model.hidden=168 model.bidirectional=true sentiment.train_on_phrases=true training.epochs=3
