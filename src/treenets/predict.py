"""Predictions of a trained run for new sentences (``treenets predict``).

The input is either in the run's own dataset format (a SICK file, the run's pair TSV with its columns,
SST trees), read exactly as training read its data (gold scores or labels kept), or plain text: a
two-column TSV of sentence pairs (``A<TAB>B`` per line) for relatedness, one sentence per line for
sentiment. Sentences are tokenized and parsed the way the run's were: by the models and tokenization
that the run's parse store records (``parser.json``), through the same sentence cache, so a sentence
of the run's own data gets the very parse it was trained or scored on. A run that read no parses
needs none, except a tree model trained on SST's own trees, which needs ``models`` to parse plain
sentences (raw text: Stanza's tokenizer or the PTB one, as ``treenets parse --tokenize raw``).

The best checkpoint scores them (:func:`treenets.inference.load_best`, :func:`treenets.inference.predict`);
the TSV has one row per input example: id, the sentence(s) as the model read them (tokens joined by
spaces), then the run's task's columns (:meth:`treenets.tasks.base.Task.prediction_columns`: gold when
the input has it, the predicted score or class, and every class's probability).
Tokens missing from the run's vocabulary (they get the unknown word's vector) are counted and reported.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from treenets.config import Config
from treenets.datasets import Example, pair_sentence, tokens_of
from treenets.embeddings import UNK_ID
from treenets.errors import InputError
from treenets.parse.stanza_run import SentenceRow
from treenets.parse.store import ParseStore
from treenets.trees import read_lines

PLAIN = "plain"
DATASET = "dataset"


def default_output(input_path: str | os.PathLike) -> Path:
    return Path(input_path).with_suffix(".predictions.tsv")


def predict_file(run_dir: str | os.PathLike, input_path: str | os.PathLike, output: str | os.PathLike | None = None,
                 models: str | os.PathLike | None = None, device: str = "auto") -> dict:
    """Write the predictions of the run's best checkpoint for the sentences of ``input_path`` to
    ``output`` (default: next to the input, ``<stem>.predictions.tsv``); returns a summary."""
    from treenets.evaluate import write_table
    from treenets.inference import load_best, predict
    from treenets.tasks import Collate, task_for

    config, vocab, model, torch_device = load_best(run_dir)
    task = task_for(config.task)
    input_path = Path(input_path)
    if not input_path.is_file():
        raise InputError("no such input file", input_path)
    kind = input_format(config, input_path)
    with tempfile.TemporaryDirectory(prefix="treenets-predict-") as scratch:
        store_dir = Path(scratch) / "parsed"
        if kind == DATASET:
            input_config = _input_config(config, input_path, store_dir)
            if config.needs_parses:
                from treenets.parse.sentences import dataset_sentences

                rows = [row for split in dataset_sentences(input_config, ["test"])
                        for column in split.columns.values() for row in column]
                _parse(config, rows, store_dir, models, device, raw=False)
            examples = task.load_dataset(input_config, ["test"]).splits["test"]
        else:
            examples = _plain_examples(config, input_path, store_dir, models, device)
        predictions = predict(task, model, examples, Collate(task, config, vocab), config, torch_device)

    table = pd.DataFrame({"id": predictions.ids})
    texts = [[" ".join(tokens_of(sentence)) for sentence in example.inputs] for example in examples]
    for side, column in enumerate(("sentence_a", "sentence_b") if len(examples[0].inputs) == 2 else ("sentence",)):
        table[column] = [sentence[side] for sentence in texts]
    columns = task.prediction_columns(predictions.gold, predictions.predicted)
    if kind != DATASET:  # plain text has no gold
        del columns["gold"]
    for column, values in columns.items():
        table[column] = values
    output = Path(output) if output is not None else default_output(input_path)
    write_table(table, output)
    unknown = unknown_words(examples, vocab)
    summary = {"input": str(input_path), "format": kind, "examples": len(examples), "output": str(output),
               **unknown}
    if unknown["unknown_tokens"]:
        print(f"{unknown['unknown_tokens']} of {unknown['tokens']} tokens are not in the run's vocabulary "
              f"(they read the unknown word's vector), e.g. {', '.join(unknown['unknown_examples'])}", file=sys.stderr)
    return summary


def input_format(config: Config, path: Path) -> str:
    """``dataset`` when the file looks like the run's own data (its header columns, or SST brackets),
    else ``plain``."""
    lines = [line for line in read_lines(path) if line.strip()]
    if not lines:
        raise InputError("no sentences in the input", path)
    if config.data.dataset == "sst":
        return DATASET if lines[0].lstrip().startswith("(") else PLAIN
    spec = config.data.pairs
    if spec is None:  # SICK: a SemEval split file or SICK.txt
        return DATASET if {"sentence_A", "sentence_B"} <= set(lines[0].split("\t")) else PLAIN
    columns = [column for column in (spec.sentence_a, spec.sentence_b, spec.score) if column is not None]
    if spec.header:
        return DATASET if all(column in lines[0].split(spec.delimiter) for column in columns) else PLAIN
    return DATASET if len(lines[0].split(spec.delimiter)) > max(columns) else PLAIN


def _input_config(config: Config, path: Path, store_dir: Path) -> Config:
    """The run's config with the input file as its test split: every row, parses from ``store_dir``."""
    data = config.data
    changes = {"limit": {}, "parse_store": str(store_dir) if config.needs_parses else None}
    if data.pairs is not None:
        files = dict.fromkeys(("train", "dev", "test"), str(path))
        changes["pairs"] = dataclasses.replace(data.pairs, files=files, split_column=None, split_values=None)
    else:
        changes["files"] = {"test": str(path)}
    return dataclasses.replace(config, data=dataclasses.replace(data, **changes))


