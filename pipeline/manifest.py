"""The run manifest `DIR/_runs/<run_id>.json`: what a run read, kept, dropped and rejected.

Counts come from the Parquet files the run committed (their footers, and the `stage` column of
the rejects), not from runner metrics, so they are exact on any runner and under retries.
Stage timings come from the stages' metrics counters. The manifest is written last: a run
without one did not finish.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from datetime import datetime, timezone
from typing import Any

import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

STAGES = ("read", "clean", "dedupe", "entities", "topics")


def run_files(output: str, table: str, run_id: str) -> list[str]:
    pattern = FileSystems.join(output, table, "**", f"{run_id}-*.parquet")
    flat = FileSystems.join(output, table, f"{run_id}-*.parquet")
    found = set()
    for result in FileSystems.match([pattern, flat]):
        found.update(m.path for m in result.metadata_list)
    return sorted(found)


def _rows(path: str) -> int:
    with FileSystems.open(path) as handle:
        return pq.ParquetFile(handle).metadata.num_rows


def _column_counts(paths: list[str], column: str) -> Counter:
    counts: Counter = Counter()
    for path in paths:
        with FileSystems.open(path) as handle:
            counts.update(pq.read_table(handle, columns=[column]).column(column).to_pylist())
    return counts


def count_outputs(output: str, run_id: str) -> dict[str, Any]:
    articles = run_files(output, "articles", run_id)
    duplicates = run_files(output, "duplicates", run_id)
    rejects = run_files(output, "rejects", run_id)
    per_topic: Counter = Counter()
    for path in articles:
        topic = next((p.split("=", 1)[1] for p in path.split("/") if p.startswith("topic=")), "")
        per_topic[topic] += _rows(path)
    kept = sum(per_topic.values())
    dropped = sum(_rows(p) for p in duplicates)
    rejected_by_stage = _column_counts(rejects, "stage")
    return {
        "kept": kept,
        "duplicates": dropped,
        "rejected": sum(rejected_by_stage.values()),
        "inputs": kept + dropped + sum(rejected_by_stage.values()),
        "per_topic": dict(sorted(per_topic.items())),
        "rejected_by_stage": dict(sorted(rejected_by_stage.items())),
        "files": {"articles": articles, "duplicates": duplicates, "rejects": rejects},
    }


def write_empty_tables(output: str, run_id: str) -> None:
    """Give the duplicates and rejects tables a file even when this run had no such rows, so
    that a query over them finds the table (with its schema) rather than no files at all."""
    from pipeline.article import DUPLICATE_SCHEMA, REJECT_SCHEMA
    from sinks.parquet import AtomicParquetFile

    for table, schema in (("duplicates", DUPLICATE_SCHEMA), ("rejects", REJECT_SCHEMA)):
        if not run_files(output, table, run_id):
            AtomicParquetFile(FileSystems.join(output, table, f"{run_id}-000-000.parquet"), schema).commit()


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


def write_manifest(output: str, run_id: str, manifest: dict[str, Any]) -> str:
    path = FileSystems.join(output, "_runs", f"{run_id}.json")
    if "://" not in path:
        os.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    temporary = path + ".tmp"
    with FileSystems.create(temporary) as handle:
        handle.write(json.dumps(manifest, indent=2, sort_keys=True, default=str).encode())
    FileSystems.rename([temporary], [path])
    return path


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
