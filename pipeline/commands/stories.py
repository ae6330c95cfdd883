"""`newsbeam stories`: the largest stories, optionally only those reported recently."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

from pipeline.commands.durations import parse_duration
from pipeline.query_cli import add_lake_argument, add_output_arguments, add_rows_argument, answer

HELP = "the largest stories: first and last seen, articles, sources, headline, top entities"
DESCRIPTION = """\
List the stories in the lake in DIR, the ones with the most articles first, then the latest.
--since keeps the stories with an article seen since then: a duration back from now (30m, 12h,
1d12h, 3w) or a date or time (2024-06-01, 2024-06-01T12:00, UTC unless an offset is given).

example:
  newsbeam stories out --since 2d
  newsbeam stories out --since 2024-06-01 --topic politics --format csv
"""


def add_arguments(parser) -> None:
    add_lake_argument(parser)
    parser.add_argument("--since", type=since, metavar="WHEN", help="only stories seen since: 2d, 12h, 2024-06-01 ...")
    parser.add_argument("--topic", help="only stories of this topic")
    add_rows_argument(parser, "--limit", "stories")
    add_output_arguments(parser)


def main(args, extra_args: list[str]) -> int:
    return answer(args, lambda lake: lake.latest_stories(since=args.since, topic=args.topic, rows=args.limit))


def since(text: str) -> datetime:
    """An argparse type: the time `parse_since` makes of `text`."""
    try:
        return parse_since(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """'2d' (back from now), '2024-06-01' or '2024-06-01T12:00+02:00' as a UTC time."""
    back = parse_duration(text)
    if back is not None:
        try:
            return (now or datetime.now(timezone.utc)) - back
        except OverflowError:
            raise ValueError(f"'{text}' reaches back before the year 1") from None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"'{text}' is neither a duration (30m, 12h, 2d, 3w) nor a date "
                         "(2024-06-01, 2024-06-01T12:00)") from None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
