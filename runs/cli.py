"""The ``defcoord`` command line (the same as ``python -m runs``).

Errors in what the user gave (bad arguments, invalid games or configs) print one line
on stderr and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sim.errors import SimError
from sim.generators import GENERATORS


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"defcoord: error: {message}\n")


def _cmd_list(args: argparse.Namespace) -> int:
    for kind, registry in (("generators", GENERATORS),):
        print(f"{kind}:")
        for name, info in registry.describe().items():
            params = ", ".join(f"{k}={v!r}" for k, v in info["params"].items())
            print(f"  {name:<16} {info['summary']}")
            print(f"  {'':<16} params: {params}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from runs.demo import demo_lines

    print("\n".join(demo_lines()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; every option is documented in ``--help``."""
    parser = _Parser(
        prog="defcoord",
        description="Defense coordination in multi-defender security games "
        "(Gan, Elkind, Kraus, Wooldridge, AAMAS 2020).",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="list the registered game generators with their parameters")
    sub.add_parser("demo", help="print a comparison on the paper's example games")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``defcoord``; returns the exit status."""
    args = build_parser().parse_args(argv)
    handlers = {"list": _cmd_list, "demo": _cmd_demo}
    try:
        return handlers[args.command](args)
    except SimError as exc:
        print(f"defcoord: error: {exc}", file=sys.stderr)
        return 2
