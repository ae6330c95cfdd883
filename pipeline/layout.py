"""A lake's layout: the one place its folders and tables are named.

    DIR/_runs/<run_id>.json                                     a finished run's manifest
    DIR/articles/topic=<topic>/<run_id>-<shard>-<part>.parquet  one row per kept article
    DIR/duplicates/, DIR/rejects/, DIR/ledger/                  the other tables, not partitioned
    DIR/_state/                                                 what later runs remember
    DIR/_staging/<run_id>/                                      a run's files until it commits

Names only, without Beam or DuckDB: the writers, the manifest, `check` and the query side all
read them here.
"""

from __future__ import annotations

import pyarrow as pa

from pipeline.article import ARTICLE_SCHEMA, DUPLICATE_SCHEMA, LEDGER_SCHEMA, REJECT_SCHEMA
from transforms.topic_model import TOPICS

RUNS = "_runs"
STATE = "_state"
STAGING = "_staging"
TABLE_SCHEMAS: dict[str, pa.Schema] = {
    "articles": ARTICLE_SCHEMA,
    "duplicates": DUPLICATE_SCHEMA,
    "rejects": REJECT_SCHEMA,
    "ledger": LEDGER_SCHEMA,
}
TABLES = tuple(TABLE_SCHEMAS)
PARTITIONED_BY = {"articles": "topic"}  # hive style: a folder `topic=<slug>` for each value


def partition_folder(column: str, value: str) -> str:
    """The hive-style name of the folder of one partition value: `topic=sport`."""
    return f"{column}={value}"


def topic_folder(path: str) -> str | None:
    """The topic an articles file's folder names (`articles/topic=<slug>/...`), or None."""
    prefix = partition_folder(PARTITIONED_BY["articles"], "")
    return next((part[len(prefix):] for part in path.split("/") if part.startswith(prefix)), None)


def run_topics(manifest: dict) -> dict[str, str]:
    """The topics a run's articles could be partitioned by (slug -> IPTC code): the taxonomy its
    manifest records, or for a run from before manifests recorded it, the packaged model's."""
    return manifest.get("topics") or TOPICS
