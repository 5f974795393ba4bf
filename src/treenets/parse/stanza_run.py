"""Parse every distinct sentence of a dataset once with one Stanza Pipeline, through a cache.

:func:`parse_rows` takes the dataset's sentences as :class:`SentenceRow` (the text and where it
comes from, for error messages), looks each distinct sentence up in a cache store keyed by the
parser's fingerprint (the model files' checksums and the tokenization mode), parses the rest in
large batches and writes the dataset's own :class:`~treenets.parse.store.ParseStore`.

A sentence the parser cannot handle (empty, or its parse does not cover its tokens) is an
:class:`InputError` naming its row: the run fails rather than drop a pair.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from treenets.errors import InputError
from treenets.files import atomic_write, sha256_file
from treenets.parse.models_dir import LANG, layout, model_paths, pipeline_options
from treenets.parse.store import ParsedSentence, ParseStore, normalise, sentence_key
from treenets.trees import Tree, binarize

DEFAULT_BATCH = 1000  # sentences per Pipeline call
MAX_LISTED_ERRORS = 5


@dataclass(frozen=True)
class SentenceRow:
    text: str
    where: str  # e.g. "data/raw/sick/SICK_train.txt: pair 17, sentence A"


@dataclass(frozen=True)
class ParseStats:
    sentences: int  # distinct sentences of the dataset
    from_cache: int
    parsed: int
    load_seconds: float  # building the Pipeline (0 when everything came from the cache)
    parse_seconds: float

    @property
    def sentences_per_second(self) -> float:
        return self.parsed / self.parse_seconds if self.parse_seconds else 0.0

    def summary(self) -> str:
        line = f"{self.sentences} distinct sentences: {self.from_cache} from the cache, {self.parsed} parsed"
        if self.parsed:
            line += (f" in {self.parse_seconds:.1f} s ({self.sentences_per_second:.0f} sentences/s; "
                     f"loading the models took {self.load_seconds:.1f} s)")
        return line


def pretokenized_tokens(text: str) -> list[str]:
    """Tokens of pretokenized text: split at ASCII whitespace only (SST tokens hold U+00A0)."""
    return normalise(text).split(" ")


def word_splitter(models: str | os.PathLike, pretokenized: bool = True) -> Callable[[str], list[str]] | None:
    """What splits a sentence into the parser's words: spaces (pretokenized text), the PTB tokenizer
    (raw text for bootstrap models, which have no tokenizer), or None: Stanza's own tokenizer (raw text
    for official models)."""
    if pretokenized:
        return pretokenized_tokens
    if layout(models) == "bootstrap":
        from treenets.parse.tokenize import ptb_tokens

        return ptb_tokens
    return None


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def build_pipeline(models: str | os.PathLike, pretokenized: bool = True, device: str = "auto",
                   package: str = "default"):
    """One Stanza Pipeline (tokenize, pos, [lemma,] depparse, constituency) over checked model files;
    it reads words (``pretokenized``, also raw text split by :func:`word_splitter`) or raw text."""
    import stanza

    pretokenized = word_splitter(models, pretokenized) is not None
    return stanza.Pipeline(
        lang=LANG, dir=str(models), download_method=None, allow_unknown_language=True,
        device=resolve_device(device), tokenize_pretokenized=pretokenized, tokenize_no_ssplit=True,
        logging_level="WARN", **pipeline_options(models, pretokenized, package),
    )


def parser_fingerprint(models: str | os.PathLike, pretokenized: bool = True, package: str = "default") -> str:
    """What a cached parse depends on: the model files' contents and the tokenization mode."""
    splitter = word_splitter(models, pretokenized)
    mode = f"pretokenized={pretokenized}" + ("" if splitter in (None, pretokenized_tokens) else f" {splitter.__name__}")
    digest = hashlib.sha256(mode.encode())
    for path in sorted(set(model_paths(models, pretokenized, package).values())):
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()[:16]


def from_stanza(text: str, sentence) -> ParsedSentence:
    """Our record of one parsed Stanza sentence: words, dependency heads, binarized constituency."""
    tokens = [word.text for word in sentence.words]
    constituency = constituency_tree(sentence.constituency)
    if list(constituency.tokens) != tokens:
        raise InputError(f"the constituency tree's leaves {list(constituency.tokens)} differ from the words {tokens}")
    return ParsedSentence(
        text=text,
        tokens=tokens,
        heads=[word.head for word in sentence.words],
        deprels=[word.deprel for word in sentence.words],
        cparents=constituency.to_parents(),
    )


def constituency_tree(stanza_tree) -> Tree:
    """A Stanza constituency tree, binarized with unary chains collapsed (POS nodes become tokens)."""
    import nltk

    def convert(node):
        if node.is_leaf():
            return node.label
        return nltk.Tree(node.label, [convert(child) for child in node.children])

    return binarize(Tree.from_nltk(convert(stanza_tree)))


