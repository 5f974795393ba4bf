"""Stanza model folders: which files a Pipeline needs, checked before it is built.

Two layouts, told apart by a marker file:

* **official** (``resources.json`` naming English, written by ``stanza.download``): stanza's own
  resolution (``resources.json`` -> default packages -> dependencies) gives the paths, e.g.
  ``en/pos/combined_charlm.pt`` plus its pretrain and character LMs.
* **bootstrap** (``bootstrap.json``, written by :mod:`treenets.parse.bootstrap`): fixed names,
  see :data:`BOOTSTRAP_FILES`, and an empty ``resources.json``.

Stanza's own errors for a missing file are misleading (``KeyError: 'en'``, an attempted
download), so :func:`model_paths` checks every file and raises one :class:`InputError` line that
names the file and the command that provides it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from treenets.errors import InputError

LANG = "en"
DEFAULT_DIR = "resources/stanza"
BOOTSTRAP_MARKER = "bootstrap.json"
RESOURCES = "resources.json"
# Official English depparse models read lemmas; bootstrap ones do not (trained without), and their
# Pipeline runs depparse "pretagged" on the POS tagger's output instead of asking for a lemmatizer.
OFFICIAL_PROCESSORS = "tokenize,pos,lemma,depparse,constituency"
BOOTSTRAP_PROCESSORS = "tokenize,pos,depparse,constituency"
# Pipeline keyword -> file name in a bootstrap folder.
BOOTSTRAP_FILES = {
    "pos_model_path": "pos.pt",
    "pos_pretrain_path": "pretrain.pt",
    "depparse_model_path": "depparse.pt",
    "depparse_pretrain_path": "pretrain.pt",
    "constituency_model_path": "constituency.pt",
    "constituency_pretrain_path": "pretrain.pt",
}


def pipeline_options(directory: str | os.PathLike, pretokenized: bool = True, package: str = "default") -> dict:
    """Keyword arguments of ``stanza.Pipeline`` for ``directory``: its processors and every model
    path (all checked to exist)."""
    directory = Path(directory)
    if layout(directory) == "bootstrap":
        options = {"processors": BOOTSTRAP_PROCESSORS, "depparse_pretagged": True}
    else:
        options = {"processors": OFFICIAL_PROCESSORS, "package": package}
    return {**options, **model_paths(directory, pretokenized, package)}


def layout(directory: str | os.PathLike) -> str:
    """``official`` or ``bootstrap``; an InputError when the folder is neither."""
    directory = Path(directory)
    if (directory / BOOTSTRAP_MARKER).is_file():
        return "bootstrap"
    resources = directory / RESOURCES
    if resources.is_file():
        try:
            known = LANG in json.loads(resources.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as err:
            raise InputError(f"not a stanza resources file: {err}", resources) from None
        if known:
            return "official"
    if not directory.is_dir():
        raise InputError(f"no stanza models folder here; {_how_to_fill(directory)}", directory)
    raise InputError(
        f"not a stanza models folder (no {RESOURCES} naming '{LANG}' and no {BOOTSTRAP_MARKER}); "
        f"{_how_to_fill(directory)}", directory)


def model_paths(directory: str | os.PathLike, pretokenized: bool = True, package: str = "default") -> dict[str, str]:
    """The ``*_path`` keyword arguments of a Pipeline over ``directory``, every file checked."""
    directory = Path(directory)
    kind = layout(directory)
    if kind == "bootstrap":  # no tokenizer model: raw text is split by treenets.parse.tokenize
        paths = {key: str(directory / name) for key, name in BOOTSTRAP_FILES.items()}
    else:
        paths = _official_paths(directory, pretokenized, package)
    for key, path in paths.items():
        if not Path(path).is_file():
            what = key.removesuffix("_path").replace("_", " ")
            raise InputError(f"missing {what} file {path}; {_how_to_fill(directory, kind)}")
    return paths


def _official_paths(directory: Path, pretokenized: bool, package: str) -> dict[str, str]:
    """Stanza's own resolution of the default English packages (as ``Pipeline.__init__`` does)."""
    from stanza.pipeline.core import build_default_config
    from stanza.resources.common import (add_dependencies, load_resources_json, maintain_processor_list,
                                         process_pipeline_parameters)

    resources = load_resources_json(str(directory))
    # The tokenize processor runs on pretokenized text too, but without a model file.
    wanted = OFFICIAL_PROCESSORS.split(",")[1 if pretokenized else 0 :]
    lang, _, package, wanted = process_pipeline_parameters(LANG, str(directory), package, ",".join(wanted))
    load_list = maintain_processor_list(resources, lang, package, wanted, maybe_add_mwt=not pretokenized)
    load_list = add_dependencies(resources, lang, load_list)
    missing = [name for name in wanted if name not in dict(load_list)]
    if missing:
        raise InputError(f"{RESOURCES} has no {missing[0]} model for '{LANG}'", directory / RESOURCES)
    config = build_default_config(resources, lang, str(directory), load_list)
    return {key: value for key, value in config.items() if key.endswith("_path")}


def _how_to_fill(directory: Path, kind: str | None = None) -> str:
    download = (f"get the official models with `treenets parser-models download --dir {directory}` "
                "(on a machine with network access, then copy the folder)")
    train = f"train small ones with `treenets parser-models bootstrap --out {directory}`"
    if kind == "official":
        return download
    if kind == "bootstrap":
        return train
    return f"{download}, or {train}"


def download_official(directory: str | os.PathLike, package: str = "default") -> dict[str, str]:
    """``stanza.download`` of the English parsing models into ``directory`` (the one step that
    needs the network); returns the checked paths."""
    import requests
    import stanza

    directory = Path(directory)
    try:
        stanza.download(LANG, model_dir=str(directory), package=package,
                        processors=OFFICIAL_PROCESSORS, logging_level="WARN")
    except (requests.exceptions.RequestException, OSError) as err:
        raise InputError(f"stanza.download into {directory} failed (network?): {err}") from None
    return model_paths(directory, pretokenized=False, package=package)
