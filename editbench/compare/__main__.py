"""``python -m editbench.compare RUN_A RUN_B``: compare two runs and write the comparison."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from editbench.arguments import add_bootstrap_options, add_tracking_uri, at_least
from editbench.compare.differences import compare_loaded_runs
from editbench.compare.outputs import FILES, write_comparison
from editbench.compare.sources import load_run
from editbench.compare.tables import format_table
from editbench.errors import EditbenchError


def main(argv: Sequence[str] | None = None) -> int:
    """Compare two runs; the exit code: 0 done, 2 bad input (one line on stderr)."""
    args = _parser().parse_args(argv)
    # MLflow draws a progress bar per downloaded samples.jsonl; the table is all we print.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        run_a = load_run(args.run_a, args.tracking_uri)
        run_b = load_run(args.run_b, args.tracking_uri)
        comparison = compare_loaded_runs(run_a, run_b, args.bootstrap, args.seed, args.top)
        if not comparison["overall"]["n_shared"]:
            raise EditbenchError(
                f"runs {args.run_a!r} and {args.run_b!r} share no sample judged ok by both"
            )
    except EditbenchError as error:
        print(f"editbench.compare: error: {error}", file=sys.stderr)
        return 2
    out_dir = args.out or Path("outputs/compare") / f"{run_a.name}-vs-{run_b.name}"
    write_comparison(out_dir, comparison, run_a.source, run_b.source)
    print(f"A: {run_a.source}\nB: {run_b.source}\n")
    print(format_table(comparison))
    print(f"\nwrote {', '.join(FILES)} to {out_dir}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m editbench.compare",
        description="Compare two runs of the same protocol on the samples both judged: the "
        "difference (B - A) per category, overall (the benchmark's published figure), per "
        "criterion and per subset, with paired bootstrap 95% intervals, and the samples that "
        "moved most.",
    )
    for name in ("run_a", "run_b"):
        parser.add_argument(
            name, metavar=name.upper(), help="a run folder, or an MLflow run id (32 hex digits)"
        )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="output folder (default: outputs/compare/<A>-vs-<B>)",
    )
    parser.add_argument(
        "--top",
        type=at_least(0),
        metavar="N",
        default=10,
        help="samples to list of those that moved most, and of those judged ok by one run "
        "only (default: %(default)s)",
    )
    add_bootstrap_options(parser, 10_000)
    add_tracking_uri(parser)
    return parser


if __name__ == "__main__":
    sys.exit(main())
