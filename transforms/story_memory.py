"""The stories' memory, in `DIR/_state/stories/`: for each article kept in the last
`story_memory_days`, what the stories stage compares of it (its term counts and blocking entity
keys) and the story it joined, so that a later run's articles about the same event join that
story instead of starting their own.

Written, committed and expired like the dedupe signatures (`transforms.state_files`): a run's rows
are visible once its articles are, and a run that failed before its commit point remembers
nothing. The files are plain Parquet (`STORY_MEMORY_SCHEMA`), to inspect with DuckDB.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

import pyarrow as pa

from pipeline.article import TIMESTAMP, Article, utc
from pipeline.options import Settings
from transforms.state_files import ReadStateFiles, WriteStateFiles, expire_files, state_folder

STAGE = "stories"
MEMORY = "stories"

STORY_MEMORY_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("story_id", pa.string()),
        ("published", TIMESTAMP),
        ("terms", pa.list_(pa.string())),
        ("counts", pa.list_(pa.int32())),
        ("entity_keys", pa.list_(pa.string())),
        ("kept_at", TIMESTAMP),
    ]
)


class RememberedArticle(NamedTuple):
    id: str
    story_id: str
    published: datetime | None
    counts: Counter
    entity_keys: list[str]
    kept_at: datetime | None

    def to_row(self) -> dict[str, Any]:
        return {"id": self.id, "story_id": self.story_id, "published": self.published,
                "terms": list(self.counts), "counts": list(self.counts.values()),
                "entity_keys": self.entity_keys, "kept_at": self.kept_at}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RememberedArticle:
        return cls(row["id"], row["story_id"], utc(row["published"]), Counter(dict(zip(row["terms"], row["counts"]))),
                   row["entity_keys"], row["kept_at"])


def memory_folder(output: str) -> str:
    return state_folder(output, MEMORY)


def horizon_start(settings: Settings, now: datetime) -> datetime:
    """Articles kept before this are no longer remembered."""
    return now - timedelta(days=settings.story_memory_days)


def write_story_memory(root: str, run_id: str, settings: Settings,
                       to_remembered: Callable[[Article, Settings], RememberedArticle]) -> WriteStateFiles:
    """Articles, with their `story_id`, made `RememberedArticle`s by `to_remembered` to
    `<root>/_state/stories/`, `root` being the run's staging folder."""
    return WriteStateFiles(root, MEMORY, STORY_MEMORY_SCHEMA, to_remembered, run_id, settings)


def read_story_memory(folder: str, settings: Settings, now: datetime) -> ReadStateFiles:
    """The committed `RememberedArticle`s kept within the horizon before `now`."""
    return ReadStateFiles(folder, STAGE, horizon_start(settings, now), RememberedArticle.from_row)


def expire_story_memory(folder: str, settings: Settings, now: datetime | None = None) -> list[str]:
    """Delete the committed memory files whose every article was kept before the horizon."""
    return expire_files(folder, horizon_start(settings, now or datetime.now(timezone.utc)))
