"""Read stage, streaming: feeds polled on every impulse of an unbounded source, each feed's
state (validators, schedule, entries seen) kept by the runner as per-key state.

Outline:
1. on each impulse (a timestamp: `PeriodicImpulse` in production, a `TestStream` in tests),
   every `--feeds` argument becomes the feeds it names, keyed by URL;
2. `PollFeed` holds each feed's `FeedState` in the runner's keyed state: a feed not yet due at
   the impulse's time is skipped; a due one is fetched and parsed by the batch read stage's own
   logic (`read_feeds.feed_entries`, `read_feeds.failed_poll`), its new entries go on, and its
   new state replaces the old one. An event-time timer forgets a feed not polled for
   `seen_entry_days`, as the batch state does (in unbounded runs only: see `PollFeeds`).
Each entry's timestamp is the impulse's: when it was polled.
"""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Duration

from pipeline.options import Settings
from pipeline.state import FeedState
from transforms.fetch import FeedClient, Validators
from transforms.read_feeds import FEEDS_POLLED, STAGE, STATE, FetchedFeed, ListFeeds, failed_poll, feed_entries
from transforms.rejects import REJECTS
from transforms.subscriptions import Subscription


class PollFeeds(beam.PTransform):
    """Impulses (timestamped elements) to the new entries of the feeds due at each, as raw
    `Article`s; rejects tagged.

    `expire_state=False` keeps every feed's state for the whole run. A bounded run wants that: it
    ends long before a feed could be forgotten, and FnApiRunner advances a stateful stage's
    watermark to the end of time whenever the impulses pause between rounds, which fires
    event-time timers months early and would forget every feed between two impulses."""

    def __init__(self, feeds: list[str], run_id: str, settings: Settings = Settings(), expire_state: bool = True):
        super().__init__()
        self.feeds = list(feeds)
        self.run_id = run_id
        self.settings = settings
        self.expire_state = expire_state

    def expand(self, impulses):
        listed = (
            impulses
            | "FeedArguments" >> beam.FlatMap(lambda _impulse, feeds: feeds, self.feeds)
            | "ListFeeds" >> beam.ParDo(ListFeeds(self.run_id, self.settings)).with_outputs(REJECTS, main="feeds")
        )
        polled = (
            listed.feeds
            | "KeyByUrl" >> beam.Map(lambda s: (s.url, s)).with_output_types(beam.typehints.KV[str, Subscription])
            | "Poll" >> beam.ParDo(PollFeed(self.run_id, self.settings, self.expire_state)).with_outputs(REJECTS, main="articles")
        )
        rejects = (listed.rejects, polled.rejects) | "Rejects" >> beam.Flatten()
        return polled.articles, rejects


class PollFeed(beam.DoFn):
    """(url, Subscription) at an impulse to the feed's new entries, its state kept per key."""

    FEED = ReadModifyWriteStateSpec("feed", PickleCoder())
    FORGET = TimerSpec("forget", TimeDomain.WATERMARK)

    def __init__(self, run_id: str, settings: Settings, expire_state: bool = True):
        self.run_id = run_id
        self.settings = settings
        self.expire_state = expire_state
        self.not_due = Metrics.counter(STAGE, "feeds_not_due")

    def setup(self):
        self.client = FeedClient(self.settings)

    def teardown(self):
        self.client.close()

    def process(self, keyed, timestamp=beam.DoFn.TimestampParam, feed=beam.DoFn.StateParam(FEED),
                forget=beam.DoFn.TimerParam(FORGET)) -> Iterator:
        url, subscription = keyed
        now = timestamp.to_utc_datetime(has_tz=True)
        state = feed.read() or FeedState(url)
        if not state.due(now):
            self.not_due.inc()
            return
        FEEDS_POLLED.inc()
        try:
            response = self.client.fetch(url, Validators(state.etag, state.last_modified))
        except Exception as error:  # noqa: BLE001 - every failure becomes a reject row
            outputs = failed_poll(subscription, state, error, self.run_id, self.settings, now)
        else:
            outputs = feed_entries(FetchedFeed(subscription, state, response), self.run_id, self.settings, now)
        for output in outputs:
            if isinstance(output, pvalue.TaggedOutput) and output.tag == STATE:
                feed.write(output.value)
            else:
                yield output
        if self.expire_state:
            forget.set(timestamp + Duration(seconds=self.settings.seen_entry_days * 86400))

    @on_timer(FORGET)
    def forget(self, feed=beam.DoFn.StateParam(FEED)):
        feed.clear()
