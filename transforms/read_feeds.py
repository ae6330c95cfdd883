"""Read stage, live feeds: `--feeds` arguments to one raw `Article` per new feed entry.

Outline:
1. each argument becomes the feeds it names (a URL, a URL list, an OPML list);
2. the feeds are joined, by URL, with what the previous runs remembered (`pipeline.state`):
   this is the shuffle that spreads the feeds over the workers, and lists one feed once;
3. the feeds are fetched `fetch_concurrency` at a time on each worker, each given out as soon
   as it is done, so one slow feed holds up no other; a 304 yields no entries;
4. each body is parsed into entries; entries seen by an earlier run are skipped;
5. the feeds' new state (validators, seen entries) is staged for the run to commit after the
   data is written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta, timezone

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from pipeline.options import Settings
from pipeline.state import FeedState, read_feed_states, stage_feed_states
from transforms.fetch import FeedClient, Response, Validators
from transforms.formats import BadItem, parse_feed_body
from transforms.rejects import REJECTS, InputError, reject
from transforms.subscriptions import Subscription, is_feed_url, list_subscriptions

STAGE = "read"
STATE = "state"  # the tagged output of feeds' new state


@dataclasses.dataclass
class FetchedFeed:
    subscription: Subscription
    state: FeedState
    response: Response


class ReadFeeds(beam.PTransform):
    """Feed URLs and feed lists to raw `Article`s; rejects tagged. With `output`, conditional
    GETs use the state in `output/_state/` and the new state is staged there."""

    def __init__(self, feeds: list[str], run_id: str, settings: Settings = Settings(),
                 output: str | None = None):
        super().__init__()
        self.feeds = feeds
        self.run_id = run_id
        self.settings = settings
        self.output = output

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
            | "OncePerFeed" >> beam.FlatMap(once_per_feed)
        )
        fetched = feeds | "Fetch" >> beam.ParDo(FetchFeeds(self.run_id, self.settings)).with_outputs(
            REJECTS, main="feeds")
        parsed = fetched.feeds | "Entries" >> beam.ParDo(FeedEntries(self.run_id, self.settings)).with_outputs(
            REJECTS, STATE, main="articles")
        if self.output:
            _ = (parsed[STATE]
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
        if is_feed_url(given):
            yield Subscription(given)
            return
        try:
            with FileSystems.open(given) as handle:  # compression told by the name (.gz)
                data = handle.read(self.settings.max_input_bytes + 1)
            if len(data) > self.settings.max_input_bytes:
                raise InputError(f"the feed list is larger than the {self.settings.max_input_bytes // 2**20} MB limit")
            found = list(list_subscriptions(data))
        except Exception as error:  # noqa: BLE001 - every failure becomes a reject row
            if not isinstance(error, InputError):
                error = InputError(f"cannot read the feed list '{given}': {error}")
            yield reject(STAGE, error, source=given, run_id=self.run_id)
            return
        for subscription in found:
            if isinstance(subscription, BadItem):
                yield reject(STAGE, subscription.error, source=given, run_id=self.run_id, item=subscription.item)
            else:
                yield subscription


def once_per_feed(joined: tuple[str, dict[str, Iterable]]) -> Iterator[tuple[Subscription, FeedState]]:
    """A listed feed with its remembered state (or a fresh one); listed twice, the entry that
    says most about it (a title, a folder) is the one kept."""
    url, groups = joined
    listed = sorted(groups["listed"], key=lambda s: (s.title is None, s.folder is None, s.title or "", s.folder or ""))
    if listed:
        yield listed[0], next(iter(groups["state"]), None) or FeedState(url)


class FetchFeeds(beam.DoFn):
    """Feeds fetched `fetch_concurrency` at a time: each is handed to a thread as it arrives and
    given out as soon as its fetch ends, so a slow feed holds one thread and nothing else; the
    bundle ends when the last fetch has. Each feed ends as a `FetchedFeed` or a reject."""

    def __init__(self, run_id: str, settings: Settings):
        self.run_id = run_id
        self.settings = settings
        self.fetched = Metrics.counter(STAGE, "feeds")
        self.unchanged = Metrics.counter(STAGE, "feeds_unchanged")
        self.rejected = Metrics.counter(STAGE, "rejected")

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
            self.fetched.inc()  # counted here: metrics are not kept from the fetch threads
            output = future.result()
            if isinstance(output, pvalue.TaggedOutput):
                self.rejected.inc()
            elif output.response.status == 304:
                self.unchanged.inc()
            yield output

    def fetch(self, subscription: Subscription, state: FeedState):
        try:
            response = self.client.fetch(subscription.url, Validators(state.etag, state.last_modified))
        except Exception as error:  # noqa: BLE001 - every failure becomes a reject row
            return reject(STAGE, error, source=subscription.url, run_id=self.run_id, url=subscription.url)
        return FetchedFeed(subscription, state, response)


class FeedEntries(beam.DoFn):
    """A fetched feed to its entries not seen before, and the feed's new state."""

    def __init__(self, run_id: str, settings: Settings):
        self.run_id = run_id
        self.settings = settings
        self.entries = Metrics.counter(STAGE, "feed_entries")
        self.already_seen = Metrics.counter(STAGE, "feed_entries_seen_before")
        self.rejected = Metrics.counter(STAGE, "rejected")

    def process(self, fetched: FetchedFeed) -> Iterator:
        subscription, state, response = fetched.subscription, fetched.state, fetched.response
        now = datetime.now(timezone.utc)
        if response.status == 304:
            yield pvalue.TaggedOutput(STATE, dataclasses.replace(state, checked_at=now.isoformat()))
            return
        try:
            parsed = parse_feed_body(response.body, subscription.url, self.run_id,
                                     content_type=response.content_type, base_url=response.url,
                                     meta=subscription.meta())
        except Exception as error:  # noqa: BLE001 - every failure becomes a reject row
            self.rejected.inc()
            if isinstance(error, InputError) and response.url != subscription.url:
                error = InputError(f"{error} (at {response.url}, where the feed URL redirects)")
            yield reject(STAGE, error, source=subscription.url, run_id=self.run_id, url=subscription.url)
            return
        horizon = (now - timedelta(days=self.settings.seen_entry_days)).isoformat()
        seen = {item: when for item, when in state.seen.items() if when >= horizon}
        for entry in parsed:
            if isinstance(entry, BadItem):
                self.rejected.inc()
                yield reject(STAGE, entry.error, source=subscription.url, run_id=self.run_id,
                             url=entry.url, item=entry.item)
                continue
            if entry.item in seen:
                self.already_seen.inc()
            else:
                self.entries.inc()
                yield entry
            seen[entry.item] = now.isoformat()
        validators = response.validators
        yield pvalue.TaggedOutput(STATE, FeedState(subscription.url, validators.etag, validators.last_modified,
                                                   now.isoformat(), seen))

