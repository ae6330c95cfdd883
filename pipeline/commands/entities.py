"""`newsbeam entities`: the entities named in the most articles."""

from __future__ import annotations

from pipeline.query_cli import add_lake_argument, add_output_arguments, add_rows_argument, answer

HELP = "the entities named in the most articles, with their mentions and stories"
DESCRIPTION = """\
List the named entities of the lake in DIR by the number of articles that name them, then by
their mentions. The same name under two labels (an ORG and a PRODUCT) is two rows.

example:
  newsbeam entities out --top 20
  newsbeam entities out --top 10 --topic politics --label PERSON --format json
"""


def add_arguments(parser) -> None:
    add_lake_argument(parser)
    add_rows_argument(parser, "--top", "entities")
    parser.add_argument("--topic", help="only articles of this topic")
    parser.add_argument("--label", help="only entities with this label: PERSON, ORG, GPE, ...")
    add_output_arguments(parser)


def main(args, extra_args: list[str]) -> int:
    return answer(args, lambda lake: lake.top_entities(topic=args.topic, label=args.label, rows=args.top))
