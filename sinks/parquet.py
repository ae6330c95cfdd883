"""Parquet writer: rows to `DIR/<table>/[<partition>=<value>/]<run_id>-<shard>.parquet`.

Rows are grouped by (partition value, shard), so each run writes at most `shards` files per
partition, each in row groups of a sensible size. A file is written under a temporary name in
the same folder and renamed when complete: readers never see a partial file. The names carry
the run id and are the same when a runner retries a bundle, so a retry replaces its own file.
Works on any Beam filesystem (local paths, gs://, s3://).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable, Iterator

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

TEMPORARY_SUFFIX = ".parquet.tmp"


class WriteParquetTable(beam.PTransform):
    """Records with a `to_row()` method to one Parquet table; yields the paths written."""

    def __init__(self, output: str, table: str, schema: pa.Schema, run_id: str,
                 partition_by: str | None = None, allowed_partitions: Iterable[str] | None = None,
                 shards: int = 1, row_group_rows: int = 10_000, rows_per_file: int = 100_000):
        super().__init__()
        self.output = output
        self.table = table
        self.schema = schema
        self.run_id = run_id
        self.partition_by = partition_by
        self.allowed = frozenset(allowed_partitions) if allowed_partitions is not None else None
        self.shards = shards
        self.row_group_rows = row_group_rows
        self.rows_per_file = rows_per_file

    def expand(self, records):
        return (
            records
            | "ToRow" >> beam.Map(lambda record: record.to_row())
            | "KeyByFile" >> beam.Map(self.file_key)
            | "GroupByFile" >> beam.GroupByKey()
            | "Write" >> beam.ParDo(WriteFile(self.output, self.table, self.schema, self.run_id,
                                              self.partition_by, self.row_group_rows, self.rows_per_file))
        )

    def file_key(self, row: dict) -> tuple[tuple[str, int], dict]:
        partition = ""
        if self.partition_by:
            partition = str(row[self.partition_by])
            if self.allowed is not None and partition not in self.allowed:
                raise ValueError(f"{self.partition_by}={partition!r} is not an allowed partition value")
        shard = stable_shard(row.get("id") or row.get("source") or "", self.shards)
        return (partition, shard), row


def stable_shard(key: str, shards: int) -> int:
    if shards <= 1:
        return 0
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big") % shards


class WriteFile(beam.DoFn):
    def __init__(self, output, table, schema, run_id, partition_by, row_group_rows, rows_per_file):
        self.output = output
        self.table = table
        self.schema = schema
        self.run_id = run_id
        self.partition_by = partition_by
        self.row_group_rows = row_group_rows
        self.rows_per_file = rows_per_file
        self.rows = Metrics.counter("write", f"{table}_rows")

    def process(self, keyed: tuple[tuple[str, int], Iterable[dict]]) -> Iterator[str]:
        (partition, shard), rows = keyed
        folder = FileSystems.join(self.output, self.table)
        if self.partition_by:
            folder = FileSystems.join(folder, f"{self.partition_by}={partition}")
        yield from write_files(folder, self.run_id, shard, self.schema, rows, self.row_group_rows,
                               self.rows_per_file, self.rows)


def write_files(folder: str, run_id: str, shard: int, schema: pa.Schema, rows: Iterable[dict],
                row_group_rows: int, rows_per_file: int, counter=None) -> Iterator[str]:
    """Rows to `<folder>/<run_id>-<shard>-<part>.parquet` files of at most `rows_per_file` rows;
    yields each path once it is complete."""
    part, file = 0, None
    for group in chunks(rows, row_group_rows):
        if file is None:
            file = AtomicParquetFile(FileSystems.join(folder, f"{run_id}-{shard:03d}-{part:03d}.parquet"), schema)
        file.write(group)
        if counter is not None:
            counter.inc(len(group))
        if file.rows >= rows_per_file:
            yield file.commit()
            part, file = part + 1, None
    if file is not None:
        yield file.commit()


def chunks(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    """Consecutive lists of at most `size` rows, without holding more than one list."""
    chunk: list[dict] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class AtomicParquetFile:
    """A Parquet file written under a temporary name in its folder and renamed by `commit`."""

    def __init__(self, path: str, schema: pa.Schema):
        if "://" not in path:
            os.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        self.path = path
        self.schema = schema
        self.temporary = f"{path[:-len('.parquet')]}.{uuid.uuid4().hex[:8]}{TEMPORARY_SUFFIX}"
        self.handle = FileSystems.create(self.temporary)
        self.writer = pq.ParquetWriter(self.handle, schema, compression="zstd")
        self.rows = 0

    def write(self, rows: list[dict]) -> None:
        self.writer.write_table(pa.Table.from_pylist(rows, schema=self.schema))
        self.rows += len(rows)

    def commit(self) -> str:
        self.writer.close()
        self.handle.close()
        if FileSystems.exists(self.path):
            FileSystems.delete([self.path])
        FileSystems.rename([self.temporary], [self.path])
        return self.path

