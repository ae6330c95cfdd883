"""The ledger: per source, items read = kept + duplicates + rejected, counted inside the run."""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam

from pipeline.article import LedgerRow

OUTCOMES = ("read", "kept", "duplicates", "rejected")


class CountBySource(beam.PTransform):
    """Records with a `source` to (source, count)."""

    def expand(self, records):
        return records | "BySource" >> beam.Map(lambda r: (r.source, 1)) | "Count" >> beam.CombinePerKey(sum)


class Ledger(beam.PTransform):
    """{outcome: records} for read, kept, duplicates and rejected to one `LedgerRow` per source."""

    def __init__(self, run_id: str):
        super().__init__()
        self.run_id = run_id

    def expand(self, outcomes: dict):
        counts = {name: outcomes[name] | f"Count{name.title()}" >> CountBySource() for name in OUTCOMES}
        return counts | "BySource" >> beam.CoGroupByKey() | "Row" >> beam.FlatMap(self.row)

    def row(self, joined: tuple[str, dict]) -> Iterator[LedgerRow]:
        source, counts = joined
        yield LedgerRow(source=source, run_id=self.run_id, **{name: sum(counts[name]) for name in OUTCOMES})
