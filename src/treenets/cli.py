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
    parser = subparsers.add_parser(
        "report", help="result tables (csv/md/tex) and plots of one dataset's runs",
        description="Tables OUT_DIR/tables/NAME.{csv,md,tex} and plots OUT_DIR/plots/NAME_*.png from finished "
                    "and evaluated run directories: mean (std) over seeds per model, the papers' numbers, and a "
                    "paired bootstrap of the best model against each other one.",
    )

    def labelled(text: str) -> tuple[str, str]:
        label, sep, value = text.partition("=")
        if not sep or not label or not value:
            raise argparse.ArgumentTypeError(f"expected MODEL=VALUE, got {text!r}")
        return label, value

    parser.add_argument("--task", required=True, choices=("relatedness", "sentiment"))
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
    ):
        parser = parts.add_parser(part, help=text, description=text)
        parser.add_argument("--out", required=True, help="the folder the files go to (results/<experiment>/study)")
        parser.add_argument("--config", default=None, help="an experiment YAML; its study: section is read")
        parser.add_argument("--set", dest="overrides", metavar="KEY=VALUE", action="append", default=[],
                            help="override a setting, e.g. study.adding.steps=2000 (repeatable)")
        parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None,
                            help="shorthand for --set study.device=DEVICE")

    def run(args) -> None:
        import importlib
        import logging

        from treenets.study.config import load_study_config
        from treenets.train import resolve_device

        device_override = [f"study.device={args.device}"] if args.device else []
        config = load_study_config(args.config, args.overrides + device_override)
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        module = importlib.import_module(f"treenets.study.{args.part.replace('-', '_')}")
        for path in module.run(config, args.out, resolve_device(config.device)).values():
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

    def run(args) -> None:
        from treenets.config import load_config
        from treenets.train import train

        print(json.dumps(train(load_config(args.config, args.overrides), args.run_dir), indent=2))

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
        from treenets.evaluate import evaluate

        print(json.dumps(evaluate(args.run_dir, args.split), indent=2))

    parser.set_defaults(func=run)


def _add_significance(subparsers) -> None:
    parser = subparsers.add_parser(
        "significance", help="paired bootstrap (and Williams' test for relatedness) between two prediction files",
        description="Is A better than B on the same examples? A paired bootstrap of metric(A) - metric(B) over "
                    "the examples, and for relatedness Williams' test of the two Pearson correlations.",
    )
    parser.add_argument("a", metavar="A.tsv", help="predictions.tsv of run A")
    parser.add_argument("b", metavar="B.tsv", help="predictions.tsv of run B")
    parser.add_argument("--metric", choices=("pearson", "spearman", "mse", "fine", "binary"), default=None,
                        help="default: pearson (relatedness), fine accuracy (sentiment; binary for two-class runs)")
    parser.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: %(default)s)")

    def run(args) -> None:
        from treenets.evaluate import compare

        print(json.dumps(compare(args.a, args.b, args.metric, n_resamples=args.resamples, seed=args.seed), indent=2))

    parser.set_defaults(func=run)


_COMMANDS: list = [_add_fetch, _add_report, _add_study, _add_train, _add_evaluate, _add_significance]


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
