"""The Parquet files of what a lake remembers across runs, in `DIR/_state/<kind>/`: the dedupe
signatures and the stories' memory. A run's sink writes them into its staging folder, the run's
commit (`pipeline.commit`) makes them visible with the rows they describe, and once a file's
every row was kept before the horizon it is deleted. Any Beam filesystem works."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import apache_beam as beam
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems

from pipeline.options import Settings
from pipeline.state import STATE_FOLDER
from sinks.parquet import WriteParquetTable, read_parquet_metadata

KEPT_AT = "kept_at"  # the column every state file expires by: when its article was kept


def state_folder(root: str, kind: str) -> str:
    return FileSystems.join(root, STATE_FOLDER, kind)


class WriteStateFiles(beam.PTransform):
    """Kept articles, each made a record by `to_record(article, settings)` (records having a
    `to_row()` method), to `<root>/_state/<kind>/`, `root` being the run's staging folder."""

    def __init__(self, root: str, kind: str, schema: pa.Schema, to_record: Callable, run_id: str,
                 settings: Settings):
        super().__init__()
        self.root = root
        self.kind = kind
        self.schema = schema
        self.to_record = to_record
        self.run_id = run_id
        self.settings = settings

    def expand(self, articles):
        s = self.settings
        return (
            articles
            | "ToRecord" >> beam.Map(self.to_record, s)
            | "Write" >> WriteParquetTable(
                FileSystems.join(self.root, STATE_FOLDER), self.kind, self.schema, self.run_id,
                shards=s.write_shards, row_group_rows=s.row_group_rows, rows_per_file=s.rows_per_file)
        )


class ReadStateFiles(beam.PTransform):
    """The committed files of a state folder, spread over the workers and each read by `read_file`
    (a DoFn taking a file's path)."""

    def __init__(self, folder: str, read_file: beam.DoFn):
        super().__init__()
        self.folder = folder
        self.read_file = read_file

    def expand(self, pbegin):
        return (
            pbegin
            | "Folder" >> beam.Create([self.folder])
            | "ListFiles" >> beam.FlatMap(committed_files)
            | "SpreadFiles" >> beam.Reshuffle()
            | "ReadFile" >> beam.ParDo(self.read_file)
        )


def committed_files(folder: str) -> list[str]:
    pattern = FileSystems.join(folder, "*.parquet")
    return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)


def expire_files(folder: str, horizon: datetime) -> list[str]:
    """Delete the committed files whose every row was kept before `horizon`; returns their paths."""
    expired = [path for path in committed_files(folder) if last_kept(path) < horizon]
    if expired:
        FileSystems.delete(expired)
    return expired


def last_kept(path: str) -> datetime:
    """The latest `kept_at` in a state file, from its footer statistics."""
    metadata = read_parquet_metadata(path)
    column = metadata.schema.to_arrow_schema().get_field_index(KEPT_AT)
    latest = datetime.max.replace(tzinfo=timezone.utc)
    maxima = []
    for group in range(metadata.num_row_groups):
        statistics = metadata.row_group(group).column(column).statistics
        if statistics is None or not statistics.has_min_max or statistics.null_count:
            return latest  # unknown or undated rows: never expires by date
        maxima.append(statistics.max)
    return max(maxima, default=latest)
