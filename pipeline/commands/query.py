"""`newsbeam query`: SQL over a lake's views."""

from __future__ import annotations

from pipeline.lake import Lake
from pipeline.query_cli import add_lake_argument, add_output_arguments, write_result

EXPLAIN_COLUMNS = ["explain_key", "explain_value"]

HELP = "run SQL over a lake (views articles, duplicates, rejects, entities, stories, runs)"
DESCRIPTION = """\
Run SQL on DuckDB over the lake in DIR. Only the files of finished runs (those with a manifest
in DIR/_runs) are seen. The views:

  articles     one row per kept article, with the columns of the articles table
  duplicates   one row per input dropped as a copy of a kept article
  rejects      one row per input that could not be used: source, stage, error, ...
  entities     one row per article and entity: article_id, story_id, topic, title, seen_at,
               run_id, name, label, mentions, first_position, salience
  stories      one row per story: story_id, first_seen, last_seen, articles, sources,
               headline, topic, top_entities
  runs         one row per finished run: run_id, started_at, seconds, inputs, kept,
               duplicates, rejected, per_topic, rejected_by_stage, input_paths, runner, manifest

A filter on topic reads only that topic's files (EXPLAIN shows it). seen_at is when an article was published, or
when it was ingested if its date is unknown.

example:
  newsbeam query out "select topic, count(*) as articles from articles group by topic"
  newsbeam query out "select * from runs" --format json
  newsbeam query out "explain select title from articles where topic = 'politics'"
  newsbeam query out "select * from articles where topic = 'politics'" \\
      --format parquet --out politics.parquet
"""


def add_arguments(parser) -> None:
    add_lake_argument(parser)
    parser.add_argument("sql", metavar="SQL", help="the query")
    add_output_arguments(parser)


def main(args, extra_args: list[str]) -> int:
    with Lake.open(args.lake) as lake:
        result = lake.sql(args.sql)
        if result is None:  # a statement that returns no rows (SET, COPY ...) prints nothing
            return 0
        if result.columns == EXPLAIN_COLUMNS and args.format == "table":
            print("\n".join(plan for _, plan in result.fetchall()))  # DuckDB's own drawing of the plan
            return 0
        write_result(result, args.format, args.out)
    return 0
