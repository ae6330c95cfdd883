"""When to poll each feed next, as Miniflux and lemon24/reader do it.

A feed is polled at the global interval by default; a feed that publishes often is polled more
often and a quiet one less, within bounds; what the feed asks for (RSS `ttl`, Cache-Control
max-age, Expires, Retry-After) is honoured as a lower bound; a failing feed backs off
exponentially; and a random jitter keeps many feeds from being polled in the same second.
"""

from __future__ import annotations

import dataclasses
import email.utils
import random
import re
from datetime import datetime, timedelta, timezone

from pipeline.options import POLL_JITTER as JITTER
from pipeline.options import POLL_MAX_BACKOFF as MAX_BACKOFF
from pipeline.options import POLL_MAX_INTERVAL as MAX_INTERVAL
from pipeline.options import POLL_MIN_INTERVAL as MIN_INTERVAL


@dataclasses.dataclass(frozen=True)
class PollOutcome:
    """What one poll of a feed gave."""

    polled_at: datetime
    ok: bool  # a feed was fetched (200) or confirmed unchanged (304)
    headers: dict[str, str] = dataclasses.field(default_factory=dict)  # lower-case names
    ttl_minutes: int | None = None  # RSS <ttl>
    entry_times: tuple[datetime, ...] = ()  # published times of the entries in the feed


@dataclasses.dataclass(frozen=True)
class FeedSchedule:
    url: str
    next_due: datetime
    interval_seconds: float
    failures: int = 0


def next_schedule(url: str, outcome: PollOutcome, previous: FeedSchedule | None,
                  default_interval: timedelta, rng: random.Random | None = None) -> FeedSchedule:
    rng = rng or random.Random()
    if not outcome.ok:
        failures = (previous.failures if previous else 0) + 1
        wait = min(default_interval * 2 ** (failures - 1), MAX_BACKOFF)
        wait = max(wait, _retry_after(outcome))
        # The feed's own interval is kept through the backoff, for when it answers again.
        interval = previous.interval_seconds if previous and previous.interval_seconds else default_interval.total_seconds()
        return FeedSchedule(url, outcome.polled_at + wait, interval, failures)
    interval = _clamp(_publishing_interval(outcome.entry_times) or default_interval)
    wait = max(interval, _server_asks(outcome))
    wait += wait * JITTER * rng.random()
    return FeedSchedule(url, outcome.polled_at + wait, interval.total_seconds(), 0)


def _publishing_interval(times: tuple[datetime, ...]) -> timedelta | None:
    """Half the median gap between recent entries: a new one is likely found on the next poll."""
    recent = sorted(times)[-20:]
    if len(recent) < 3:
        return None
    gaps = sorted(b - a for a, b in zip(recent, recent[1:]))
    return gaps[len(gaps) // 2] / 2


def _server_asks(outcome: PollOutcome) -> timedelta:
    """The longest of the waits the feed's server or document asks for."""
    asks = [timedelta(0), _retry_after(outcome)]
    if outcome.ttl_minutes:
        asks.append(timedelta(minutes=outcome.ttl_minutes))
    max_age = re.search(r"max-age=(\d+)", outcome.headers.get("cache-control", ""))
    if max_age:
        asks.append(timedelta(seconds=int(max_age.group(1))))
    expires = _http_date(outcome.headers.get("expires"))
    if expires:
        asks.append(expires - outcome.polled_at)
    return min(max(asks), MAX_INTERVAL)


def _retry_after(outcome: PollOutcome) -> timedelta:
    value = outcome.headers.get("retry-after", "").strip()
    if value.isdigit():
        return min(timedelta(seconds=int(value)), MAX_BACKOFF)
    when = _http_date(value)
    return min(max(when - outcome.polled_at, timedelta(0)), MAX_BACKOFF) if when else timedelta(0)


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _clamp(interval: timedelta) -> timedelta:
    return min(max(interval, MIN_INTERVAL), MAX_INTERVAL)
