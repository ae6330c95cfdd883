"""Windowed writes for the streaming pipeline: each firing of an event-time window becomes one
committed run of the lake, so that the lake a stream writes is the one `newsbeam check` and the
query views read.

Outline:
1. the records of the four outcomes (items read, kept articles, duplicates, rejects) are tagged
   with their table and put in fixed windows of their timestamps (when their entry was polled);
2. they are keyed by a shard of their source, so that every record of one source and window
   lands in one group and its ledger balances;
3. a GroupByKey fires when the watermark passes a window's end, and again for each record that
   comes late (within the allowed lateness: nothing late is dropped silently);
4. each firing writes its tables under `_staging/<run_id>/` in the batch writer's layout, with
   the source ledger, and commits them at once with a manifest (`pipeline.commit`). A late
   firing writes no ledger: an item's read record and its outcome come from different branches
   of the graph, and late ones need not fire together.
run_id is `<window start>-<stream id>-s<shard>-p<pane index>`: unique per firing.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timezone

import apache_beam as beam
import pyarrow as pa
from apache_beam.transforms import trigger
from apache_beam.transforms.window import FixedWindows
from apache_beam.utils.windowed_value import PaneInfoTiming

from pipeline.article import LedgerRow
from pipeline.commit import commit_run, staging_root
from pipeline.layout import PARTITIONED_BY, TABLE_SCHEMAS
from pipeline.manifest import count_outputs, write_empty_tables
from pipeline.options import Settings
from sinks.parquet import FileOf, stable_shard, table_folder, write_files
from transforms.topic_model import taxonomy

OUTCOMES = {"read": "read", "articles": "kept", "duplicates": "duplicates", "rejects": "rejected"}


class WriteWindowRuns(beam.PTransform):
    """{"read", "articles", "duplicates", "rejects": records} to one committed run per window
    firing; yields the manifests' paths."""

    def __init__(self, output: str, stream_id: str, settings: Settings = Settings()):
        super().__init__()
        self.output = output
        self.stream_id = stream_id
        self.settings = settings

    def expand(self, outcomes: dict):
        s = self.settings
        tagged = [outcomes[table] | f"Tag{table.title()}" >> beam.Map(lambda record, table=table: (table, record))
                  for table in OUTCOMES]
        return (
            tagged
            | "AllOutcomes" >> beam.Flatten()
            | "Window" >> beam.WindowInto(
                FixedWindows(s.stream_window_seconds),
                trigger=trigger.AfterWatermark(late=trigger.AfterCount(1)),
                allowed_lateness=s.stream_allowed_lateness_seconds,
                accumulation_mode=trigger.AccumulationMode.DISCARDING)
            | "KeyBySource" >> beam.Map(lambda tagged_record: (
                stable_shard(tagged_record[1].source, s.write_shards), tagged_record))
            | "GroupFiring" >> beam.GroupByKey()
            | "CommitRun" >> beam.ParDo(CommitWindowRun(self.output, self.stream_id, s))
        )


class CommitWindowRun(beam.DoFn):
    def __init__(self, output: str, stream_id: str, settings: Settings):
        self.output = output
        self.stream_id = stream_id
        self.settings = settings
        self.topics = taxonomy(settings.topic_model)

    def process(self, keyed, window=beam.DoFn.WindowParam, pane=beam.DoFn.PaneInfoParam) -> Iterator[str]:
        shard, records = keyed
        start = window.start.to_utc_datetime(has_tz=True)
        run_id = f"{start:%Y%m%dT%H%M%SZ}-{self.stream_id}-s{shard}-p{pane.index}"
        staging = staging_root(self.output, run_id)
        rows: dict[str, list[dict]] = defaultdict(list)
        ledger: dict[str, Counter] = defaultdict(Counter)
        for table, record in records:
            ledger[record.source][OUTCOMES[table]] += 1
            if table != "read":
                rows[table].append(dataclasses.replace(record, run_id=run_id).to_row())
        if pane.timing != PaneInfoTiming.LATE:
            rows["ledger"] = [LedgerRow(source=source, run_id=run_id, **{o: counts[o] for o in OUTCOMES.values()})
                              .to_row() for source, counts in sorted(ledger.items())]
        for table, table_rows in rows.items():
            for folder, group in self.folders(staging, table, table_rows):
                schema = TABLE_SCHEMAS[table]
                write_files(folder, run_id, shard, schema, [pa.Table.from_pylist(group, schema=schema)],
                            self.settings.row_group_rows, self.settings.rows_per_file)
        write_empty_tables(staging, run_id)
        manifest = {
            "run_id": run_id,
            "started_at": datetime.now(timezone.utc).isoformat(),
            "stream": self.stream_id,
            "window": [start.isoformat(), window.end.to_utc_datetime(has_tz=True).isoformat()],
            "pane": {"index": pane.index, "timing": PaneInfoTiming.to_string(pane.timing)},
            "output": self.output,
            "settings": dataclasses.asdict(self.settings),
            "topics": self.topics,
            "counts": count_outputs(staging),
        }
        yield commit_run(self.output, run_id, manifest)

    def folders(self, staging: str, table: str, rows: list[dict]) -> Iterator[tuple[str, list[dict]]]:
        """The table's folder, one per topic for articles, as the batch writer lays them out."""
        partition_by = PARTITIONED_BY.get(table)
        file_of = FileOf(partition_by, self.topics, shards=1)
        by_partition: dict[str, list[dict]] = defaultdict(list)
        for row in rows:
            by_partition[file_of(row)[0]].append(row)
        for partition, group in sorted(by_partition.items()):
            yield table_folder(staging, table, partition_by, partition), group
