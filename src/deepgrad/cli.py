"""The ``deepgrad`` command (also ``python -m deepgrad``).

Subcommands:
    deepgrad info    the version, backend, NumPy and its BLAS, Python, platform, CPUs

Each subcommand is a function ``_cmd_<name>(args) -> int`` registered in
``build_parser``; later subcommands (train, recipes, playground) plug in the
same way.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence


def _cmd_info(args: argparse.Namespace) -> int:
    from deepgrad.info import collect, format_info

    info = collect()
    if args.json:
        import json

        print(json.dumps(info, indent=2))
    else:
        print(format_info(info))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subparser per subcommand."""
    from deepgrad import __version__

    parser = argparse.ArgumentParser(
        prog="deepgrad",
        description="deepgrad: a deep learning system you can read end to end, built on NumPy.",
    )
    parser.add_argument("--version", action="version", version=f"deepgrad {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    info = sub.add_parser(
        "info", help="print the version, backend, NumPy and its BLAS, Python and platform",
        description="Print what deepgrad runs on (useful in a bug report).",
    )
    info.add_argument("--json", action="store_true", help="print the fields as JSON")
    info.set_defaults(handler=_cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deepgrad`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    return int(handler(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
