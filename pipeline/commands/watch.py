"""`newsbeam watch`: poll feeds on their own schedules into one lake, tick after tick."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from datetime import datetime, timedelta, timezone

from pipeline.commands.durations import duration, duration_text
from pipeline.commands.run import add_settings_arguments, check_beam_args, check_feed_lists, settings_from
from pipeline.logs import LOG
from pipeline.options import POLL_MAX_INTERVAL, POLL_MIN_INTERVAL, Settings

BOUNDS = f"{duration_text(POLL_MIN_INTERVAL.total_seconds())} to {duration_text(POLL_MAX_INTERVAL.total_seconds())}"
HELP = "poll feeds on their own schedules into a lake, incrementally, until stopped"
DESCRIPTION = f"""\
Poll the feeds that FEEDS name (feed URLs, text files of URLs, OPML lists, read again at every
tick) into the lake DIR, one incremental run per tick, until stopped (SIGINT or SIGTERM: the
current tick is finished first; a second signal abandons it, and the next start recovers it).

Each feed is polled on its own schedule: every --every at first, then as often as it publishes
({BOUNDS} apart, with a little jitter), never sooner than its RSS ttl, Cache-Control max-age,
Expires or Retry-After asks, and less and less often while it fails. Only new entries become rows: an entry seen before never does again. What the watcher
remembers (validators, schedules, entries seen) is in DIR/_state/, committed with each run's
rows: `newsbeam state DIR` shows it. A second writer on DIR is refused while a watcher runs.

Each tick logs one line: feeds polled, unchanged (304), failed and not yet due, new entries and
what became of them, the time taken and the next tick.

With --once, polls the feeds that are due now and exits (0, or 1 when the run failed): for cron
or a systemd timer firing every few minutes, the schedules still decide what is fetched.

example:
  newsbeam watch --feeds subscriptions.opml --output lake --every 15m --contact admin@example.org
  newsbeam watch --feeds feeds.txt --output lake --once
"""


def add_arguments(parser) -> None:
    parser.add_argument("--feeds", nargs="+", action="extend", required=True, metavar="FEEDS",
                        help="feed URLs, text files of feed URLs, or OPML lists")
    parser.add_argument("--output", "-o", required=True, metavar="DIR", help="the lake to write to")
    default = timedelta(seconds=Settings().poll_interval_seconds)
    parser.add_argument("--every", type=every, default=default, metavar="DURATION",
                        help=f"a feed's polling interval until its own is known, like 90s, 15m, 1h30m "
                             f"(default {duration_text(default.total_seconds())})")
    parser.add_argument("--once", action="store_true", help="one tick: poll the feeds due now, then exit")
    add_settings_arguments(parser)


def every(text: str) -> timedelta:
    value = duration(text)
    if not POLL_MIN_INTERVAL <= value <= POLL_MAX_INTERVAL:
        raise argparse.ArgumentTypeError(f"{text} is outside {BOUNDS}, the bounds of a feed's polling interval")
    return value


def main(args, beam_args: list[str]) -> int:
    from pipeline.watch import watch

    check_beam_args(beam_args, "feeds go after --feeds")
    check_feed_lists(args.feeds)
    settings = settings_from(args, poll_interval_seconds=args.every.total_seconds())
    with StopSignals() as signals, contextlib.closing(
            watch(args.feeds, args.output, settings, beam_args, stop=signals.stop)) as watching:
        for tick in watching:
            signals.ticks += 1
            print(tick.line(), flush=True)
            if args.once:
                return 0 if tick.error is None and not tick.unreadable else 1
    print(f"{_now()} stopped after {_ticks(signals.ticks)}", flush=True)
    return 0


class StopSignals:
    """SIGINT and SIGTERM: the first sets `stop`, and the watcher stops after the current tick;
    a second abandons the tick at once. The process then exits as if killed (a Beam run cannot
    be interrupted by an exception, which its DoFn runner would catch), leaving the unfinished
    run for the next start's recovery."""

    def __init__(self):
        self.stop = threading.Event()
        self.ticks = 0

    def __enter__(self) -> StopSignals:
        self.previous = {number: signal.signal(number, self.handle) for number in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)

    def handle(self, number, _frame) -> None:
        if self.stop.is_set():
            print(f"{_now()} stopped mid-tick after {_ticks(self.ticks)}; the next start recovers the unfinished run",
                  flush=True)
            sys.stderr.flush()
            os._exit(0)
        self.stop.set()
        LOG.info("%s: stopping after the current tick (signal again to abandon it)", signal.Signals(number).name)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def _ticks(count: int) -> str:
    return f"{count} tick" if count == 1 else f"{count} ticks"
