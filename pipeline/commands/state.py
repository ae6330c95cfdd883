"""`newsbeam state`: what a lake remembers between runs, in `DIR/_state/`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from pipeline.commands.durations import duration_text
from pipeline.lake import require_lake
from pipeline.query_cli import aligned_table, plural
from transforms.paths import is_local

if TYPE_CHECKING:
    from pipeline.state import FeedState

HELP = "show what a lake remembers: feeds' validators and schedules, entries seen, dedupe signatures, stories"
DESCRIPTION = """\
Show the state kept in DIR/_state/ between runs: for each feed its HTTP validators (ETag,
Last-Modified), when it was last polled and fetched, when it is due next and at what interval,
how many polls in a row failed and why the last one did, and how many of its entries were seen;
then how many signatures of kept articles the dedupe stage remembers, and how many articles the
stories stage does. Only committed state is shown: a run in progress or killed has not changed it.

example:
  newsbeam state lake
  newsbeam state lake --format json
"""
COLUMNS = ["feed", "etag", "last_modified", "last_poll", "next_due", "interval", "failures", "seen", "last_error"]


def add_arguments(parser) -> None:
    parser.add_argument("output", metavar="DIR", help="the lake")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="how to print (default table)")


def main(args, _extra) -> int:
    # Imported here, as `run` and `check` do: every command's --help, and the query commands, then
    # start without importing Beam (about a second).
    from apache_beam.io.filesystems import FileSystems

    from pipeline.state import read_feed_states
    from transforms.signature_store import signature_folder
    from transforms.story_memory import memory_folder

    if is_local(args.output):
        require_lake(args.output)
    elif not FileSystems.exists(args.output):
        raise ValueError(f"'{args.output}' does not exist")
    feeds = [state for _, state in read_feed_states(args.output)]
    files, signatures = remembered_rows(signature_folder(args.output))
    story_files, story_articles = remembered_rows(memory_folder(args.output))
    if args.format == "json":
        print(json.dumps({
            "lake": args.output,
            "feeds": [{**feed_record(s), "seen_entries": len(s.seen)} for s in feeds],
            "seen_entries": sum(len(s.seen) for s in feeds),
            "dedupe": {"files": files, "signatures": signatures},
            "stories": {"files": story_files, "articles": story_articles},
        }, indent=2))
        return 0
    rows = [(s.url, s.etag, s.last_modified, _date(s.polled_at or s.checked_at), _date(s.next_due),
             duration_text(s.interval_seconds) if s.interval_seconds is not None else None, s.failures, len(s.seen), s.last_error) for s in feeds]
    print(aligned_table(COLUMNS, rows))
    failing = sum(1 for s in feeds if s.failures)
    print(f"\n{len(feeds)} feeds ({failing} failing), {sum(len(s.seen) for s in feeds)} entries seen; "
          f"dedupe remembers {signatures} signatures in {plural(files, 'file')}, stories {story_articles} "
          f"articles in {plural(story_files, 'file')}")
    return 0


def feed_record(state: FeedState) -> dict:
    record = vars(state).copy()
    del record["seen"]
    return record


def remembered_rows(folder: str) -> tuple[int, int]:
    """(files, rows) of the committed state files in `folder` (`transforms.state_files`)."""
    from sinks.parquet import read_parquet_metadata
    from transforms.state_files import committed_files

    found = committed_files(folder)
    rows = 0
    for path in found:
        try:
            rows += read_parquet_metadata(path).num_rows
        except (ValueError, OSError) as error:
            raise ValueError(f"cannot read {path}: it is not a readable Parquet file ({error})") from None
    return len(found), rows


def _date(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
