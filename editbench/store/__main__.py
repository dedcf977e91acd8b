"""``python -m editbench.store {list,verify,prune,migrate}``: look after a store (the work is in
admin and migrate)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from editbench.errors import EditbenchError
from editbench.store.admin import (
    MIN_PREFIX,
    format_bytes,
    open_store,
    plan_prune,
    remove,
    summarize,
    verify,
)
from editbench.store.migrate import apply, parse_names, plan_migration


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit code: 0 done, 1 verify found problems, 2 bad input."""
    args = _parser().parse_args(argv)
    try:
        return args.command(args)
    except EditbenchError as error:
        print(f"editbench.store: error: {error}", file=sys.stderr)
        return 2


def _list(args: argparse.Namespace) -> int:
    summary = summarize(open_store(args.root))
    print(json.dumps(summary.as_json(), indent=1) if args.json else summary.format())
    return 0


def _verify(args: argparse.Namespace) -> int:
    verification = verify(open_store(args.root))
    print(verification.format())
    if args.delete and verification.problems:
        files = [path for problem in verification.problems for path in problem.files]
        freed = remove(files)
        print(f"deleted {len(files)} files ({format_bytes(freed)}); the next run redoes them")
    return 1 if verification.problems else 0


def _prune(args: argparse.Namespace) -> int:
    kind, id_prefix = ("judge", args.judge) if args.editor is None else ("editor", args.editor)
    pruning = plan_prune(open_store(args.root), kind, id_prefix)
    if not args.dry_run:
        remove(pruning.files)
    print(pruning.format(args.dry_run))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    migration = plan_migration(args.root, parse_names(args.name))
    if not args.dry_run:
        apply(migration)
    print(migration.format(args.dry_run))
    return 0


def _parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(add_help=False)
    root.add_argument(
        "--root", default="outputs/store", help="the store folder (default: %(default)s)"
    )
    parser = argparse.ArgumentParser(
        prog="python -m editbench.store",
        description="List, verify, prune and migrate the keyed store of edits and judgements. "
        "Run while no run writes to the store.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    listing = commands.add_parser(
        "list", parents=[root], help="edits per editor fingerprint, judgements per judge's"
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of tables")
    listing.set_defaults(command=_list)

    checking = commands.add_parser(
        "verify",
        parents=[root],
        help="find damaged records, images a run would trip on, and leftover temporary files",
        description="Check every record as a run reads it (a damaged one is named with what is "
        "wrong), every edit's image (there, matching its hash, decoding whole, of a size a judge "
        "takes), images without a record and temporary files. Exit code 1 when any is found.",
    )
    checking.add_argument(
        "--delete",
        action="store_true",
        help="remove the files of every problem found (a damaged record with its image, a stray "
        "image, a temporary file), so that the next run redoes that work",
    )
    checking.set_defaults(command=_verify)

    pruning = commands.add_parser(
        "prune", parents=[root], help="remove every edit of an editor or judgement of a judge"
    )
    which = pruning.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--editor", metavar="ID", help=f"editor id from `list` ({MIN_PREFIX}+ chars)"
    )
    which.add_argument("--judge", metavar="ID", help=f"judge id from `list` ({MIN_PREFIX}+ chars)")
    pruning.add_argument(
        "--dry-run", action="store_true", help="print what would go; remove nothing"
    )
    pruning.set_defaults(command=_prune)

    migrating = commands.add_parser(
        "migrate",
        parents=[root],
        help="re-key a store written by an earlier editbench (format 1) to this one's format",
    )
    migrating.add_argument(
        "--name",
        metavar="CLASS=NAME",
        action="append",
        default=[],
        help="the name an editor class unknown to migrate declares now (repeatable)",
    )
    migrating.add_argument(
        "--dry-run", action="store_true", help="print what would change; change nothing"
    )
    migrating.set_defaults(command=_migrate)
    return parser


if __name__ == "__main__":
    sys.exit(main())
