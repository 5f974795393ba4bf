"""Train small Stanza parsers here, with no download and no Java.

From a UD CoNLL-U treebank (default UD English LinES) a POS tagger and a dependency parser, from
bracketed trees (default NLTK's PTB sample, files 1-159 train, 160-179 dev, 180-199 test) a
constituency parser, all over a word-vector pretrain built from the configured embeddings (GloVe
6B-50d by default). The result is a models folder in the *bootstrap* layout of
:mod:`treenets.parse.models_dir`, whose ``bootstrap.json`` records the budget, the training times
and the scores on held-out data: UPOS accuracy, UAS/LAS (CoNLL 2018 scorer, predicted tags) on
the treebank's dev and test files, labeled bracket F1 (:mod:`treenets.parse.bracket_f1`) on the
held-out PTB files.

Two offline fixes to Stanza's constituency training, both in :func:`train_constituency`: trees
are retagged with the POS model trained here (UPOS, which is what the tagger gives at parse time;
LinES XPOS is a tagset of its own and blank on a fifth of the words) instead of a downloaded
tagger, and dev scoring uses the Python bracket F1 in place of CoreNLP's EVALB.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from treenets.errors import InputError
from treenets.files import atomic_write
from treenets.parse.models_dir import BOOTSTRAP_FILES, BOOTSTRAP_MARKER, RESOURCES

PTB_SPLITS = {"train": range(1, 160), "dev": range(160, 180), "test": range(180, 200)}
PTB_MEMBER = "treebank/combined/wsj_{:04d}.mrg"
SHORTHAND = "en_bootstrap"


@dataclass(frozen=True)
class Budget:
    """How much data and how many updates: ``tiny`` (tests, seconds), ``demo`` (a few minutes on
    two cores), ``full`` (all of the data, for real experiments)."""

    ud_train: int | None  # treebank training sentences, evenly spaced (None: all)
    ptb_train: int | None  # PTB training trees, evenly spaced (None: all of files 1-159)
    tune: int  # dev sentences / trees that pick the best checkpoint while training
    evaluate: int | None  # dev and test sentences / trees scored at the end (None: all)
    pos_steps: int
    depparse_steps: int
    constituency_epochs: int
    hidden: int  # LSTM width of each model
    pretrain_words: int  # the most frequent words of the embeddings


BUDGETS = {
    "tiny": Budget(ud_train=200, ptb_train=200, tune=20, evaluate=40, pos_steps=15, depparse_steps=15,
                   constituency_epochs=1, hidden=16, pretrain_words=5000),
    "demo": Budget(ud_train=1500, ptb_train=1000, tune=200, evaluate=400, pos_steps=150, depparse_steps=150,
                   constituency_epochs=3, hidden=64, pretrain_words=100000),
    "full": Budget(ud_train=None, ptb_train=None, tune=500, evaluate=None, pos_steps=1500, depparse_steps=1500,
                   constituency_epochs=10, hidden=128, pretrain_words=100000),
}
# Short schedules: a higher learning rate and less dropout than Stanza's defaults (tuned for 50k
# steps) take the tagger from 61 to 90% UPOS at 150 steps on LinES; the parser learns faster with
# the lower dropout too, and needs no character model next to the tagger's tags.
POS_OPTIONS = ["--lr", "0.01", "--dropout", "0.2", "--word_dropout", "0.1"]
DEPPARSE_OPTIONS = ["--dropout", "0.2", "--word_dropout", "0.1", "--no_char"]
# LinES XPOS is a tagset of its own; tagger and parser learn and use UPOS (and relations) only.
BLANKED_COLUMNS = ("xpos", "feats")


@dataclass(frozen=True)
class Sources:
    """Where the training data and the vectors come from."""

    ud: dict[str, Path]  # train/dev/test CoNLL-U files
    ptb_zip: Path  # NLTK's treebank.zip
    vectors: str = "glove-6b-50d"  # an embeddings source of treenets.embeddings


def fetch_sources(cache_dir: str | os.PathLike = "data/raw", vectors: str = "glove-6b-50d") -> Sources:
    """The default corpora through :func:`treenets.data.fetch.fetch` (the data mirror first)."""
    from treenets.data.fetch import fetch

    ud = {split: fetch(f"ud-english-lines:{split}", cache_dir) for split in ("train", "dev", "test")}
    return Sources(ud=ud, ptb_zip=fetch("ptb-sample:treebank", cache_dir), vectors=vectors)


# --------------------------------------------------------------------------- data preparation
def build_pretrain(source: str, path: Path, words: int) -> int:
    """A Stanza pretrain file of the ``words`` first (most frequent) words of ``source``."""
    import numpy as np
    import torch
    from stanza.models.common.pretrain import Pretrain, PretrainedWordVocab
    from stanza.models.common.vocab import VOCAB_PREFIX

    from treenets.embeddings import load_vectors

    vectors, dim = load_vectors(source)
    chosen = [word for word in vectors if " " not in word][:words]  # stanza reads words up to a space
    if not chosen:
        raise InputError(f"no word vectors in {source}")
    matrix = np.stack([vectors[word] for word in chosen]).astype(np.float32)
    pretrain = Pretrain(str(path), save_to_file=False)
    pretrain._vocab = PretrainedWordVocab(chosen)  # Stanza has no public setter; this is how it loads
    pretrain._emb = torch.cat([torch.zeros(len(VOCAB_PREFIX), dim), torch.from_numpy(matrix)])
    pretrain.save(str(path))
    return len(chosen)


def write_conllu_subset(source: Path, target: Path, limit: int | None, blank: tuple[str, ...] = ()) -> int:
    """``limit`` evenly spaced sentences of a CoNLL-U file (all if None), the ``blank`` columns
    emptied (``_``); returns how many."""
    import conllu

    from treenets.splits import spread
    from treenets.trees import read_utf8

    try:
        sentences = conllu.parse(read_utf8(source))
    except conllu.exceptions.ParseException as err:
        raise InputError(f"not CoNLL-U: {err}", source) from None
    chosen = [sentences[i] for i in spread(len(sentences), limit)]
    for sentence in chosen:
        for word in sentence:
            word.update(dict.fromkeys(blank))
    target.write_text("".join(sentence.serialize() for sentence in chosen), encoding="utf-8")
    return len(chosen)


def ptb_trees(zip_path: Path, files: range) -> list:
    """Stanza trees of the PTB sample's files, traces and function tags removed (as Stanza trains)."""
    from stanza.models.constituency import tree_reader

    trees = []
    try:
        with zipfile.ZipFile(zip_path) as archive:
            for number in files:
                text = archive.read(PTB_MEMBER.format(number)).decode("utf-8")
                trees.extend(tree.prune_none().simplify_labels() for tree in tree_reader.read_trees(text, use_tqdm=False))
    except (zipfile.BadZipFile, KeyError) as err:
        raise InputError(f"not NLTK's PTB sample treebank.zip: {err}", zip_path) from None
    return trees


