"""`newsbeam check`: verify a lake."""

from __future__ import annotations

import sys

from pipeline.lake import require_lake
from transforms.paths import is_local

HELP = "verify a lake: manifests, files, schemas and per-source ledgers"
DESCRIPTION = """\
Verify the lake in DIR: every run's manifest against the files it lists (present, readable
Parquet, the declared schema, the row counts it claims), every source's ledger (items read =
kept + duplicates + rejected), every visible file belonging to a finished run, and no leftover
temporary files. Exits 0 when all holds, 1 with one line per problem otherwise.

--repair first finishes a run that was killed after its commit point and discards one killed
before it (the next `newsbeam run` does the same).

example:
  newsbeam check out
"""


def add_arguments(parser) -> None:
    parser.add_argument("output", metavar="DIR", help="the lake")
    parser.add_argument("--repair", action="store_true", help="finish or discard interrupted runs first")


def main(args, _extra) -> int:
    from pipeline.check import check_lake
    from pipeline.commit import lake_lock, recover

    if is_local(args.output):  # an object store has no folders to look for
        require_lake(args.output)
    if args.repair:
        with lake_lock(args.output):
            recover(args.output)  # which logs what it did
    report = check_lake(args.output)
    rows = report.rows
    if report.ok:
        print(f"lake OK: {report.runs} run(s), {rows['articles']} articles, {rows['duplicates']} duplicates, "
              f"{rows['rejects']} rejects; {report.sources} source ledgers balance")
        return 0
    for problem in report.problems:
        print(f"newsbeam: {problem}", file=sys.stderr)
    print(f"lake has {len(report.problems)} problem(s)", file=sys.stderr)
    return 1
