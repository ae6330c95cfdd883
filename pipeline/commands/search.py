"""`newsbeam search`: ranked full-text search over titles and texts."""

from __future__ import annotations

from pipeline.query_cli import add_lake_argument, add_output_arguments, add_rows_argument, answer

HELP = "find articles by words in their title and text, best match first"
DESCRIPTION = """\
Find the articles of the lake in DIR whose title or text contains the words of QUERY, ranked by
Okapi BM25: a word that few articles contain counts more than a common one, a word in the title
counts more than one in the text, and hits in a long article count less. Case does not matter
and plurals find their singular ('limousines' finds 'limousine'). An article needs only one of
the words; the more it has, the higher it ranks. Each result shows a snippet of its text around
the first hit.

example:
  newsbeam search out "Aurus"
  newsbeam search out "Kim Jong Un limousine" --topic politics --limit 5 --format json
"""


def add_arguments(parser) -> None:
    add_lake_argument(parser)
    parser.add_argument("query", metavar="QUERY", help="the words to find")
    parser.add_argument("--topic", help="only articles of this topic")
    add_rows_argument(parser, "--limit", "articles")
    add_output_arguments(parser)


def main(args, extra_args: list[str]) -> int:
    return answer(args, lambda lake: lake.search(args.query, topic=args.topic, rows=args.limit))
