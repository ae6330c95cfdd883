"""`newsbeam watch`: feeds polled all day into one lake, one incremental run per tick.

The loop only drives. Each tick it reads the feed lists and the committed state (`pipeline.state`)
to see which feeds are due, and when any is, it runs the pipeline with `only_due_feeds` at the
tick's time: the pipeline picks the due feeds again by the same rule, fetches them, schedules
each one's next poll from how its poll went, and commits that schedule with the rows. Then the
loop sleeps until the earliest next poll, at most the default interval (so that it reads its
lists again and finds new feeds) and at least `WATCH_MIN_SLEEP`.

The watcher holds the lake's lock for its whole life (its runs take it again), so a second
writer is refused. A run killed at any moment is finished or discarded by `recover` when the
next writer starts. Time comes from a `Clock`, so that tests can jump instead of sleeping.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from pipeline.commit import lake_lock, recover
from pipeline.options import WATCH_MIN_SLEEP, Settings
from pipeline.run import run_pipeline
from pipeline.state import FeedState, read_feed_states
from transforms.read_feeds import named_feeds
from transforms.rejects import InputError
from transforms.subscriptions import Subscription

HOLDER = "newsbeam watch"


class Clock:
    """The real time; a sleep ends early when `stop` is set."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        stop.wait(max(seconds, 0.0))


@dataclasses.dataclass
class Tick:
    number: int
    at: datetime
    listed: int  # feeds the lists name
    due: int  # of those, due at this tick
    seconds: float
    next_tick: datetime
    manifest: dict | None = None  # the run's, when a feed was due and the run committed
    error: str | None = None  # why the run failed, when it did
    unreadable: tuple[str, ...] = ()  # feed lists that could not be read, each with why

    def line(self) -> str:
        """One readable line for the log."""
        head = f"{_clock_text(self.at)} tick {self.number}"
        then = f"next tick {_clock_text(self.next_tick)}"
        if self.error:
            return f"{head} failed after {self.seconds:.1f} s: {self.error}; {then}"
        if self.manifest is None:
            unreadable = f"; cannot read {'; '.join(self.unreadable)}" if self.unreadable else ""
            return f"{head}: no feed due ({self.listed} listed{unreadable}); {then}"
        read = self.manifest["metrics"].get("read", {})
        counts = self.manifest["counts"]
        return (f"{head}: {read.get('feeds', 0)} feeds polled ({read.get('feeds_unchanged', 0)} unchanged, "
                f"{read.get('feeds_failed', 0)} failed, {read.get('feeds_not_due', 0)} not due), "
                f"{read.get('feed_entries', 0)} new entries: {counts['kept']} articles, "
                f"{counts['duplicates']} duplicates, {counts['rejected']} rejects in {self.seconds:.1f} s; {then}")


def watch(feeds: list[str], output: str, settings: Settings = Settings(), beam_args: list[str] = (),
          clock: Clock | None = None, stop: threading.Event | None = None) -> Iterator[Tick]:
    """Tick after tick, each as soon as the previous one's sleep is over, until `stop` is set
    or the caller stops asking; holds the lake's lock until then (close the generator, or use
    `contextlib.closing`, to release it at once)."""
    clock = clock or Clock()
    stop = stop or threading.Event()
    settings = dataclasses.replace(settings, only_due_feeds=True)
    with lake_lock(output, HOLDER):
        recover(output)
        number = 0
        while not stop.is_set():
            number += 1
            tick = run_tick(number, feeds, output, settings, list(beam_args), clock)
            yield tick
            if stop.is_set():
                return
            clock.sleep((tick.next_tick - clock.now()).total_seconds(), stop)


def run_tick(number: int, feeds: list[str], output: str, settings: Settings, beam_args: list[str],
             clock: Clock) -> Tick:
    now = clock.now()
    listed, unreadable = listed_feed_urls(feeds, settings)
    due = [url for url, state in remembered(output, listed).items() if state.due(now)]
    started = time.monotonic()
    manifest = error = None
    if due:
        try:
            manifest = run_pipeline([], output, settings, beam_args, feeds=feeds, now=now)
        except Exception as failure:  # noqa: BLE001 - the watcher logs it and tries again later
            error = str(failure) or type(failure).__name__
    after = clock.now()
    every = timedelta(seconds=settings.poll_interval_seconds)
    next_tick = after + every if error else next_wake(remembered(output, listed).values(), after, every)
    return Tick(number, now, len(listed), len(due), time.monotonic() - started, next_tick, manifest, error,
                unreadable)


def listed_feed_urls(feeds: list[str], settings: Settings) -> tuple[list[str], tuple[str, ...]]:
    """The feed URLs the `--feeds` arguments name now, and each list that cannot be read, with why
    (a run that polls a due feed also rejects it, in the lake; with no feed due there is no run)."""
    urls, unreadable = set(), []
    for given in feeds:
        try:
            urls.update(s.url for s in named_feeds(given, settings) if isinstance(s, Subscription))
        except InputError as error:
            unreadable.append(f"{given} ({error})")
    return sorted(urls), tuple(unreadable)


def remembered(output: str, urls: list[str]) -> dict[str, FeedState]:
    """Each listed feed's committed state, or a fresh one (due at once)."""
    states = dict(read_feed_states(output))
    return {url: states.get(url) or FeedState(url) for url in urls}


def next_wake(states, now: datetime, every: timedelta) -> datetime:
    """The earliest next poll, within [now + WATCH_MIN_SLEEP, now + every]."""
    earliest = min((datetime.fromisoformat(s.next_due) if s.next_due else now for s in states), default=now + every)
    return min(max(earliest, now + WATCH_MIN_SLEEP), now + every)


def _clock_text(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
