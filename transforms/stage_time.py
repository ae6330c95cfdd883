"""A stage's time inside its DoFns, for the per-stage figures of a run.

Added up in seconds over a bundle and reported once, when the bundle finishes, to the stage's
`msecs` counter: elements shorter than a millisecond, each rounded down on its own, would add
nothing. Time only the DoFn's own work, before it yields: the steps fused after it run inside
the yield.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics


class StageTime:
    def __init__(self, stage: str):
        self.counter = Metrics.counter(stage, "msecs")
        self.seconds = 0.0

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - started

    def report(self) -> None:
        """Call from the DoFn's `finish_bundle`."""
        self.counter.inc(round(self.seconds * 1000))
        self.seconds = 0.0


class Timed(beam.DoFn):
    """`function`'s outputs for each element, as `beam.FlatMap` (or, `many=False`, `beam.Map`)
    gives them, with its time counted in the stage's."""

    def __init__(self, stage: str, function, many: bool = True):
        self.function = function
        self.many = many
        self.time = StageTime(stage)

    def process(self, element, *args) -> Iterator:
        with self.time.measure():
            outputs = list(self.function(element, *args)) if self.many else [self.function(element, *args)]
        yield from outputs

    def finish_bundle(self):
        self.time.report()
