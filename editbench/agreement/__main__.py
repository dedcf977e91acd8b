"""``python -m editbench.agreement RUN [RUN...] --human FILE``: how well judges agree with
people, and with each other."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from editbench.agreement.mlflow_runs import agreement_metrics, find_mlflow_run, log_agreement
from editbench.agreement.outputs import FILES, format_summary, write_agreement
from editbench.agreement.ratings import read_human
from editbench.agreement.report import agreement_report
from editbench.arguments import add_bootstrap_options, at_least
from editbench.compare.sources import load_run
from editbench.errors import EditbenchError
from editbench.results.tracking import DEFAULT_TRACKING_URI


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and write the report; the exit code: 0 done, 2 bad input (one message)."""
    args = _parser().parse_args(argv)
    # MLflow draws a progress bar per downloaded artifact; the summary is all we print.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        human = read_human(args.human, args.imagenhub_model) if args.human else None
        runs = [load_run(value, args.tracking_uri or DEFAULT_TRACKING_URI) for value in args.runs]
        links = [find_mlflow_run(value, args.tracking_uri) for value in args.runs]
        document = agreement_report(runs, human, links, args.bootstrap, args.seed, args.top)
    except EditbenchError as error:
        print(f"editbench.agreement: error: {error}", file=sys.stderr)
        return 2
    first = Path(args.runs[0])
    out_dir = args.out or (
        first / "agreement" if first.is_dir() else Path("outputs/agreement") / runs[0].name
    )
    files = write_agreement(out_dir, document)
    for run, link in zip(document["runs"], links, strict=True):
        if link.run_id is None:
            continue
        try:
            log_agreement(link, agreement_metrics(run, document["judges"]), files)
        except Exception as error:  # the report is written; a store that fails must not hide it
            print(
                f"editbench.agreement: warning: logging to MLflow run {link.run_id} failed: "
                f"{error}",
                file=sys.stderr,
            )
    print(format_summary(document))
    print(f"\nwrote {', '.join(FILES)} to {out_dir}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m editbench.agreement",
        description="How well each run's judge agrees with people (Spearman, Kendall tau-b, "
        "pairwise accuracy, with bootstrap 95% intervals, beside the raters' own agreement), "
        "and, given several runs over the same edits, how well the judges agree with each "
        "other. Writes agreement.json, agreement.md and agreement.html.",
    )
    parser.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help="a run folder, or an MLflow run id (32 hex digits)",
    )
    parser.add_argument(
        "--human",
        nargs="+",
        action="extend",
        type=Path,
        metavar="FILE",
        help="people's ratings: .csv or .jsonl with id, rater, score[, criterion], or with "
        "id_a, id_b, winner (preferences); or ImagenHub's rater .tsv files, one per rater",
    )
    parser.add_argument(
        "--imagenhub-model",
        metavar="MODEL",
        help="the column of ImagenHub's .tsv files that rates this run's edits (sample ids are "
        "then the uids without extension); without it every column is read, as "
        "<model>/<uid without extension>",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="output folder (default: <first run folder>/agreement, or outputs/agreement/<run id>)",
    )
    add_bootstrap_options(parser, 1000)
    parser.add_argument(
        "--top",
        type=at_least(0),
        default=10,
        metavar="N",
        help="samples listed where the judges disagree most (default: %(default)s)",
    )
    parser.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="MLflow store of run ids and of the folders' runs (default: a folder's own, from "
        f"its mlflow_run.json; {DEFAULT_TRACKING_URI} for run ids)",
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
