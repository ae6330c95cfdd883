"""The Parquet files of what a lake remembers across runs, in `DIR/_state/<kind>/`: the dedupe
signatures and the stories' memory. A run's sink writes them into its staging folder, the run's
commit (`pipeline.commit`) makes them visible with the rows they describe, and once a file's
every row was kept before the horizon it is deleted. Any Beam filesystem works."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone

import apache_beam as beam
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipeline.layout import STATE
from pipeline.logs import LOG
from pipeline.options import Settings
from sinks.parquet import WriteParquetTable, read_parquet, read_parquet_metadata

KEPT_AT = "kept_at"  # the column every state file expires by: when its article was kept


def state_folder(root: str, kind: str) -> str:
    return FileSystems.join(root, STATE, kind)


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
                FileSystems.join(self.root, STATE), self.kind, self.schema, self.run_id,
                shards=s.write_shards, row_group_rows=s.row_group_rows, rows_per_file=s.rows_per_file)
        )


class ReadStateFiles(beam.PTransform):
    """The committed files of a state folder, spread over the workers, as the records `from_row`
    makes of their rows kept since `horizon`. A file that cannot be read, or that `refusal` (a
    function of its table) gives a reason against, is skipped with a warning and counted."""

    def __init__(self, folder: str, stage: str, horizon: datetime, from_row: Callable,
                 refusal: Callable[[pa.Table], str | None] | None = None):
        super().__init__()
        self.folder = folder
        self.read_file = ReadStateFile(stage, horizon, from_row, refusal)

    def expand(self, pbegin):
        return (
            pbegin
            | "Folder" >> beam.Create([self.folder])
            | "ListFiles" >> beam.FlatMap(committed_files)
            | "SpreadFiles" >> beam.Reshuffle()
            | "ReadFile" >> beam.ParDo(self.read_file)
        )


class ReadStateFile(beam.DoFn):
    def __init__(self, stage: str, horizon: datetime, from_row: Callable,
                 refusal: Callable[[pa.Table], str | None] | None):
        self.stage = stage
        self.horizon = horizon
        self.from_row = from_row
        self.refusal = refusal
        self.remembered = Metrics.counter(stage, "remembered")
        self.skipped_files = Metrics.counter(stage, "state_files_skipped")

    def process(self, path: str) -> Iterator:
        try:
            table = read_parquet(path)
        except Exception as error:  # noqa: BLE001 - an unreadable state file is skipped, not fatal
            self.skip(path, f"is unreadable and was skipped: {error}")
            return
        refused = self.refusal(table) if self.refusal is not None else None
        if refused:
            self.skip(path, refused)
            return
        for row in table.to_pylist():
            if row[KEPT_AT] is None or row[KEPT_AT] >= self.horizon:
                self.remembered.inc()
                yield self.from_row(row)

    def skip(self, path: str, reason: str) -> None:
        self.skipped_files.inc()
        LOG.warning("%s state file %s %s", self.stage, path, reason)


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
