#!/usr/bin/env bash
# Issue 7 runs on the lent H100: SST and SICK models without a parser, in parallel on one GPU.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/whl/*.whl && export PYTHONPATH=/tmp/site:$PWD/src || exit 1
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
R=$OUT/runs; mkdir -p $R
common=(--set embeddings.source=.gpu/glove50d.txt --set embeddings.cache_dir=/tmp/embcache --set training.device=cuda)
sst=(--set data.files.train=.gpu/data/sst/train.txt --set data.files.dev=.gpu/data/sst/dev.txt --set data.files.test=.gpu/data/sst/test.txt)
sick=(--set data.files.train=.gpu/data/sick/SICK_train.txt --set data.files.dev=.gpu/data/sick/SICK_trial.txt --set data.files.test=.gpu/data/sick/SICK_test_annotated.txt)
B=docs/results/reproduction
job() {  # name base limit sets...
  local name=$1 base=$2 limit=$3; shift 3
  local start=$SECONDS
  timeout $limit python3 -m treenets.cli train --config $B/$base --run-dir $R/$name "${common[@]}" "$@" > $R/$name.train.log 2>&1 \
    && python3 -m treenets.cli evaluate --run-dir $R/$name --split test > $R/$name.eval.log 2>&1
  local rc=$?
  { echo "== $name rc=$rc wall=$((SECONDS - start))s"; tail -n 3 $R/$name.train.log | grep '^epoch'; cat $R/$name.eval.log 2>/dev/null | tr -d '\n '; echo; } >> $OUT/metrics.txt
}
nvidia-smi --query-gpu=name --format=csv,noheader > $OUT/metrics.txt
job sst_constituency_treelstm sst_base.yaml 100 "${sst[@]}" --set training.epochs=6 &
job sst_rntn sst_base.yaml 100 "${sst[@]}" --set model.name=rntn --set model.hidden=25 --set model.dropout=0.0 --set optimizer.lr=0.01 --set optimizer.l2=0.001 --set training.batch_size=27 --set training.epochs=8 &
job sst_recnn sst_base.yaml 100 "${sst[@]}" --set model.name=recnn --set model.hidden=25 --set model.dropout=0.0 --set optimizer.lr=0.01 --set optimizer.l2=0.001 --set training.batch_size=27 --set training.epochs=8 &
job sick_lstm sick_base.yaml 100 "${sick[@]}" &
job sick_bilstm sick_base.yaml 100 "${sick[@]}" --set model.bidirectional=true &
job sick_lstm_2layer sick_base.yaml 100 "${sick[@]}" --set model.hidden=108 --set model.layers=2 &
job sst_lstm sst_base.yaml 100 "${sst[@]}" --set model.name=lstm --set model.hidden=168 --set training.epochs=6 &
wait
cat $OUT/metrics.txt
find $R -name "*.pt" -delete
tar czf $OUT/runs.tgz -C $OUT runs
