"""Parquet writer: rows to `DIR/<table>/[<partition>=<value>/]<run_id>-<shard>-<part>.parquet`.

Rows are grouped by (partition value, shard), so each run writes at most `shards` files per
partition (more parts only past `rows_per_file` rows), each in row groups of `row_group_rows`.
Before that shuffle, each worker packs its rows into compressed Arrow batches of up to
`batch_rows` rows per file: the shuffle moves a few large byte strings instead of one Python dict
per row, which a runner that groups in memory (the local FnApiRunner) would hold for the whole
run. A file is written under a temporary name in the same folder and renamed when complete:
readers never see a partial file. The names carry the run id and are the same when a runner
retries a bundle, so a retry replaces its own file. Works on any Beam filesystem (local paths,
gs://, s3://).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from pipeline.layout import partition_folder
from transforms.paths import is_local
from transforms.stage_time import StageTime

TEMPORARY_SUFFIX = ".parquet.tmp"
STAGE = "write"
# lz4 packs the batches' text about threefold at a small fraction of the cost of making the rows
BATCH_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")

FileKey = tuple[str, int]  # (partition value, shard)


class WriteParquetTable(beam.PTransform):
    """Records with a `to_row()` method to one Parquet table; yields the paths written."""

    def __init__(self, output: str, table: str, schema: pa.Schema, run_id: str,
                 partition_by: str | None = None, allowed_partitions: Iterable[str] | None = None,
                 shards: int = 1, row_group_rows: int = 10_000, rows_per_file: int = 100_000,
                 batch_rows: int = 1_000):
        super().__init__()
        self.output = output
        self.table = table
        self.schema = schema
        self.run_id = run_id
        self.file_key = FileOf(partition_by, allowed_partitions, shards)
        self.row_group_rows = row_group_rows
        self.rows_per_file = rows_per_file
        self.batch_rows = batch_rows

    def expand(self, records):
        return (
            records
            | "ToArrowBatches" >> beam.ParDo(ArrowBatches(self.schema, self.file_key, self.batch_rows))
            | "GroupByFile" >> beam.GroupByKey()
            | "Write" >> beam.ParDo(WriteFile(self.output, self.table, self.schema, self.run_id,
                                              self.file_key.partition_by, self.row_group_rows,
                                              self.rows_per_file))
        )


class FileOf:
    """The file a row goes to: its partition value (checked against the allowed ones) and shard."""

    def __init__(self, partition_by: str | None, allowed_partitions: Iterable[str] | None, shards: int):
        self.partition_by = partition_by
        self.allowed = frozenset(allowed_partitions) if allowed_partitions is not None else None
        self.shards = shards

    def __call__(self, row: dict) -> FileKey:
        partition = ""
        if self.partition_by:
            partition = str(row[self.partition_by])
            if self.allowed is not None and partition not in self.allowed:
                raise ValueError(f"{self.partition_by}={partition!r} is not an allowed partition value")
        return partition, stable_shard(row.get("id") or row.get("source") or "", self.shards)


def stable_shard(key: str, shards: int) -> int:
    if shards <= 1:
        return 0
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big") % shards


class ArrowBatches(beam.DoFn):
    """Records to (file key, compressed Arrow batch of their rows), `batch_rows` rows at most."""

    def __init__(self, schema: pa.Schema, file_key: FileOf, batch_rows: int):
        self.schema = schema
        self.file_key = file_key
        self.batch_rows = batch_rows
        self.time = StageTime(STAGE)

    def start_bundle(self):
        self.pending: dict[FileKey, list[dict]] = defaultdict(list)

    def process(self, record) -> Iterator[tuple[FileKey, bytes]]:
        with self.time.measure():
            row = record.to_row()
            key = self.file_key(row)
            rows = self.pending[key]
            rows.append(row)
            batch = self.pack(self.pending.pop(key)) if len(rows) >= self.batch_rows else None
        if batch is not None:
            yield key, batch

    def finish_bundle(self):
        with self.time.measure():
            batches = [(key, self.pack(rows)) for key, rows in self.pending.items()]
            self.pending.clear()
        self.time.report()
        for keyed in batches:
            yield GlobalWindows.windowed_value(keyed)

    def pack(self, rows: list[dict]) -> bytes:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, self.schema, options=BATCH_OPTIONS) as writer:
            writer.write_table(pa.Table.from_pylist(rows, schema=self.schema))
        return sink.getvalue().to_pybytes()


def unpack(batch: bytes) -> pa.Table:
    return pa.ipc.open_stream(batch).read_all()


def read_parquet(path: str, columns: list[str] | None = None) -> pa.Table:
    """A Parquet file on any Beam filesystem, read from its bytes. Handed a Python file object,
    Arrow reads it from its own I/O threads, which call back into Python; one still doing so as
    the interpreter exits aborts the process ("terminate called without an active exception")."""
    with FileSystems.open(path) as handle:
        return pq.read_table(pa.py_buffer(handle.read()), columns=columns)


def read_parquet_metadata(path: str) -> pq.FileMetaData:
    """A Parquet file's footer (row counts, statistics); Arrow reads it on the calling thread."""
    with FileSystems.open(path) as handle:
        return pq.ParquetFile(handle).metadata


