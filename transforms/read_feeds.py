"""Read stage, live feeds: `--feeds` arguments to one raw `Article` per new feed entry.

Outline:
1. each argument becomes the feeds it names (a URL, a URL list, an OPML list);
2. the feeds are joined, by URL, with what the previous runs remembered (`pipeline.state`):
   this is the shuffle that spreads the feeds over the workers, and lists one feed once; with
   `only_due_feeds`, a feed whose next poll is not due yet is left for a later run;
3. the feeds are fetched `fetch_concurrency` at a time on each worker, each given out as soon
   as it is done, so one slow feed holds up no other; a 304 yields no entries;
4. each body is parsed into entries; entries seen by an earlier run are skipped;
5. the feeds' new state (validators, seen entries, and the next poll, scheduled from how the
   poll went: `pipeline.schedule`) is staged for the run to commit after the data is written.
   A feed that failed keeps its validators and seen entries and backs off.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta, timezone

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from pipeline.article import Article
from pipeline.options import Settings
from pipeline.schedule import PollOutcome
from pipeline.state import FeedState, read_feed_states, stage_feed_states
from transforms.fetch import FeedClient, Response, Validators
from transforms.formats import BadItem, parse_feed_body
from transforms.rejects import REJECTS, InputError, reject
from transforms.subscriptions import Subscription, is_feed_url, is_opml, list_subscriptions

STAGE = "read"
STATE = "state"  # the tagged output of feeds' new state
# An RSS channel's <ttl>, in minutes. Read from the bytes because the feed parser (`formats`)
# gives entries, not channel fields; an escaped "<ttl>" in an entry's text does not match.
RSS_TTL = re.compile(rb"<ttl>\s*(\d{1,7})\s*</ttl>")


@dataclasses.dataclass
class FetchedFeed:
    subscription: Subscription
    state: FeedState
    response: Response


class ReadFeeds(beam.PTransform):
    """Feed URLs and feed lists to raw `Article`s; rejects tagged. With `output`, conditional
    GETs use the state in `output/_state/` and the new state is staged there. `now` is the
    time the run polls at (default: when the transform is built)."""

    def __init__(self, feeds: list[str], run_id: str, settings: Settings = Settings(),
                 output: str | None = None, now: datetime | None = None):
        super().__init__()
        self.feeds = feeds
        self.run_id = run_id
        self.settings = settings
        self.output = output
        self.now = now or datetime.now(timezone.utc)

    def expand(self, pbegin):
        listed = (
            pbegin
            | "FeedArguments" >> beam.Create(self.feeds)
            | "ListFeeds" >> beam.ParDo(ListFeeds(self.run_id, self.settings)).with_outputs(REJECTS, main="feeds")
        )
        remembered = (
            pbegin
            | "StateFolder" >> beam.Create([self.output] if self.output else [])
            | "ReadState" >> beam.FlatMap(read_feed_states)
        )
        feeds = (
            {"listed": listed.feeds | "KeyByUrl" >> beam.Map(lambda s: (s.url, s)), "state": remembered}
            | "JoinState" >> beam.CoGroupByKey()
            | "OncePerFeed" >> beam.ParDo(OncePerFeed(self.now if self.settings.only_due_feeds else None))
        )
        fetched = feeds | "Fetch" >> beam.ParDo(FetchFeeds(self.run_id, self.settings, self.now)).with_outputs(
            REJECTS, STATE, main="feeds")
        parsed = fetched.feeds | "Entries" >> beam.ParDo(FeedEntries(self.run_id, self.settings, self.now)).with_outputs(
            REJECTS, STATE, main="articles")
        if self.output:
            _ = ((fetched[STATE], parsed[STATE])
                 | "AllState" >> beam.Flatten()
                 | "CollectState" >> beam.combiners.ToList()
                 | "StageState" >> beam.Map(stage_feed_states, self.output, self.run_id))
        rejects = (listed.rejects, fetched.rejects, parsed.rejects) | "Rejects" >> beam.Flatten()
        return parsed.articles, rejects


class ListFeeds(beam.DoFn):
    """One `--feeds` argument to its Subscriptions; an unreadable list or a bad line is a reject."""

    def __init__(self, run_id: str, settings: Settings):
        self.run_id = run_id
        self.settings = settings

    def process(self, given: str) -> Iterator:
        try:
            found = named_feeds(given, self.settings)
        except InputError as error:
            yield reject(STAGE, error, source=given, run_id=self.run_id)
            return
        for subscription in found:
            if isinstance(subscription, BadItem):
                yield reject(STAGE, subscription.error, source=given, run_id=self.run_id, item=subscription.item)
            else:
                yield subscription


def named_feeds(given: str, settings: Settings) -> list[Subscription | BadItem]:
    """The feeds one `--feeds` argument names; an unreadable list is an InputError."""
    if is_feed_url(given):
        return [Subscription(given)]
    try:
        with FileSystems.open(given) as handle:  # compression told by the name (.gz)
            data = handle.read(settings.max_input_bytes + 1)
        if len(data) > settings.max_input_bytes:
            raise InputError(f"the feed list is larger than the {settings.max_input_bytes // 2**20} MB limit")
        return list(list_subscriptions(data))
    except InputError:
        raise
    except Exception as error:  # noqa: BLE001 - every failure becomes a reject row
        raise InputError(f"cannot read the feed list '{given}': {error}") from None


class OncePerFeed(beam.DoFn):
    """A listed feed with its remembered state (or a fresh one); listed twice, the entry that
    says most about it (a title, a folder) is the one kept. With `due_at`, a feed whose next
    poll comes later is left out."""

    def __init__(self, due_at: datetime | None):
        self.due_at = due_at
        self.not_due = Metrics.counter(STAGE, "feeds_not_due")

    def process(self, joined: tuple[str, dict[str, Iterable]]) -> Iterator[tuple[Subscription, FeedState]]:
        url, groups = joined
        listed = sorted(groups["listed"], key=lambda s: (s.title is None, s.folder is None, s.title or "", s.folder or ""))
        if not listed:
            return
        state = next(iter(groups["state"]), None) or FeedState(url)
        if self.due_at is None or state.due(self.due_at):
            yield listed[0], state
        else:
            self.not_due.inc()


class FetchFeeds(beam.DoFn):
    """Feeds fetched `fetch_concurrency` at a time: each is handed to a thread as it arrives and
    given out as soon as its fetch ends, so a slow feed holds one thread and nothing else; the
    bundle ends when the last fetch has. Each feed ends as a `FetchedFeed`, or as a reject and
    its state backed off (tagged STATE)."""

    def __init__(self, run_id: str, settings: Settings, now: datetime):
        self.run_id = run_id
        self.settings = settings
        self.now = now

    def setup(self):
        self.client = FeedClient(self.settings)
        self.pool = ThreadPoolExecutor(self.settings.fetch_concurrency, thread_name_prefix="newsbeam-fetch")

    def teardown(self):
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()

    def start_bundle(self):
        self.pending: set[Future] = set()

    def process(self, feed: tuple[Subscription, FeedState]) -> Iterator:
        self.pending.add(self.pool.submit(self.fetch, *feed))
        # Hold at most a few rounds of fetches in flight, so a large bundle is not all in memory.
        yield from self.done(wait_for_one=len(self.pending) >= 2 * self.settings.fetch_concurrency)

    def finish_bundle(self) -> Iterator:
        while self.pending:
            for output in self.done(wait_for_one=True):
                if isinstance(output, pvalue.TaggedOutput):
                    yield pvalue.TaggedOutput(output.tag, GlobalWindows.windowed_value(output.value))
                else:
                    yield GlobalWindows.windowed_value(output)

    def done(self, wait_for_one: bool) -> Iterator:
        finished, self.pending = wait(self.pending, timeout=None if wait_for_one else 0, return_when=FIRST_COMPLETED)
        for future in finished:
            FEEDS_POLLED.inc()  # counted here: metrics are not kept from the fetch threads
            fetched = future.result()
            if isinstance(fetched, FetchedFeed):
                yield fetched
            else:
                yield from failed_poll(*fetched, self.run_id, self.settings, self.now)

    def fetch(self, subscription: Subscription, state: FeedState) -> FetchedFeed | tuple:
        try:
            response = self.client.fetch(subscription.url, Validators(state.etag, state.last_modified))
        except Exception as error:  # noqa: BLE001 - every failure becomes a reject row
            return subscription, state, error
        return FetchedFeed(subscription, state, response)


class FeedEntries(beam.DoFn):
    """A fetched feed to its entries not seen before, and the feed's new state."""

    def __init__(self, run_id: str, settings: Settings, now: datetime):
        self.run_id = run_id
        self.settings = settings
        self.now = now

    def process(self, fetched: FetchedFeed) -> Iterator:
        yield from feed_entries(fetched, self.run_id, self.settings, self.now)


