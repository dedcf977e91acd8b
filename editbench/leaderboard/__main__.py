"""``python -m editbench.leaderboard RUN...``: rank the runs' editors and write the leaderboard."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from editbench.arguments import add_bootstrap_options, add_tracking_uri
from editbench.errors import EditbenchError
from editbench.leaderboard.board import build_leaderboard
from editbench.leaderboard.outputs import FILES, write_leaderboard
from editbench.leaderboard.runs import load_finished_run
from editbench.leaderboard.tables import format_table


def main(argv: Sequence[str] | None = None) -> int:
    """Rank the runs; the exit code: 0 done, 2 bad input (one line on stderr)."""
    args = _parser().parse_args(argv)
    # MLflow draws a progress bar per downloaded artifact; the table is all we print.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        runs = [load_finished_run(value, args.tracking_uri) for value in args.runs]
        leaderboard = build_leaderboard(runs, args.allow_mixed, args.bootstrap, args.seed)
    except EditbenchError as error:
        print(f"editbench.leaderboard: error: {error}", file=sys.stderr)
        return 2
    out_dir = args.out or Path("outputs/leaderboard") / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    write_leaderboard(out_dir, leaderboard)
    print(format_table(leaderboard.document))
    print(f"\nwrote {', '.join(FILES)} to {out_dir}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m editbench.leaderboard",
        description="Rank the editors of several runs judged alike, per category and overall "
        "(the benchmark's published figure), with 95% intervals and bootstrap rank intervals "
        "over the samples every entry judged; write leaderboard.json, .md and .html (the "
        "table and a gallery of every entry's edits side by side). An entry is an editor "
        "fingerprint x judge x protocol; runs of one entry that share no sample (shards) are "
        "merged.",
    )
    parser.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help="a run folder, or an MLflow run id (32 hex digits); at least two entries",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="output folder (default: outputs/leaderboard/<date>_<time>)",
    )
    parser.add_argument(
        "--allow-mixed",
        action="store_true",
        help="rank runs of several judges or protocols, each judge x protocol on a board of "
        "its own (without it they are refused: their scores are not on one scale)",
    )
    add_bootstrap_options(
        parser,
        1000,
        "; with the runs' own seed and count (bootstrap_samples), an entry of one run shows "
        "its results.json figures",
    )
    add_tracking_uri(parser)
    return parser


if __name__ == "__main__":
    sys.exit(main())
