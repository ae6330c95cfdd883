"""The signatures of kept articles, remembered across runs in `DIR/_state/dedupe/`, so that a copy
arriving in a later run is matched to the article an earlier run kept.

Each run writes the signatures of the articles it kept with the Parquet sink into its staging
folder, laid out as `_state/dedupe/`, so the run's commit (`pipeline.commit`) makes them visible
together with the rows they describe; a run that failed before its commit point leaves the state
as it was. After the commit, `expire_signatures` deletes the files that have passed the horizon.
Any Beam filesystem works (local, gs://, s3://). The files are
plain Parquet (`SIGNATURE_SCHEMA`), to inspect with DuckDB; each names in its metadata the MinHash
`algorithm` it was made with, and files of another algorithm are skipped, not compared.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipeline.options import Settings
from sinks.parquet import WriteParquetTable, read_parquet, read_parquet_metadata
from transforms import minhash
from transforms.signatures import SIGNATURE_SCHEMA, Signature, sign

STAGE = "dedupe"
STATE_FOLDER = "_state"
SIGNATURES = "dedupe"
_LOG = logging.getLogger("newsbeam")


def signature_folder(output: str) -> str:
    return FileSystems.join(output, STATE_FOLDER, SIGNATURES)


def horizon_start(settings: Settings, now: datetime) -> datetime:
    """Articles kept before this are no longer remembered."""
    return now - timedelta(days=settings.dedupe_horizon_days)


def schema_for(settings: Settings):
    return SIGNATURE_SCHEMA.with_metadata({"algorithm": minhash.algorithm(settings)})


class WriteSignatures(beam.PTransform):
    """Kept articles to their signatures in `<root>/_state/dedupe/`, where `root` is the run's
    staging folder."""

    def __init__(self, root: str, run_id: str, settings: Settings):
        super().__init__()
        self.root = root
        self.run_id = run_id
        self.settings = settings

    def expand(self, articles):
        return (
            articles
            | "Sign" >> beam.Map(sign, self.settings)
            | "Write" >> WriteParquetTable(FileSystems.join(self.root, STATE_FOLDER), SIGNATURES,
                                           schema_for(self.settings), self.run_id,
                                           shards=self.settings.write_shards,
                                           row_group_rows=self.settings.row_group_rows,
                                           rows_per_file=self.settings.rows_per_file)
        )


class ReadRememberedSignatures(beam.PTransform):
    """The committed signatures kept within the horizon before `now`, as `Signature`s of
    articles kept by an earlier run (`rank.fresh` False)."""

    def __init__(self, folder: str, settings: Settings, now: datetime):
        super().__init__()
        self.folder = folder
        self.settings = settings
        self.now = now

    def expand(self, pbegin):
        return (
            pbegin
            | "Folder" >> beam.Create([self.folder])
            | "ListFiles" >> beam.FlatMap(committed_files)
            | "SpreadFiles" >> beam.Reshuffle()
            | "ReadFile" >> beam.ParDo(ReadSignatureFile(self.settings, horizon_start(self.settings, self.now)))
        )


def committed_files(folder: str) -> list[str]:
    pattern = FileSystems.join(folder, "*.parquet")
    return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)


class ReadSignatureFile(beam.DoFn):
    def __init__(self, settings: Settings, horizon: datetime):
        self.settings = settings
        self.horizon = horizon
        self.remembered = Metrics.counter(STAGE, "remembered")
        self.skipped_files = Metrics.counter(STAGE, "state_files_skipped")

    def process(self, path: str) -> Iterator[Signature]:
        try:
            table = read_parquet(path)
        except Exception as error:  # noqa: BLE001 - an unreadable state file is skipped, not fatal
            self.skipped_files.inc()
            _LOG.warning("dedupe state file %s is unreadable and was skipped: %s", path, error)
            return
        made_with = (table.schema.metadata or {}).get(b"algorithm", b"").decode()
        if made_with != minhash.algorithm(self.settings):
            self.skipped_files.inc()
            _LOG.warning("dedupe state file %s was made with %s, not %s: skipped", path,
                         made_with or "an unknown algorithm", minhash.algorithm(self.settings))
            return
        for row in table.to_pylist():
            if row["kept_at"] is None or row["kept_at"] >= self.horizon:
                self.remembered.inc()
                yield Signature.from_row(row)


def expire_signatures(folder: str, settings: Settings, now: datetime | None = None) -> list[str]:
    """Delete the committed signature files whose every article was kept before the horizon;
    returns their paths."""
    horizon = horizon_start(settings, now or datetime.now(timezone.utc))
    expired = [path for path in committed_files(folder) if last_kept(path) < horizon]
    if expired:
        FileSystems.delete(expired)
    return expired


def last_kept(path: str) -> datetime:
    """The latest `kept_at` in a state file, from its footer statistics."""
    metadata = read_parquet_metadata(path)
    column = SIGNATURE_SCHEMA.get_field_index("kept_at")
    latest = datetime.max.replace(tzinfo=timezone.utc)
    maxima = []
    for group in range(metadata.num_row_groups):
        statistics = metadata.row_group(group).column(column).statistics
        if statistics is None or not statistics.has_min_max or statistics.null_count:
            return latest  # unknown or undated rows: never expires by date
        maxima.append(statistics.max)
    return max(maxima, default=latest)
