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


_COMMANDS: list = []


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