class WriteFile(beam.DoFn):
    def __init__(self, output, table, schema, run_id, partition_by, row_group_rows, rows_per_file):
        self.output = output
        self.table = table
        self.schema = schema
        self.run_id = run_id
        self.partition_by = partition_by
        self.row_group_rows = row_group_rows
        self.rows_per_file = rows_per_file
        self.rows = Metrics.counter(STAGE, f"{table}_rows")
        self.time = StageTime(STAGE)

    def process(self, keyed: tuple[FileKey, Iterable[bytes]]) -> Iterator[str]:
        with self.time.measure():
            written = list(self.write(keyed))
        yield from written

    def finish_bundle(self):
        self.time.report()

    def write(self, keyed: tuple[FileKey, Iterable[bytes]]) -> list[str]:
        (partition, shard), batches = keyed
        folder = table_folder(self.output, self.table, self.partition_by, partition)
        return write_files(folder, self.run_id, shard, self.schema, (unpack(b) for b in batches),
                           self.row_group_rows, self.rows_per_file, self.rows)


def table_folder(output: str, table: str, partition_by: str | None, partition: str) -> str:
    """`<output>/<table>`, or the hive-style folder of one partition, `<output>/<table>/<column>=<value>`."""
    folder = FileSystems.join(output, table)
    return FileSystems.join(folder, partition_folder(partition_by, partition)) if partition_by else folder


def write_files(folder: str, run_id: str, shard: int, schema: pa.Schema, tables: Iterable[pa.Table],
                row_group_rows: int, rows_per_file: int, rows_counter=None) -> list[str]:
    """The tables' rows to `<folder>/<run_id>-<shard>-<part>.parquet`, files of at most about
    `rows_per_file` rows in row groups of `row_group_rows`; returns the paths written."""
    written = []
    part, file = 0, None
    for group in row_groups(tables, row_group_rows):
        if file is None:
            file = AtomicParquetFile(FileSystems.join(folder, file_name(run_id, shard, part)), schema)
        file.write(group)
        if rows_counter is not None:
            rows_counter.inc(group.num_rows)
        if file.rows >= rows_per_file:
            written.append(file.commit())
            part, file = part + 1, None
    if file is not None:
        written.append(file.commit())
    return written


def file_name(run_id: str, shard: int, part: int) -> str:
    return f"{run_id}-{shard:03d}-{part:03d}.parquet"


def row_groups(tables: Iterable[pa.Table], size: int) -> Iterator[pa.Table]:
    """The tables' rows in tables of `size` rows (the last one smaller), holding at most one
    group's worth of rows beyond the table being read."""
    pending: list[pa.Table] = []
    rows = 0
    for table in tables:
        pending.append(table)
        rows += table.num_rows
        if rows >= size:
            combined = pa.concat_tables(pending)
            whole = rows - rows % size
            for start in range(0, whole, size):
                yield combined.slice(start, size)
            pending, rows = [combined.slice(whole)], rows - whole
    if rows:
        yield pa.concat_tables(pending)


class AtomicParquetFile:
    """A Parquet file written under a temporary name in its folder and renamed by `commit`."""

    def __init__(self, path: str, schema: pa.Schema):
        if is_local(path):
            os.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        self.path = path
        self.schema = schema
        self.temporary = f"{path[:-len('.parquet')]}.{uuid.uuid4().hex[:8]}{TEMPORARY_SUFFIX}"
        self.handle = FileSystems.create(self.temporary)
        self.writer = pq.ParquetWriter(self.handle, schema, compression="zstd")
        self.rows = 0

    def write(self, group: pa.Table) -> None:
        """Append one row group."""
        self.writer.write_table(group, row_group_size=group.num_rows)
        self.rows += group.num_rows

    def commit(self) -> str:
        self.writer.close()
        self.handle.close()
        if FileSystems.exists(self.path):
            FileSystems.delete([self.path])
        FileSystems.rename([self.temporary], [self.path])
        return self.path

