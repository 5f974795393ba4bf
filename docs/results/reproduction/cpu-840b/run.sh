#!/usr/bin/env bash
# Tai et al. Table 3 on their own SICK inputs (issue 14), run from the repository root on a clean checkout:
#   TREENETS_DATA_MIRROR=../shared/data docs/results/reproduction/cpu-840b/run.sh
# Seed by seed: every row gets seed 1 before any row gets seed 2, so a run cut short still has every row.
# The last command is the experiment as it is (5 seeds); it finds the earlier runs done and writes the report.
set -euo pipefail
run() {
  nice -n 10 snakemake --cores 2 --workflow-profile config/profiles/local \
    --configfile config/experiments/tai2015_sick.yaml config/reproduction/cpu-treelstm-840b.yaml "$@"
}
wave=$(mktemp --suffix .yaml)   # a third config file: --config would read the seeds as strings
trap 'rm -f "$wave"' EXIT
for seeds in "[1]" "[1, 2]" "[1, 2, 3]" "[1, 2, 3, 4]"; do
  echo "seeds: $seeds" > "$wave"
  run "$wave"
done
run
