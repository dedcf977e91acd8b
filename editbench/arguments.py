"""Command-line argument types and options shared by the tools that read finished runs
(compare, leaderboard, agreement)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from editbench.results.tracking import DEFAULT_TRACKING_URI


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer no smaller than ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text}")
        return value

    return parse


def add_bootstrap_options(parser: argparse.ArgumentParser, resamples: int, note: str = "") -> None:
    """``--seed`` and ``--bootstrap`` (``resamples`` by default); ``note`` follows the
    latter's help."""
    parser.add_argument(
        "--seed", type=int, default=0, metavar="N", help="bootstrap seed (default: %(default)s)"
    )
    parser.add_argument(
        "--bootstrap",
        type=at_least(1),
        metavar="N",
        default=resamples,
        help=f"bootstrap resamples{note} (default: %(default)s)",
    )


def add_tracking_uri(parser: argparse.ArgumentParser) -> None:
    """``--tracking-uri``: the MLflow store that run ids are read from."""
    parser.add_argument(
        "--tracking-uri",
        metavar="URI",
        default=DEFAULT_TRACKING_URI,
        help="MLflow store that run ids are read from (default: %(default)s)",
    )