def _plain_examples(config: Config, path: Path, store_dir: Path, models, device: str) -> list[Example]:
    """Examples of a plain input: ``A<TAB>B`` lines (a run on sentence pairs) or one sentence per line (SST)."""
    from treenets.tasks import task_for

    pairs = config.data.dataset != "sst"
    records = []  # (line number, texts)
    for number, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        texts = tuple(line.split("\t")) if pairs else (line,)
        if pairs and len(texts) != 2:
            raise InputError(f"expected two tab-separated sentences, got {len(texts)} field(s)", path, number)
        for which, text in zip("AB", texts):
            if not text.strip():
                raise InputError(f"sentence {which if len(texts) == 2 else ''} is empty".replace("  ", " "), path, number)
        records.append((number, texts))
    needs_parses = config.needs_parses or (config.model.is_tree and not pairs)
    store = None
    if needs_parses:
        rows = [SentenceRow(text, f"{path}:{number}") for number, texts in records for text in texts]
        _parse(config, rows, store_dir, models, device, raw=not pairs)
        store = ParseStore(store_dir)
    if pairs:
        sentence = pair_sentence(config, store)
        unknown = task_for(config.task).unknown_target
        return [Example(str(number), tuple(sentence(text) for text in texts), unknown) for number, texts in records]
    examples = []
    for number, (text,) in records:
        if store is None:  # a sequence model: SST's own (PTB) tokenization
            from treenets.parse.tokenize import ptb_tokens

            examples.append(Example(str(number), (tuple(ptb_tokens(text)),), -1))
            continue
        parsed = store.get(text)
        tree = parsed.dependency_tree() if config.data.tree == "dependency" else parsed.constituency_tree()
        tree = dataclasses.replace(tree, labels=(-1,) * tree.num_nodes)
        examples.append(Example(str(number), (tree,), tree.labels))
    return examples


def _parse(config: Config, rows: list[SentenceRow], store_dir: Path, models, device: str, raw: bool) -> None:
    """Parse ``rows`` into ``store_dir`` with the parser and tokenization of the run's parse store
    (through its sentence cache), or with ``models`` for a run that has none; ``raw``: plain SST
    sentences, which are tokenized (SST's data came tokenized) as ``treenets parse --tokenize raw``."""
    from treenets.parse.stanza_run import PARSER_RECORD, parse_rows, parser_fingerprint, read_parser_record

    # A store without a parser record holds parses made elsewhere (parser.source: treelstm) or before
    # stores kept one: new sentences then need models named on the command line.
    store = config.data.parse_store
    if store is not None and (models is None or (Path(store) / PARSER_RECORD).is_file()):
        record = read_parser_record(store)
        cache = Path(store).parent / "cache"
        if models is None and parser_fingerprint(record["models"], record["tokenize"] == "pretokenized",
                                                 record["package"]) != record["fingerprint"]:
            raise InputError("these models changed since the run's sentences were parsed with them (pass --models "
                             "to parse with other ones anyway)", record["models"])
        models = models or record["models"]
        pretokenized, package = record["tokenize"] == "pretokenized" and not raw, record["package"]
    else:
        if models is None:
            raise InputError("this run read SST's own trees, so new sentences need a parser: pass --models "
                             "(a Stanza models folder, as for treenets parse)")
        cache, pretokenized, package = store_dir.parent / "cache", not raw, "default"
    parse_rows(rows, models, store_dir, cache, pretokenized=pretokenized, device=device, package=package)


def unknown_words(examples: list[Example], vocab) -> dict:
    tokens = [token for example in examples for sentence in example.inputs for token in tokens_of(sentence)]
    ids = np.array(vocab.encode(tokens))
    unknown = [token for token, index in zip(tokens, ids) if index == UNK_ID]
    return {"tokens": len(tokens), "unknown_tokens": len(unknown),
            "unknown_examples": list(dict.fromkeys(unknown))[:10]}
