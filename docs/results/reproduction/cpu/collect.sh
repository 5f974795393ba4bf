#!/usr/bin/env bash
# Copy the workflow's tables and plots of the CPU reproduction into this folder, with every run's small
# files (resolved config, versions.json with its commit, epochs.jsonl, training.json, test metrics.json),
# from the repository root after the snakemake commands in README.md here:
#   docs/results/reproduction/cpu/collect.sh                                  # every experiment there is
#   docs/results/reproduction/cpu/collect.sh tai2015_sick:tai2015_sick_2layer_converged  # into another folder
set -euo pipefail
here=docs/results/reproduction/cpu
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(tai2015_sick tai2015_sst socher2013_rntn recurrent_baselines)
for target in "${targets[@]}"; do
  experiment=${target%%:*}
  folder=$here/${target#*:}
  [ -d "results/$experiment/tables" ] || continue
  mkdir -p "$folder"
  cp results/$experiment/tables/*.{csv,md,tex} "$folder/"
  cp results/$experiment/plots/*.png "$folder/"
  for run in results/$experiment/runs/*/*/*/seed*; do
    [ -f "$run/metrics.json" ] || continue
    mkdir -p "$folder/${run#results/$experiment/}"
    cp "$run"/{config.resolved.yaml,versions.json,epochs.jsonl,training.json,metrics.json} "$folder/${run#results/$experiment/}/"
  done
done