# The read stage's feed counters, shared by the batch DoFns above and the streaming poll.
FEEDS_POLLED = Metrics.counter(STAGE, "feeds")
FEEDS_UNCHANGED = Metrics.counter(STAGE, "feeds_unchanged")
FEEDS_FAILED = Metrics.counter(STAGE, "feeds_failed")
NEW_ENTRIES = Metrics.counter(STAGE, "feed_entries")
ENTRIES_SEEN_BEFORE = Metrics.counter(STAGE, "feed_entries_seen_before")
REJECTED = Metrics.counter(STAGE, "rejected")


def feed_entries(fetched: FetchedFeed, run_id: str, settings: Settings, now: datetime) -> Iterator:
    """A fetched feed's entries not seen before, its bad entries as rejects, and its new state
    (tagged STATE): validators, seen entries, and the next poll scheduled from this one."""
    subscription, state, response = fetched.subscription, fetched.state, fetched.response
    if response.status == 304:
        FEEDS_UNCHANGED.inc()
        # The feed is as it was: so is how often it publishes, which set its interval.
        unchanged = timedelta(seconds=state.interval_seconds) if state.interval_seconds else poll_interval(settings)
        outcome = PollOutcome(now, ok=True, headers=response.cache_headers)
        # Its entries are still in it: remembered as seen now, so that months of 304s do not
        # forget them and the next 200 give them again.
        seen = dict.fromkeys(state.seen, now.isoformat())
        yield pvalue.TaggedOutput(STATE, state.polled(outcome, unchanged, checked_at=now.isoformat(), seen=seen))
        return
    try:
        parsed = parse_feed_body(response.body, subscription.url, run_id, content_type=response.content_type,
                                 base_url=response.url, meta=subscription.meta())
    except Exception as error:  # noqa: BLE001 - every failure becomes a reject row
        if isinstance(error, InputError) and is_opml(response.body):
            # only `--feeds` arguments are read as lists: one inside a fetched body is not
            error = InputError("this is an OPML feed list, not a feed: give feed lists as files (download it first)")
        if isinstance(error, InputError) and response.url != subscription.url:
            error = InputError(f"{error} (at {response.url}, where the feed URL redirects)")
        # Its old validators are kept, so that the next poll fetches the feed whole again.
        yield from failed_poll(subscription, state, error, run_id, settings, now, response.cache_headers)
        return
    horizon = (now - timedelta(days=settings.seen_entry_days)).isoformat()
    seen = {item: when for item, when in state.seen.items() if when >= horizon}
    for entry in parsed:
        if isinstance(entry, BadItem):
            REJECTED.inc()
            yield reject(STAGE, entry.error, source=subscription.url, run_id=run_id, url=entry.url, item=entry.item)
            continue
        if entry.item in seen:
            ENTRIES_SEEN_BEFORE.inc()
        else:
            NEW_ENTRIES.inc()
            yield entry
        seen[entry.item] = now.isoformat()
    validators = response.validators
    outcome = PollOutcome(now, ok=True, headers=response.cache_headers, ttl_minutes=rss_ttl(response.body),
                          entry_times=tuple(e.published for e in parsed if isinstance(e, Article) and e.published))
    yield pvalue.TaggedOutput(STATE, state.polled(
        outcome, poll_interval(settings), etag=validators.etag, last_modified=validators.last_modified,
        checked_at=now.isoformat(), seen=seen))


def failed_poll(subscription: Subscription, state: FeedState, error: Exception, run_id: str, settings: Settings,
                now: datetime, headers: dict[str, str] | None = None) -> Iterator:
    """A failed poll's reject row, and the feed's state backed off (tagged STATE), with its
    validators and seen entries kept."""
    FEEDS_FAILED.inc()
    REJECTED.inc()
    rejected = reject(STAGE, error, source=subscription.url, run_id=run_id, url=subscription.url)
    yield rejected
    asked = getattr(error, "retry_after", None)
    outcome = PollOutcome(now, ok=False, headers=headers or ({"retry-after": asked} if asked else {}))
    yield pvalue.TaggedOutput(STATE, state.polled(outcome, poll_interval(settings), rejected.value.error))


def poll_interval(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.poll_interval_seconds)


def rss_ttl(body: bytes) -> int | None:
    found = RSS_TTL.search(body)
    return int(found.group(1)) if found else None

