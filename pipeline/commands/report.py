"""`newsbeam report`: one self-contained HTML page about a lake."""

from __future__ import annotations

import os

from pipeline.lake import Lake
from pipeline.query_cli import add_lake_argument, plural
from pipeline.report import build_report

HELP = "write an HTML report of a lake: runs, topics over time, entities, stories, rejects"
DESCRIPTION = """\
Write one HTML page about the lake in DIR: the run history (read, kept, duplicates and rejects
per run), articles per topic over time, the top entities and how often they are named together,
the largest stories, and why inputs were rejected. The page is self-contained: it opens in any
browser with no network (inline style and SVG charts, no script).

example:
  newsbeam report out --html report.html
"""


def add_arguments(parser) -> None:
    add_lake_argument(parser)
    parser.add_argument("--html", required=True, metavar="FILE", help="the page to write")


def main(args, extra_args: list[str]) -> int:
    with Lake.open(args.lake) as lake:
        html = build_report(lake)
        [(runs, articles)] = lake.sql("SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM articles)").fetchall()
    folder = os.path.dirname(os.path.abspath(args.html))
    os.makedirs(folder, exist_ok=True)
    with open(args.html, "w", encoding="utf-8") as handle:
        handle.write(html)
    print(f"wrote {args.html} ({len(html.encode()) / 1024:.0f} KiB): {plural(runs, 'finished run')}, "
          f"{plural(articles, 'article')}")
    return 0
