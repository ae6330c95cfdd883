"""The ledger: per source, items read = kept + duplicates + rejected, counted inside the run."""

from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam

from pipeline.article import LedgerRow

OUTCOMES = ("read", "kept", "duplicates", "rejected")


class Ledger(beam.PTransform):
    """{outcome: records} for read, kept, duplicates and rejected to one `LedgerRow` per source.

    Every record becomes (source, a count of one for its outcome), and one combine adds them up
    per source: one grouping for the four outcomes, which each cost the runner a stage."""

    def __init__(self, run_id: str):
        super().__init__()
        self.run_id = run_id

    def expand(self, outcomes: dict):
        counted = [outcomes[name] | f"Count{name.title()}" >> beam.Map(lambda r, one=one_count(name): (r.source, one))
                   for name in OUTCOMES]
        return (
            counted
            | "AllOutcomes" >> beam.Flatten()
            | "BySource" >> beam.CombinePerKey(add_counts)
            | "Row" >> beam.MapTuple(self.row)
        )

    def row(self, source: str, counts: tuple[int, ...]) -> LedgerRow:
        return LedgerRow(source=source, run_id=self.run_id, **dict(zip(OUTCOMES, counts)))


def one_count(outcome: str) -> tuple[int, ...]:
    return tuple(int(name == outcome) for name in OUTCOMES)


def add_counts(counts: Iterable[tuple[int, ...]]) -> tuple[int, ...]:
    total = [0] * len(OUTCOMES)
    for count in counts:
        for position, n in enumerate(count):
            total[position] += n
    return tuple(total)
