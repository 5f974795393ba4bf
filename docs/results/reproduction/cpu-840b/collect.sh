#!/usr/bin/env bash
# Copy the workflow's tables and plots of the run on Tai et al.'s inputs into this folder (run from the
# repository root after run.sh here): docs/results/reproduction/cpu-840b/collect.sh
set -euo pipefail
here=docs/results/reproduction/cpu-840b
experiment=tai2015_sick
mkdir -p "$here/$experiment"
cp results/$experiment/tables/*.{csv,md,tex} "$here/$experiment/"
cp results/$experiment/plots/*.png "$here/$experiment/"
# One run's versions (every run of the session records the same environment and commit).
cp "$(ls -d results/$experiment/runs/sick/*/*/seed1 | head -1)/versions.json" "$here/versions.json"
