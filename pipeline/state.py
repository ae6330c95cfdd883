"""What newsbeam remembers about feeds between runs, in `DIR/_state/` beside the lake.

Two small JSON files, one per kind of state, each replaced whole by an atomic rename:

  _state/http_validators.json   {"feeds": {url: {"etag", "last_modified", "checked_at"}}}
  _state/seen_entries.json      {"feeds": {url: {entry item: last seen (ISO date)}}}

The validators make the next fetch conditional (an unchanged feed costs a 304); the seen entries
keep a changed feed from giving again the entries an earlier run already wrote.

A run never writes these files while it runs. Its pipeline writes the new state of the feeds it
fetched into the run's staging folder (`pipeline.commit`), and `fold_feed_states` folds that into
the committed state after the pipeline has finished, writing the result into the staging folder
too: the state is then committed with the rows it accounts for, all at once. A run that fails
before its commit point leaves the state as it was, so the state never claims an entry whose row
was not written; the next run fetches those feeds again. Works on any Beam filesystem (local,
gs://, s3://).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from apache_beam.io.filesystems import FileSystems

from pipeline.commit import read_json, staging_root, write_json

STATE_FOLDER = "_state"
VALIDATORS_FILE = "http_validators.json"
SEEN_FILE = "seen_entries.json"
STAGED_FILE = "feeds-fetched.json"  # this run's new feed state, in its staging folder
FORMAT = 1


@dataclasses.dataclass
class FeedState:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    checked_at: str | None = None  # ISO date of the last successful fetch (200 or 304)
    seen: dict[str, str] = dataclasses.field(default_factory=dict)  # entry item: last seen


def state_path(output: str, *parts: str) -> str:
    return FileSystems.join(output, STATE_FOLDER, *parts)


def read_feed_states(output: str) -> Iterator[tuple[str, FeedState]]:
    """(url, FeedState) for every feed the committed state knows."""
    validators = _read_json(state_path(output, VALIDATORS_FILE)).get("feeds", {})
    seen = _read_json(state_path(output, SEEN_FILE)).get("feeds", {})
    for url in sorted(set(validators) | set(seen)):
        known = validators.get(url, {})
        yield url, FeedState(url, known.get("etag"), known.get("last_modified"), known.get("checked_at"),
                             dict(seen.get(url, {})))


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
            for url, s in sorted(states.items()) if (s.checked_at or "") >= horizon}
    write_json(state_path(staging, SEEN_FILE), {"format": FORMAT, "feeds": {
        url: s.seen for url, s in kept.items()}})
    write_json(state_path(staging, VALIDATORS_FILE), {"format": FORMAT, "feeds": {
        url: {"etag": s.etag, "last_modified": s.last_modified, "checked_at": s.checked_at}
        for url, s in kept.items()}})
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

