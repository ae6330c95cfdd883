"""What newsbeam remembers about feeds between runs, in `DIR/_state/` beside the lake.

Small JSON files, one per kind of state, each replaced whole by an atomic rename:

  _state/http_validators.json   {"feeds": {url: {"etag", "last_modified", "checked_at"}}}
  _state/seen_entries.json      {"feeds": {url: {entry item: last seen (ISO date)}}}
  _state/feed_schedule.json     {"feeds": {url: {"polled_at", "next_due", "interval_seconds",
                                                  "failures", "last_error"}}}

The validators make the next fetch conditional (an unchanged feed costs a 304); the seen entries
keep a changed feed from giving again the entries an earlier run already wrote; the schedule says
when `newsbeam watch` polls each feed next (`pipeline.schedule`), and how long it has been failing.

A run never writes these files while it runs. Its pipeline writes the new state of the feeds it
fetched into the run's staging folder (`pipeline.commit`), and `fold_feed_states` folds that into
the committed state after the pipeline has finished, writing the result into the staging folder
too: the state is then committed with the rows it accounts for, all at once. A run that fails
before its commit point leaves the state as it was, so the state never claims an entry whose row
was not written; the next run fetches those feeds again. A feed neither polled nor fetched for
`seen_entry_days` is forgotten. Works on any Beam filesystem (local,
gs://, s3://).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from apache_beam.io.filesystems import FileSystems

from pipeline.commit import read_json, staging_root, write_json
from pipeline.layout import STATE
from pipeline.schedule import FeedSchedule, PollOutcome, next_schedule

VALIDATORS_FILE = "http_validators.json"
SEEN_FILE = "seen_entries.json"
SCHEDULE_FILE = "feed_schedule.json"
STAGED_FILE = "feeds-fetched.json"  # this run's new feed state, in its staging folder
FORMAT = 1
VALIDATOR_FIELDS = ("etag", "last_modified", "checked_at")
SCHEDULE_FIELDS = ("polled_at", "next_due", "interval_seconds", "failures", "last_error")


@dataclasses.dataclass
class FeedState:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    checked_at: str | None = None  # ISO date of the last successful fetch (200 or 304)
    seen: dict[str, str] = dataclasses.field(default_factory=dict)  # entry item: last seen
    polled_at: str | None = None  # ISO date of the last poll, successful or not
    next_due: str | None = None  # ISO date from which the feed is polled again; None: at once
    interval_seconds: float | None = None  # the feed's polling interval, before jitter and backoff
    failures: int = 0  # polls failed in a row
    last_error: str | None = None  # why the last poll failed, when it did

    def due(self, now: datetime) -> bool:
        return self.next_due is None or datetime.fromisoformat(self.next_due) <= now

    def polled(self, outcome: PollOutcome, default_interval: timedelta, error: str | None = None,
               **changes) -> FeedState:
        """This state after a poll: the next one scheduled from the outcome, with `changes`
        (new validators, seen entries) applied."""
        previous = None
        if self.next_due:
            previous = FeedSchedule(self.url, datetime.fromisoformat(self.next_due), self.interval_seconds or 0.0,
                                    self.failures)
        schedule = next_schedule(self.url, outcome, previous, default_interval)
        return dataclasses.replace(self, polled_at=outcome.polled_at.isoformat(),
                                   next_due=schedule.next_due.isoformat(),
                                   interval_seconds=schedule.interval_seconds, failures=schedule.failures,
                                   last_error=error, **changes)


def state_path(output: str, *parts: str) -> str:
    return FileSystems.join(output, STATE, *parts)


def read_feed_states(output: str) -> Iterator[tuple[str, FeedState]]:
    """(url, FeedState) for every feed the committed state knows."""
    validators = _read_json(state_path(output, VALIDATORS_FILE)).get("feeds", {})
    seen = _read_json(state_path(output, SEEN_FILE)).get("feeds", {})
    schedules = _read_json(state_path(output, SCHEDULE_FILE)).get("feeds", {})
    for url in sorted(set(validators) | set(seen) | set(schedules)):
        known = {**validators.get(url, {}), **schedules.get(url, {})}
        yield url, FeedState(url, seen=dict(seen.get(url, {})),
                             **{name: known[name] for name in VALIDATOR_FIELDS + SCHEDULE_FIELDS if name in known})


def stage_feed_states(states: list[FeedState], output: str, run_id: str) -> str:
    """Write this run's new feed state into its staging folder, for `fold_feed_states`."""
    path = state_path(staging_root(output, run_id), STAGED_FILE)
    write_json(path, {"format": FORMAT, "run_id": run_id,
                       "feeds": [dataclasses.asdict(s) for s in sorted(states, key=lambda s: s.url)]})
    return path


def fold_feed_states(output: str, run_id: str, keep_days: int,
                     now: datetime | None = None) -> dict[str, int]:
    """The committed state updated with the run's fetches, as the run's staged state files;
    feeds and entries not seen for `keep_days` are forgotten. Returns what the state holds."""
    staging = staging_root(output, run_id)
    staged_path = state_path(staging, STAGED_FILE)
    staged = _read_json(staged_path).get("feeds", [])
    states = dict(read_feed_states(output))
    states.update((s["url"], FeedState(**s)) for s in staged)
    horizon = ((now or datetime.now(timezone.utc)) - timedelta(days=keep_days)).isoformat()
    kept = {url: dataclasses.replace(s, seen={item: when for item, when in sorted(s.seen.items()) if when >= horizon})
            for url, s in sorted(states.items()) if max(s.checked_at or "", s.polled_at or "") >= horizon}
    # Each file lists the feeds that have its kind of state: one never fetched has no validators.
    write_json(state_path(staging, SEEN_FILE), {"format": FORMAT, "feeds": {
        url: s.seen for url, s in kept.items() if s.checked_at}})
    for name, fields, has in ((VALIDATORS_FILE, VALIDATOR_FIELDS, "checked_at"),
                              (SCHEDULE_FILE, SCHEDULE_FIELDS, "polled_at")):
        write_json(state_path(staging, name), {"format": FORMAT, "feeds": {
            url: {field: getattr(s, field) for field in fields} for url, s in kept.items() if getattr(s, has)}})
    if FileSystems.exists(staged_path):
        FileSystems.delete([staged_path])
    return {"feeds": len(kept), "seen_entries": sum(len(s.seen) for s in kept.values())}


def _read_json(path: str) -> dict:
    if not FileSystems.exists(path):
        return {}
    document = read_json(path)
    if document.get("format") != FORMAT:
        raise ValueError(f"{path} is in state format {document.get('format')!r}, which this newsbeam does not read")
    return document

