# The README's two commands: `make demo` and `make test`. Both set up .venv when it is missing.
PYTHON     ?= python3
VENV       ?= .venv
# A CPU wheel by default; on a CUDA machine use e.g. `make demo TORCH_SPEC="torch==2.13.0"` from the CUDA index.
TORCH_SPEC ?= torch==2.13.0
EXTRAS     ?= dev,slurm,dgl
PY         := $(VENV)/bin/python
CORES      ?= 2

.PHONY: setup demo test lint mutate
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

demo: setup
	PATH="$(abspath $(VENV))/bin:$$PATH" snakemake --cores $(CORES) --configfile config/demo.yaml --workflow-profile config/profiles/local

test: setup
	PATH="$(abspath $(VENV))/bin:$$PATH" lint-imports
	PATH="$(abspath $(VENV))/bin:$$PATH" OMP_NUM_THREADS=1 $(PY) -m pytest -n $(CORES) -q

lint: setup
	PATH="$(abspath $(VENV))/bin:$$PATH" snakemake --lint --configfile config/demo.yaml

# Mutation testing (minutes on 2 CPU cores; not part of `make test`): the functions where a wrong sign,
# index or branch silently changes results, each mutant run against the tests that cover it
# ([tool.mutmut] in pyproject.toml). `make mutate MUTANTS='treenets.*'` mutates every function of the
# configured modules (hours). Survivors: `mutmut results`, `mutmut show NAME`; docs/mutation/README.md.
MUTANTS ?= $(shell grep -v '^\#' docs/mutation/functions.txt)
mutate: setup
	env -u PYTHONPATH PATH="$(abspath $(VENV))/bin:$$PATH" OMP_NUM_THREADS=1 nice -n 10 \
		$(VENV)/bin/mutmut run --max-children $(CORES) $(foreach m,$(MUTANTS),'$(m)')
	$(VENV)/bin/mutmut results