def write_trees(trees: list, target: Path, limit: int | None = None, labels: set[str] | None = None) -> list:
    """Write ``limit`` evenly spaced trees (all if None) and return them; with ``labels``, only
    trees whose phrase labels are all among them (Stanza refuses a dev tree with a label that
    training never saw)."""
    from treenets.splits import spread

    chosen = [trees[i] for i in spread(len(trees), limit)]
    if labels is not None:
        chosen = [tree for tree in chosen if phrase_labels([tree]) <= labels]
    target.write_text("".join(f"{tree}\n" for tree in chosen), encoding="utf-8")
    return chosen


def phrase_labels(trees: list) -> set[str]:
    from stanza.models.constituency.parse_tree import Tree as StanzaTree

    return set(StanzaTree.get_unique_constituent_labels(trees))


# --------------------------------------------------------------------------- training
def _lstm_sizes(budget: Budget, word_emb_dim: int = 50) -> list[str]:
    width = str(budget.hidden)
    return ["--hidden_dim", width, "--char_hidden_dim", width, "--deep_biaff_hidden_dim", width,
            "--word_emb_dim", str(word_emb_dim), "--tag_emb_dim", "20", "--transformed_dim", width]


def _ud_training_args(work: Path, model: str, steps: int, device: str, seed: int) -> list[str]:
    """Arguments shared by Stanza's tagger and dependency parser trainers (``model``: pos, depparse)."""
    return [
        "--mode", "train", "--lang", "en", "--shorthand", SHORTHAND,
        "--train_file", str(work / "ud-train.conllu"), "--eval_file", str(work / "ud-tune.conllu"),
        "--wordvec_pretrain_file", str(work / BOOTSTRAP_FILES[f"{model}_pretrain_path"]),
        "--save_dir", str(work), "--save_name", BOOTSTRAP_FILES[f"{model}_model_path"],
        "--max_steps", str(steps), "--eval_interval", str(max(steps // 5, 10)), "--max_steps_before_stop", str(steps),
        "--device", device, "--seed", str(seed),
    ]


def train_pos(work: Path, budget: Budget, device: str, seed: int) -> None:
    from stanza.models import tagger

    # --share_hid: plain linear XPOS/feature classifiers; the biaffine ones' backward
    # (torch's _trilinear) is pathologically slow on CPU.
    tagger.main([*_ud_training_args(work, "pos", budget.pos_steps, device, seed),
                 "--share_hid", "--batch_size", "32", *POS_OPTIONS, *_lstm_sizes(budget)])


def train_depparse(work: Path, budget: Budget, device: str, seed: int) -> None:
    from stanza.models import parser

    # word_emb_dim 0: no trained word (and lemma) embeddings, so parsing needs no lemmatizer;
    # words come in through the pretrain and the character model. batch_size counts words here.
    parser.main([*_ud_training_args(work, "depparse", budget.depparse_steps, device, seed),
                 "--no_checkpoint", "--batch_size", "1000", "--num_layers", "2", *DEPPARSE_OPTIONS,
                 *_lstm_sizes(budget, word_emb_dim=0)])


def train_constituency(work: Path, budget: Budget, device: str, seed: int) -> None:
    import stanza
    from stanza.models import constituency_parser
    from stanza.models.common import utils as stanza_utils
    from stanza.models.common.foundation_cache import FoundationCache
    from stanza.models.constituency import parser_training

    from treenets.parse.bracket_f1 import PythonEvaluateParser

    args = constituency_parser.parse_args([
        "--mode", "train", "--lang", "en", "--shorthand", SHORTHAND, "--no_checkpoint",
        "--train_file", str(work / "ptb-train.mrg"), "--eval_file", str(work / "ptb-tune.mrg"),
        "--wordvec_pretrain_file", str(work / BOOTSTRAP_FILES["constituency_pretrain_path"]),
        "--save_dir", str(work), "--save_name", BOOTSTRAP_FILES["constituency_model_path"],
        "--retag_method", "upos", "--epochs", str(budget.constituency_epochs), "--epoch_size", "0",
        "--no_multistage", "--lattn_d_proj", "0", "--pattn_num_layers", "0", "--num_lstm_layers", "1",
        "--hidden_size", str(budget.hidden), "--delta_embedding_dim", str(budget.hidden // 2),
        "--device", device, "--seed", str(seed),
    ])
    stanza_utils.set_random_seed(args["seed"])
    # The trees are retagged by our tagger (Stanza would download one) ...
    retagger = stanza.Pipeline(
        lang="en", dir=str(work), processors="tokenize,pos", tokenize_pretokenized=True,
        download_method=None, allow_unknown_language=True, device=device, logging_level="WARN",
        foundation_cache=FoundationCache(),
        pos_model_path=str(work / BOOTSTRAP_FILES["pos_model_path"]),
        pos_pretrain_path=str(work / BOOTSTRAP_FILES["pos_pretrain_path"]),
    )
    # ... and scored on dev by Python instead of CoreNLP's Java EVALB.
    java_evaluator = parser_training.EvaluateParser
    parser_training.EvaluateParser = PythonEvaluateParser
    try:
        parser_training.train(args, args["save_name"], [retagger])
    finally:
        parser_training.EvaluateParser = java_evaluator


# --------------------------------------------------------------------------- evaluation
def evaluate_dependencies(pipeline, gold_conllu: Path, predicted_conllu: Path) -> dict[str, float]:
    """UPOS, UAS and LAS (F1 of the CoNLL 2018 scorer) of the pipeline's tags and trees."""
    from stanza.models.common.utils import ud_scores
    from stanza.utils.conll import CoNLL

    gold = CoNLL.conll2doc(input_file=str(gold_conllu))
    words = [[word.text for word in sentence.words] for sentence in gold.sentences]
    predicted = pipeline.process(words, processors="tokenize,pos,depparse")
    CoNLL.write_doc2conll(predicted, str(predicted_conllu))
    scores = ud_scores(str(gold_conllu), str(predicted_conllu))
    return {metric.lower(): round(100 * scores[metric].f1, 2) for metric in ("UPOS", "UAS", "LAS")}


def evaluate_constituency(pipeline, gold_trees: list) -> dict[str, float]:
    """Labeled bracket precision, recall and F1 of the pipeline's trees (predicted tags)."""
    from treenets.parse.bracket_f1 import corpus_score

    words = [list(tree.leaf_labels()) for tree in gold_trees]
    predicted = pipeline.process(words, processors="tokenize,pos,constituency")
    score = corpus_score(zip(gold_trees, (sentence.constituency for sentence in predicted.sentences)))
    return {"precision": round(100 * score.precision, 2), "recall": round(100 * score.recall, 2),
            "f1": round(100 * score.f1, 2)}


# --------------------------------------------------------------------------- the whole run
def bootstrap(out: str | os.PathLike, sources: Sources, budget_name: str = "demo", device: str = "cpu",
              seed: int = 1, verbose: bool = False, log=print) -> dict:
    """Train the three models into ``out`` (replaced only once everything succeeded); returns the
    metrics that ``out/bootstrap.json`` records."""
    from treenets.splits import spread
    from treenets.parse.stanza_run import build_pipeline, resolve_device

    if budget_name not in BUDGETS:
        raise InputError(f"unknown training budget {budget_name!r} (choose one of {', '.join(BUDGETS)})")
    budget, device = BUDGETS[budget_name], resolve_device(device)
    import stanza.models.constituency_parser
    import stanza.models.parser
    import stanza.models.tagger  # noqa: F401 - importing them sets stanza's log level to DEBUG; reset it below

    out = Path(out)
    work = out.parent / f".{out.name}.partial"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    stanza_logger = logging.getLogger("stanza")
    previous_level = stanza_logger.level
    stanza_logger.setLevel(logging.INFO if verbose else logging.WARNING)
    seconds: dict[str, float] = {}

    def timed(name: str, step, *args):
        start = time.perf_counter()
        result = step(*args)
        seconds[name] = round(time.perf_counter() - start, 1)
        log(f"bootstrap: {name} done in {seconds[name]:.1f} s")
        return result

    try:
        (work / RESOURCES).write_text("{}\n")  # Stanza reads it even when every path is given
        words = timed("pretrain", build_pretrain, sources.vectors, work / BOOTSTRAP_FILES["pos_pretrain_path"],
                      budget.pretrain_words)
        sizes = {
            "pretrain_words": words,
            "ud_train": write_conllu_subset(sources.ud["train"], work / "ud-train.conllu", budget.ud_train,
                                            BLANKED_COLUMNS),
            "ud_tune": write_conllu_subset(sources.ud["dev"], work / "ud-tune.conllu", budget.tune, BLANKED_COLUMNS),
        }
        for split in ("dev", "test"):
            sizes[f"ud_{split}"] = write_conllu_subset(sources.ud[split], work / f"ud-{split}.conllu", budget.evaluate)
        ptb = {split: ptb_trees(sources.ptb_zip, files) for split, files in PTB_SPLITS.items()}
        train_trees = write_trees(ptb["train"], work / "ptb-train.mrg", budget.ptb_train)
        tune_trees = write_trees(ptb["dev"], work / "ptb-tune.mrg", budget.tune, phrase_labels(train_trees))
        sizes.update(ptb_train=len(train_trees), ptb_tune=len(tune_trees))
        timed("pos", train_pos, work, budget, device, seed)
        timed("depparse", train_depparse, work, budget, device, seed)
        timed("constituency", train_constituency, work, budget, device, seed)
        (work / BOOTSTRAP_MARKER).write_text("{}\n")  # a complete folder from here on
        pipeline = build_pipeline(work, pretokenized=True, device=device)
        scores: dict[str, dict] = {"dependency": {}, "constituency": {}}
        for split in ("dev", "test"):
            gold = work / f"ud-{split}.conllu"
            scores["dependency"][split] = timed(f"evaluate dependency {split}", evaluate_dependencies,
                                                pipeline, gold, work / f"ud-{split}.predicted.conllu")
            trees = [ptb[split][i] for i in spread(len(ptb[split]), budget.evaluate)]
            sizes[f"ptb_{split}"] = len(trees)
            scores["constituency"][split] = timed(f"evaluate constituency {split}", evaluate_constituency,
                                                  pipeline, trees)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        stanza_logger.setLevel(previous_level)
    metrics = {"budget": budget_name, "settings": asdict(budget), "seed": seed, "device": device,
               "sources": {"ud": {k: str(v) for k, v in sources.ud.items()}, "ptb": str(sources.ptb_zip),
                           "vectors": sources.vectors},
               "sizes": sizes, "seconds": seconds, **scores}
    with atomic_write(work / BOOTSTRAP_MARKER) as handle:
        json.dump(metrics, handle, indent=2)
        handle.write("\n")
    for scratch in [*work.glob("*.conllu"), *work.glob("*.mrg")]:  # training data, not models
        scratch.unlink()
    _replace_dir(work, out)
    return metrics


def _replace_dir(new: Path, target: Path) -> None:
    """Put the finished folder ``new`` at ``target``, removing an older one only after the move."""
    old = target.parent / f".{target.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)
