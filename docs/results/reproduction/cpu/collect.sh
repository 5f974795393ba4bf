#!/usr/bin/env bash
# Copy the workflow's tables and plots of the CPU reproduction into this folder (run from the
# repository root after the snakemake commands in README.md here): docs/results/reproduction/cpu/collect.sh
set -euo pipefail
here=docs/results/reproduction/cpu
for experiment in tai2015_sick tai2015_sst socher2013_rntn recurrent_baselines; do
  [ -d "results/$experiment/tables" ] || continue
  mkdir -p "$here/$experiment"
  cp results/$experiment/tables/*.{csv,md,tex} "$here/$experiment/"
  cp results/$experiment/plots/*.png "$here/$experiment/"
done
# One run's versions (every run of a session records the same environment).
cp "$(ls -d results/tai2015_sick/runs/sick/*/*/seed1 | head -1)/versions.json" "$here/versions.json"
