"""Per-feed poll schedules: adaptive, bounded, polite to what servers ask, backing off on failure."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from pipeline.schedule import MAX_BACKOFF, MIN_INTERVAL, FeedSchedule, PollOutcome, next_schedule

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
EVERY = timedelta(minutes=15)


def schedule(outcome, previous=None):
    return next_schedule("https://example.org/feed", outcome, previous, EVERY, random.Random(7))


def wait(s):
    return s.next_due - NOW


def test_a_quiet_feed_without_dates_is_polled_at_the_global_interval_plus_jitter():
    s = schedule(PollOutcome(NOW, ok=True))
    assert EVERY <= wait(s) <= EVERY * 1.1
    assert s.failures == 0


def test_a_busy_feed_is_polled_more_often_but_not_below_the_floor():
    every_two_minutes = tuple(NOW - timedelta(minutes=2 * i) for i in range(10))
    s = schedule(PollOutcome(NOW, ok=True, entry_times=every_two_minutes))
    assert MIN_INTERVAL <= wait(s) <= MIN_INTERVAL * 1.1


def test_a_feed_publishing_every_four_hours_waits_two():
    times = tuple(NOW - timedelta(hours=4 * i) for i in range(6))
    s = schedule(PollOutcome(NOW, ok=True, entry_times=times))
    assert timedelta(hours=2) <= wait(s) <= timedelta(hours=2.2)


def test_ttl_cache_control_and_expires_are_lower_bounds():
    assert wait(schedule(PollOutcome(NOW, ok=True, ttl_minutes=60))) >= timedelta(minutes=60)
    assert wait(schedule(PollOutcome(NOW, ok=True, headers={"cache-control": "public, max-age=7200"}))) >= timedelta(hours=2)
    expires = "Sat, 21 Nov 2026 15:00:00 GMT"
    assert wait(schedule(PollOutcome(NOW, ok=True, headers={"expires": expires}))) >= timedelta(hours=3)


def test_failures_back_off_exponentially_up_to_a_day_and_honour_retry_after():
    previous = None
    waits = []
    for _ in range(12):
        previous = schedule(PollOutcome(NOW, ok=False), previous)
        waits.append(wait(previous))
    assert waits[:4] == [EVERY, EVERY * 2, EVERY * 4, EVERY * 8]
    assert waits[-1] == MAX_BACKOFF
    s = schedule(PollOutcome(NOW, ok=False, headers={"retry-after": "7200"}))
    assert wait(s) == timedelta(hours=2)
    recovered = schedule(PollOutcome(NOW, ok=True), FeedSchedule("u", NOW, 60, failures=5))
    assert recovered.failures == 0 and wait(recovered) <= EVERY * 1.1


def test_bad_header_values_are_ignored():
    s = schedule(PollOutcome(NOW, ok=True, headers={"expires": "0", "retry-after": "soon", "cache-control": "max-age=x"}))
    assert EVERY <= wait(s) <= EVERY * 1.1


def test_a_failing_feed_keeps_its_interval_through_the_backoff():
    """For when it answers again: a 304 then keeps the interval the feed's entries gave."""
    daily = FeedSchedule("u", NOW, 12 * 3600.0)
    failed = schedule(PollOutcome(NOW, ok=False), daily)
    assert (failed.failures, wait(failed), failed.interval_seconds) == (1, EVERY, 12 * 3600.0)
    never_polled = schedule(PollOutcome(NOW, ok=False))
    assert never_polled.interval_seconds == EVERY.total_seconds()
