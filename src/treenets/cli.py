"""The ``treenets`` command line: what the Snakemake rules call.

Each subcommand is one ``_add_<name>(subparsers)`` function that declares its arguments and sets
``func`` to a small runner that calls into the library. Bad input surfaces as one line
(``treenets: error: path:line: what is wrong``) and exit code 1; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import sys

from treenets import __version__
from treenets.errors import InputError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="treenets", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"treenets {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in _COMMANDS:
        add(subparsers)
    return parser


# --------------------------------------------------------------------------- subcommands
# (one _add_<name> function per subcommand; register it in _COMMANDS below)


def _add_fetch(subparsers) -> None:
    from treenets.data.fetch import DEFAULT_CACHE, MIRROR_ENV
    from treenets.data.registry import CORPORA

    parser = subparsers.add_parser(
        "fetch", help="download a corpus into the cache (sha256-checked) and print its path",
        description="Fetch a corpus (NAME) or one of its files (NAME:ROLE, e.g. sst:train); print the path.",
        epilog="corpora: " + "; ".join(f"{c.name} ({', '.join(c.files)})" for c in CORPORA.values()),
    )
    parser.add_argument("name", metavar="NAME", help="corpus name, or NAME:ROLE for one file")
    parser.add_argument("--cache", default=DEFAULT_CACHE, help="download cache (default: %(default)s)")
    parser.add_argument("--mirror", default=None,
                        help=f"folder laid out like shared/data, looked in first (default: ${MIRROR_ENV})")

    def run(args) -> None:
        from treenets.data.fetch import fetch

        print(fetch(args.name, args.cache, args.mirror))

    parser.set_defaults(func=run)


def _add_report(subparsers) -> None:
    from treenets.config import TASK_DATASETS

    parser = subparsers.add_parser(
        "report", help="result tables (csv/md/tex) and plots of one dataset's runs",
        description="Tables OUT_DIR/tables/NAME.{csv,md,tex} and plots OUT_DIR/plots/NAME_*.png from finished "
                    "and evaluated run directories: mean (std) over seeds per model, the papers' numbers, and a "
                    "paired bootstrap of the best model against each other one.",
    )

    def labelled(text: str) -> tuple[str, str]:
        label, sep, value = text.rpartition("=")  # the last "=": a grid label may hold some ("lstm (lr=0.1)")
        if not sep or not label or not value:
            raise argparse.ArgumentTypeError(f"expected MODEL=VALUE, got {text!r}")
        return label, value

    parser.add_argument("--task", required=True, choices=tuple(TASK_DATASETS))
    parser.add_argument("--name", required=True, help="the dataset's name in file names and captions (sick, sst)")
    parser.add_argument("--out-dir", required=True, help="the experiment's results folder")
    parser.add_argument("--run", dest="runs", metavar="MODEL=RUN_DIR", type=labelled, action="append", required=True,
                        help="a run of MODEL (repeat: one per model and seed)")
    parser.add_argument("--paper", dest="papers", metavar="MODEL=KEY", type=labelled, action="append", default=[],
                        help="compare MODEL with the published row KEY of treenets.anchors (e.g. tai2015/sick/lstm)")
    parser.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: %(default)s)")

    def run(args) -> None:
        from treenets.report import write_report

        paths = write_report(args.task, args.name, args.runs, args.out_dir, dict(args.papers),
                             n_resamples=args.resamples, seed=args.seed)
        print(paths["table_md"].read_text(encoding="utf-8"))
        for path in paths.values():
            print(path)

    parser.set_defaults(func=run)


def _add_study(subparsers) -> None:
    study = subparsers.add_parser(
        "study", help="gradient-flow and sequence-length study: grad-norms, adding, speed",
        description="The gradient-flow and sequence-length study of the recurrent and tree encoders. Settings: "
                    "the study: section of --config (treenets.study.config), then --set overrides.",
    )
    parts = study.add_subparsers(dest="part", required=True, metavar="PART")
    for part, text in (
        ("grad-norms", "||dL/dh_t|| per step (RNN, LSTM, GRU, IndRNN) and per depth (Tree-LSTM on SST), "
                       "at initialisation and after a short training: grad_norms.{csv,png}"),
        ("adding", "the adding problem for every model and T, with and without clipping: adding.{csv,md,png}"),
        ("speed", "training steps per second against T: speed.{csv,md,png}"),
        ("adding-merge", "one adding-problem table and plot from runs over some lengths each (--runs)"),
    ):
        parser = parts.add_parser(part, help=text, description=text)
        parser.add_argument("--out", required=True, help="the folder the files go to (results/<experiment>/study)")
        parser.add_argument("--config", default=None, help="an experiment YAML; its study: section is read")
        parser.add_argument("--set", dest="overrides", metavar="KEY=VALUE", action="append", default=[],
                            help="override a setting, e.g. study.adding.steps=2000 (repeatable)")
        parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None,
                            help="shorthand for --set study.device=DEVICE")
        if part == "adding-merge":
            parser.add_argument("--runs", nargs="+", required=True, help="folders of `treenets study adding` runs")

    def run(args) -> None:
        import importlib
        import logging

        from treenets.study.config import load_study_config
        from treenets.inference import resolve_device

        device_override = [f"study.device={args.device}"] if args.device else []
        config = load_study_config(args.config, args.overrides + device_override)
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        if args.part == "adding-merge":
            from treenets.study import adding

            paths = adding.merge(config, args.out, args.runs)
        else:
            module = importlib.import_module(f"treenets.study.{args.part.replace('-', '_')}")
            paths = module.run(config, args.out, resolve_device(config.device))
        for path in paths.values():
            print(path)

    study.set_defaults(func=run)


def _add_train(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model from a YAML config; rerun the same command to resume after a kill",
        description="Train the model a YAML config describes into RUN_DIR: config.resolved.yaml, versions.json, "
                    "epochs.jsonl, checkpoint-last.pt (every epoch), best.pt (best dev epoch) and, last, "
                    "training.json. Rerunning the same command continues from the last complete epoch.",
    )
    parser.add_argument("--config", required=True, help="the run's YAML config")
    parser.add_argument("--run-dir", required=True, help="where the run's files go")
    parser.add_argument("--set", dest="overrides", metavar="KEY=VALUE", action="append", default=[],
                        help="override a config value, e.g. training.epochs=3 (repeatable)")
    parser.add_argument("--require-clean-tree", action="store_true",
                        help="refuse to train when the treenets checkout has uncommitted changes")

    def run(args) -> None:
        from treenets.config import load_config
        from treenets.train import train

        config = load_config(args.config, args.overrides)
        print(json.dumps(train(config, args.run_dir, require_clean_tree=args.require_clean_tree), indent=2))

    parser.set_defaults(func=run)


def _add_evaluate(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="score a run's best checkpoint on a split; write metrics and predictions",
        description="Score the best checkpoint of a complete run: RUN_DIR/metrics.json and predictions.tsv "
                    "(and phrases.tsv for sentiment) for the test split, metrics-SPLIT.json etc. for another.",
    )
    parser.add_argument("--run-dir", required=True, help="a run directory written by treenets train")
    parser.add_argument("--split", default="test", choices=("train", "dev", "test"), help="default: %(default)s")

    def run(args) -> None:
        from treenets.inference import evaluate

        print(json.dumps(evaluate(args.run_dir, args.split), indent=2))

    parser.set_defaults(func=run)


def _add_predict(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict", help="a trained run's predictions for new sentences (raw text or the run's data format)",
        description="Score new sentences with the best checkpoint of a complete run: sentence pairs (relatedness, "
                    "entailment) or sentences (sentiment), in the run's dataset format or plain (a two-column TSV A<TAB>B; "
                    "one sentence per line), tokenized and parsed as the run's data was. Writes a TSV of "
                    "predictions (score, or class and class probabilities) and reports unknown words.",
    )
    parser.add_argument("--run-dir", required=True, help="a run directory written by treenets train")
    parser.add_argument("--input", required=True, help="the sentences to score")
    parser.add_argument("--output", default=None, help="the predictions TSV (default: INPUT's stem + "
                                                       ".predictions.tsv, next to it)")
    parser.add_argument("--models", default=None, help="Stanza models folder (default: the one the run's "
                                                       "parses were made with; needed for SST tree runs)")
    parser.add_argument("--device", default="auto", help="the parser's device: auto, cpu, cuda[:N]")
    parser.add_argument("--threads", type=int, default=1, help=THREADS_HELP)

    def run(args) -> None:
        from treenets.predict import predict_file

        _set_threads(args.threads)
        print(json.dumps(predict_file(args.run_dir, args.input, args.output, args.models, args.device), indent=2))

    parser.set_defaults(func=run)


def _add_significance(subparsers) -> None:
    parser = subparsers.add_parser(
        "significance", help="paired bootstrap (and Williams' test for relatedness) between two prediction files",
        description="Is A better than B on the same examples? A paired bootstrap of metric(A) - metric(B) over "
                    "the examples, and for relatedness Williams' test of the two Pearson correlations.",
    )
    parser.add_argument("a", metavar="A.tsv", help="predictions.tsv of run A")
    parser.add_argument("b", metavar="B.tsv", help="predictions.tsv of run B")
    parser.add_argument("--metric", choices=("pearson", "spearman", "mse", "fine", "binary", "accuracy", "macro_f1"),
                        default=None, help="default: pearson (relatedness), fine accuracy (sentiment; binary for "
                                           "two-class runs), accuracy (entailment)")
    parser.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: %(default)s)")

    def run(args) -> None:
        from treenets.tasks import compare

        print(json.dumps(compare(args.a, args.b, args.metric, n_resamples=args.resamples, seed=args.seed), indent=2))

    parser.set_defaults(func=run)


def _add_parse(subparsers) -> None:
    from treenets.parse.stanza_run import DEFAULT_BATCH

    parser = subparsers.add_parser(
        "parse", help="parse a dataset's sentences with Stanza (or import treelstm-format parses) into a parse store",
        description="Parse every distinct sentence of the data section of a run config (the rows training reads: "
                    "same files, same limits) with one Stanza Pipeline (--models), or take each from existing "
                    "parses in stanfordnlp/treelstm format (--treelstm). Writes OUT/sentences.jsonl (see "
                    "treenets.parse.store) and OUT/treelstm/<split>/*.toks/.parents/.cparents/.rels; sentences "
                    "already parsed by the same models come from the cache.",
    )
    parser.add_argument("--config", required=True, help="a run's YAML config (its data section is parsed)")
    parser.add_argument("--set", dest="overrides", metavar="KEY=VALUE", action="append", default=[],
                        help="override a config value, e.g. data.limit.train=100 (repeatable)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--models", help="Stanza models folder (official or bootstrap layout)")
    source.add_argument("--treelstm", metavar="FOLDER|NAME",
                        help="existing parses: a folder of X.txt/.toks/.parents/.rels/.cparents files (any depth), "
                             "or a registry corpus of them (sick-treelstm; fetched into the config's data.cache_dir)")
    parser.add_argument("--out", default=None, help="the parse store folder (default: the config's data.parse_store)")
    parser.add_argument("--cache", default=None, help="sentence cache shared across datasets (default: OUT/../cache)")
    parser.add_argument("--tokenize", choices=("pretokenized", "raw"), default="pretokenized",
                        help="pretokenized: split at spaces; raw: Stanza's tokenizer (official models) or the PTB "
                             "tokenizer of treenets.parse.tokenize (bootstrap models); SST is always pretokenized "
                             "(default: %(default)s)")
    parser.add_argument("--vectors", default=None,
                        help="word vectors whose coverage of the tokens is reported (default: the config's "
                             "embeddings.source)")
    parser.add_argument("--device", default="auto", help="auto (GPU when there is one), cpu, cuda[:N]")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH,
                        help="sentences per Pipeline call (default: %(default)s)")
    parser.add_argument("--package", default="default", help="official models: the Stanza package")
    parser.add_argument("--threads", type=int, default=1, help=THREADS_HELP)

    def run(args) -> None:
        from pathlib import Path

        from treenets.config import load_config
        from treenets.parse.sentences import dataset_sentences, export_treelstm, statistics_line, token_statistics
        from treenets.parse.stanza_run import parse_rows, write_parser_record
        from treenets.parse.store import ParseStore

        _set_threads(args.threads)
        config = load_config(args.config, args.overrides)
        out = Path(args.out or config.data.parse_store or "")
        if not args.out and not config.data.parse_store:
            raise InputError("no output folder: pass --out or set data.parse_store in the config", args.config)
        splits = dataset_sentences(config)
        rows = [row for split in splits for column in split.columns.values() for row in column]
        if args.treelstm:
            from treenets.data.fetch import fetch
            from treenets.data.registry import CORPORA
            from treenets.parse.treelstm import import_treelstm

            folder = fetch(args.treelstm, config.data.cache_dir) if args.treelstm in CORPORA else args.treelstm
            store = import_treelstm(rows, folder, out)
            print(f"{len(store)} distinct sentences from the treelstm parses in {folder}")
        else:
            pretokenized = args.tokenize == "pretokenized" or config.data.dataset == "sst"
            write_parser_record(out, args.models, pretokenized, args.package)
            stats = parse_rows(rows, args.models, out, args.cache or out.parent / "cache", pretokenized=pretokenized,
                               device=args.device, batch_size=args.batch_size, package=args.package)
            print(stats.summary())
        vectors = args.vectors or config.embeddings.source
        print(statistics_line(token_statistics(ParseStore(out), vectors), vectors))
        print(export_treelstm(ParseStore(out), splits, out))

    parser.set_defaults(func=run)


def _add_parser_models(subparsers) -> None:
    from treenets.parse.bootstrap import BUDGETS
    from treenets.parse.models_dir import DEFAULT_DIR

    parser = subparsers.add_parser(
        "parser-models", help="get Stanza models: download official ones, train small ones here, or check a folder",
        description="Model folders for `treenets parse`. download: stanza.download (the only step that needs the "
                    "network); bootstrap: train POS, dependency and constituency models from UD English LinES and "
                    "the PTB sample over GloVe vectors (no download, no Java) and score them; check: verify that a "
                    "folder has every file a parse needs.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    download = actions.add_parser("download", help="stanza.download the English parsing models")
    download.add_argument("--dir", default=DEFAULT_DIR, help="models folder (default: %(default)s)")
    download.add_argument("--package", default="default", help="Stanza package (default: %(default)s)")

    def run_download(args) -> None:
        from treenets.parse.models_dir import download_official

        for key, path in download_official(args.dir, args.package).items():
            print(f"{key}: {path}")

    download.set_defaults(func=run_download)

    check = actions.add_parser("check", help="check that a models folder has every file a parse needs")
    check.add_argument("--dir", default=DEFAULT_DIR, help="models folder (default: %(default)s)")
    check.add_argument("--tokenize", choices=("pretokenized", "raw"), default="pretokenized")
    check.add_argument("--package", default="default")

    def run_check(args) -> None:
        from treenets.parse.models_dir import model_paths

        for key, path in model_paths(args.dir, args.tokenize == "pretokenized", args.package).items():
            print(f"{key}: {path}")

    check.set_defaults(func=run_check)

    boot = actions.add_parser("bootstrap", help="train small Stanza models here and report their scores")
    boot.add_argument("--out", required=True, help="models folder to create (replaced when training succeeds)")
    boot.add_argument("--budget", choices=tuple(BUDGETS), default="demo",
                      help="tiny: seconds (tests); demo: a few minutes; full: all data (default: %(default)s)")
    boot.add_argument("--data-cache", default="data/raw",
                      help="corpora cache for treenets fetch (TREENETS_DATA_MIRROR first; default: %(default)s)")
    boot.add_argument("--vectors", default="glove-6b-50d",
                      help="word vectors: glove-6b-50d (the kumo package) or a GloVe text file (default: %(default)s)")
    boot.add_argument("--device", default="cpu", help="cpu, cuda[:N] or auto (default: %(default)s)")
    boot.add_argument("--seed", type=int, default=1)
    boot.add_argument("--threads", type=int, default=1, help=THREADS_HELP)
    boot.add_argument("--metrics", default=None, help="also write the metrics JSON here")
    boot.add_argument("--verbose", action="store_true", help="show Stanza's training log")

    def run_bootstrap(args) -> None:
        from treenets.files import atomic_write
        from treenets.parse.bootstrap import bootstrap, fetch_sources

        _set_threads(args.threads)
        metrics = bootstrap(args.out, fetch_sources(args.data_cache, args.vectors), args.budget, args.device,
                            args.seed, args.verbose)
        for split in ("dev", "test"):
            dep, const = metrics["dependency"][split], metrics["constituency"][split]
            print(f"{split}: UPOS {dep['upos']:.1f}  UAS {dep['uas']:.1f}  LAS {dep['las']:.1f}  "
                  f"bracket F1 {const['f1']:.1f}")
        print(f"training and scoring took {sum(metrics['seconds'].values()):.0f} s; models in {args.out}")
        if args.metrics:
            with atomic_write(args.metrics) as handle:
                json.dump(metrics, handle, indent=2)
                handle.write("\n")

    boot.set_defaults(func=run_bootstrap)


# Stanza's small LSTMs gain little from more threads, and two threads on two shared cores ran the
# tagger 10x slower (OpenMP threads waiting on each other): one thread unless asked.
THREADS_HELP = "torch CPU threads (default: %(default)s)"


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


_COMMANDS: list = [_add_fetch, _add_report, _add_study, _add_train, _add_evaluate, _add_predict, _add_significance,
                   _add_parse, _add_parser_models]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as err:
        if args.debug:
            raise
        print(f"treenets: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("treenets: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
