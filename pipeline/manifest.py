"""The run manifest `DIR/_runs/<run_id>.json`: what a run read, kept, dropped and rejected.

Counts come from the Parquet files the run wrote (their footers, and the `stage` column of the
rejects), not from runner metrics, so they are exact on any runner and under retries. Stage
timings come from the stages' metrics counters.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline.commit import read_json
from pipeline.layout import RUNS, TABLE_SCHEMAS, TABLES, topic_folder
from sinks.parquet import AtomicParquetFile, file_name, read_parquet, read_parquet_metadata
from transforms.read import escape_pattern, matched_paths


def table_files(root: str, table: str) -> list[str]:
    """The Parquet files of a table under `root`, relative to `root`."""
    found = set()
    literal = escape_pattern(root)
    for pattern in (FileSystems.join(literal, table, "*.parquet"), FileSystems.join(literal, table, "**", "*.parquet")):
        found.update(matched_paths(pattern))
    return sorted(path[len(root):].lstrip("/") for path in found)


def _rows(path: str) -> int:
    return read_parquet_metadata(path).num_rows


def _column_counts(paths: list[str], column: str) -> Counter:
    counts: Counter = Counter()
    for path in paths:
        counts.update(read_parquet(path, columns=[column]).column(column).to_pylist())
    return counts


def count_outputs(root: str) -> dict[str, Any]:
    """The counts of one run's tables, written under `root`."""
    files = {table: table_files(root, table) for table in TABLES}
    per_topic: Counter = Counter()
    for path in files["articles"]:
        per_topic[topic_folder(path) or ""] += _rows(FileSystems.join(root, path))
    kept = sum(per_topic.values())
    dropped = sum(_rows(FileSystems.join(root, p)) for p in files["duplicates"])
    rejected_by_stage = _column_counts([FileSystems.join(root, p) for p in files["rejects"]], "stage")
    rejected = sum(rejected_by_stage.values())
    ledger = _column_counts([FileSystems.join(root, p) for p in files["ledger"]], "read")
    return {
        "read": sum(value * times for value, times in ledger.items()),
        "kept": kept,
        "duplicates": dropped,
        "rejected": rejected,
        "inputs": kept + dropped + rejected,
        "per_topic": dict(sorted(per_topic.items())),
        "rejected_by_stage": dict(sorted(rejected_by_stage.items())),
        "sources": sum(ledger.values()),
        "files": files,
    }


def newest_manifest(output: str) -> dict | None:
    """The manifest of the lake's newest run, by run id (which starts with its time); None for none."""
    paths = matched_paths(FileSystems.join(escape_pattern(output), RUNS, "*.json"))
    return read_json(max(paths)) if paths else None


def write_empty_tables(root: str, run_id: str) -> None:
    """Give the duplicates and rejects tables a file even when this run had no such rows, so
    that a query over them finds the table (with its schema) rather than no files at all."""
    for table in ("duplicates", "rejects"):
        if not table_files(root, table):
            AtomicParquetFile(FileSystems.join(root, table, file_name(run_id, 0, 0)), TABLE_SCHEMAS[table]).commit()


def stage_metrics(result) -> dict[str, dict[str, int]]:
    """Counters of the finished pipeline, as {stage: {name: value}}."""
    by_stage: dict[str, dict[str, int]] = {}
    try:
        counters = result.metrics().query()["counters"]
    except Exception:  # noqa: BLE001 - some runners report no metrics; the counts above still hold
        return by_stage
    for counter in counters:
        key = counter.key.metric
        value = counter.committed if counter.committed is not None else counter.attempted
        stage = by_stage.setdefault(key.namespace, {})
        stage[key.name] = stage.get(key.name, 0) + int(value or 0)
    return by_stage


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
