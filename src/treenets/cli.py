"""The ``treenets`` command line: what the Snakemake rules call.

Each subcommand is one ``_add_<name>(subparsers)`` function that declares its arguments and sets
``func`` to a small runner that calls into the library. Bad input surfaces as one line
(``treenets: error: path:line: what is wrong``) and exit code 1; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
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


_COMMANDS: list = [_add_fetch, _add_report]


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
