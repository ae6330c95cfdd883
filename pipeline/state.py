"""What newsbeam remembers about feeds between runs, in `DIR/_state/` beside the lake.

Two small JSON files, one per kind of state, each replaced whole by an atomic rename:

  _state/http_validators.json   {"feeds": {url: {"etag", "last_modified", "checked_at"}}}
  _state/seen_entries.json      {"feeds": {url: {entry item: last seen (ISO date)}}}

The validators make the next fetch conditional (an unchanged feed costs a 304); the seen entries
keep a changed feed from giving again the entries an earlier run already wrote.

A run never writes these files while it runs. Its pipeline stages the new state in
`_state/staged/<run_id>.json`, and `commit_feed_states` folds that in after the pipeline has
finished, that is after every article, duplicate and reject row is written, and before the run
manifest. A run that fails midway leaves its staged file unused, so the state never claims an
entry whose row was not written; the next run fetches those feeds again. Works on any Beam
filesystem (local, gs://, s3://).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from apache_beam.io.filesystems import FileSystems

STATE_FOLDER = "_state"
VALIDATORS_FILE = "http_validators.json"
SEEN_FILE = "seen_entries.json"
STAGED_FOLDER = "staged"
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
    """Write this run's new state beside the committed one, for `commit_feed_states`."""
    path = state_path(output, STAGED_FOLDER, f"{run_id}.json")
    _write_json(path, {"format": FORMAT, "run_id": run_id,
                       "feeds": [dataclasses.asdict(s) for s in sorted(states, key=lambda s: s.url)]})
    return path


def commit_feed_states(output: str, run_id: str, keep_days: int,
                       now: datetime | None = None) -> dict[str, int]:
    """Fold the run's staged state into the committed files; feeds and entries not seen for
    `keep_days` are forgotten. Returns what the state now holds."""
    staged_path = state_path(output, STAGED_FOLDER, f"{run_id}.json")
    staged = _read_json(staged_path).get("feeds", [])
    states = dict(read_feed_states(output))
    states.update((s["url"], FeedState(**s)) for s in staged)
    horizon = ((now or datetime.now(timezone.utc)) - timedelta(days=keep_days)).isoformat()
    kept = {url: dataclasses.replace(s, seen={item: when for item, when in sorted(s.seen.items()) if when >= horizon})
            for url, s in sorted(states.items()) if (s.checked_at or "") >= horizon}
    # Seen entries first: if the run stops between the two writes, the next run refetches
    # (old validators) and skips what it wrote (new seen entries), which is safe.
    _write_json(state_path(output, SEEN_FILE), {"format": FORMAT, "feeds": {
        url: s.seen for url, s in kept.items()}})
    _write_json(state_path(output, VALIDATORS_FILE), {"format": FORMAT, "feeds": {
        url: {"etag": s.etag, "last_modified": s.last_modified, "checked_at": s.checked_at}
        for url, s in kept.items()}})
    if FileSystems.exists(staged_path):
        FileSystems.delete([staged_path])
    return {"feeds": len(kept), "seen_entries": sum(len(s.seen) for s in kept.values())}


def _read_json(path: str) -> dict:
    if not FileSystems.exists(path):
        return {}
    with FileSystems.open(path, compression_type="uncompressed") as handle:
        document = json.loads(handle.read())
    if document.get("format") != FORMAT:
        raise ValueError(f"{path} is in state format {document.get('format')!r}, which this newsbeam does not read")
    return document


def _write_json(path: str, document: dict) -> None:
    """Write under a temporary name in the same folder, then rename over the old file."""
    folder = path.rsplit("/", 1)[0]
    if not FileSystems.exists(folder):
        FileSystems.mkdirs(folder)
    temporary = f"{path}.tmp"
    with FileSystems.create(temporary, compression_type="uncompressed") as handle:
        handle.write(json.dumps(document, indent=1, ensure_ascii=False).encode())
    FileSystems.rename([temporary], [path])