def parse_texts(pipeline, texts: Sequence[str], split_words: Callable[[str], list[str]] | None
                ) -> list[ParsedSentence | InputError]:
    """Parse ``texts`` in one Pipeline call, split into words by ``split_words`` (None: by Stanza);
    where the call fails, one at a time to find the culprit."""
    try:
        return _parse_batch(pipeline, texts, split_words)
    except Exception as err:  # noqa: BLE001 - any stanza failure: retry one by one to name the sentence
        if len(texts) == 1:
            return [InputError(f"stanza failed: {type(err).__name__}: {err}")]
    return [result for text in texts for result in parse_texts(pipeline, [text], split_words)]


def _parse_batch(pipeline, texts: Sequence[str], split_words) -> list[ParsedSentence | InputError]:
    if split_words is not None:
        wanted = [split_words(text) for text in texts]
        document = pipeline(wanted)
    else:  # one sentence per paragraph: tokenize_no_ssplit keeps each as one sentence
        wanted = None
        document = pipeline("\n\n".join(normalise(text) for text in texts))
    if len(document.sentences) != len(texts):
        raise RuntimeError(f"{len(texts)} sentences in, {len(document.sentences)} out")
    results: list[ParsedSentence | InputError] = []
    for index, (text, sentence) in enumerate(zip(texts, document.sentences)):
        try:
            parsed = from_stanza(text, sentence)
            if wanted is not None and list(parsed.tokens) != wanted[index]:
                raise InputError(f"the parser's words {list(parsed.tokens)} differ from the tokens {wanted[index]}")
            results.append(parsed)
        except InputError as err:
            results.append(err)
    return results


PARSER_RECORD = "parser.json"  # in a parse store: the models and tokenization that made it


def write_parser_record(out: str | os.PathLike, models: str | os.PathLike, pretokenized: bool, package: str) -> None:
    """Record in the store ``out`` how its sentences were parsed, so new sentences (``treenets
    predict``) can be tokenized and parsed the same way."""
    record = {"models": str(Path(models).resolve()), "tokenize": "pretokenized" if pretokenized else "raw",
              "package": package, "fingerprint": parser_fingerprint(models, pretokenized, package)}
    with atomic_write(Path(out) / PARSER_RECORD) as handle:
        json.dump(record, handle, indent=2)
        handle.write("\n")


def read_parser_record(store: str | os.PathLike) -> dict:
    path = Path(store) / PARSER_RECORD
    if not path.is_file():
        raise InputError(f"no {PARSER_RECORD}, which says how its sentences were parsed (a store of existing "
                         "parses, parser.source: treelstm, or one written before stores kept it): pass --models "
                         "(a Stanza models folder) to parse new sentences, or rerun treenets parse for this store", store)
    return json.loads(path.read_text(encoding="utf-8"))


@contextlib.contextmanager
def _locked(directory: Path):
    """Exclusive use of a cache folder (parse jobs of two datasets may share it)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def parse_rows(rows: Iterable[SentenceRow], models: str | os.PathLike, out: str | os.PathLike,
               cache: str | os.PathLike, pretokenized: bool = True, device: str = "auto",
               batch_size: int = DEFAULT_BATCH, package: str = "default") -> ParseStats:
    """Parse the distinct sentences of ``rows`` (cache first) into the store at ``out``."""
    from tqdm import tqdm

    first_row: dict[str, SentenceRow] = {}
    for row in rows:
        if not normalise(row.text):
            raise InputError(f"{row.where}: empty sentence")
        first_row.setdefault(sentence_key(row.text), row)
    cache_dir = Path(cache) / parser_fingerprint(models, pretokenized, package)
    with _locked(cache_dir):
        cached = ParseStore(cache_dir)
    todo = [row.text for row in first_row.values() if row.text not in cached]
    load_seconds = parse_seconds = 0.0
    failures: list[str] = []
    if todo:
        start = time.perf_counter()
        pipeline = build_pipeline(models, pretokenized, device, package)
        split_words = word_splitter(models, pretokenized)
        load_seconds = time.perf_counter() - start
        start = time.perf_counter()
        batches = range(0, len(todo), batch_size)
        for begin in tqdm(batches, desc="parsing", unit="batch", disable=None):
            texts = todo[begin : begin + batch_size]
            for text, result in zip(texts, parse_texts(pipeline, texts, split_words)):
                if isinstance(result, InputError):
                    failures.append(f"{first_row[sentence_key(text)].where}: {result.message}")
                else:
                    cached.add(result)
        parse_seconds = time.perf_counter() - start
        with _locked(cache_dir):  # another job may have added sentences meanwhile: keep them
            merged = ParseStore(cache_dir)
            for parsed in cached:
                merged.add(parsed)
            merged.save()
    if failures:
        listed = "; ".join(failures[:MAX_LISTED_ERRORS])
        more = f" (and {len(failures) - MAX_LISTED_ERRORS} more)" if len(failures) > MAX_LISTED_ERRORS else ""
        raise InputError(f"{len(failures)} sentence(s) could not be parsed: {listed}{more}")
    ParseStore.write(out, (cached.get(row.text) for row in first_row.values()))
    return ParseStats(len(first_row), len(first_row) - len(todo), len(todo), load_seconds, parse_seconds)
