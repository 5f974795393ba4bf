"""Configuration dataclasses, validated at the edge.

Every section is a frozen dataclass built from a plain dict (parsed YAML) by :func:`from_dict`,
which rejects unknown keys and wrong types with an :class:`InputError` that names the key path,
so a typo in an experiment YAML fails before any work starts.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass

from treenets.errors import InputError

TREE_MODELS = ("childsum_treelstm", "nary_treelstm", "recnn", "rntn")
SEQUENCE_MODELS = ("rnn", "lstm", "gru", "indrnn", "srnn")
MODEL_NAMES = TREE_MODELS + SEQUENCE_MODELS


@dataclass(frozen=True)
class ModelConfig:
    """The encoder and its sizes. Heads are chosen by the task, not here."""

    name: str
    hidden: int = 150  # memory dimension of Tai et al.; RNTN papers use 25-35
    layers: int = 1  # stacked recurrent layers (sequence models)
    bidirectional: bool = False
    nonlinearity: str = "tanh"  # vanilla RNN / SRNN cell: tanh | relu; IndRNN: relu (default) | tanh
    dropout: float = 0.0  # before the classifier / similarity head, where the papers put it
    # IndRNN (Li et al. 2018): |u| <= mag ** (1 / constraint_len); None -> longest training sequence.
    mag: float = 2.0
    constraint_len: int | None = None
    residual: bool = False
    batch_norm: bool = False
    # Sliced RNN (Yu & Liu 2018): `slices` pieces per cut, `levels` cuts (k), `cell` of every level.
    slices: int = 8
    levels: int = 2
    cell: str = "gru"
    # Relatedness head (Tai et al.): hidden size of the sigmoid layer.
    head_hidden: int = 50

    def __post_init__(self):
        if self.name not in MODEL_NAMES:
            raise InputError(f"model.name: unknown model {self.name!r}; choose one of {', '.join(MODEL_NAMES)}")
        for key in ("hidden", "layers", "slices", "levels", "head_hidden"):
            if getattr(self, key) < 1:
                raise InputError(f"model.{key}: must be >= 1, got {getattr(self, key)}")
        if not 0.0 <= self.dropout < 1.0:
            raise InputError(f"model.dropout: must be in [0, 1), got {self.dropout}")
        if self.nonlinearity not in ("tanh", "relu"):
            raise InputError(f"model.nonlinearity: tanh or relu, got {self.nonlinearity!r}")
        if self.cell not in ("rnn", "lstm", "gru"):
            raise InputError(f"model.cell: rnn, lstm or gru, got {self.cell!r}")
        if self.mag <= 1.0:
            raise InputError(f"model.mag: must be > 1, got {self.mag}")

    @property
    def is_tree(self) -> bool:
        return self.name in TREE_MODELS


T = typing.TypeVar("T")


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
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise InputError(f"{where}: expected a string, got {value!r}")
        return value
    return value
