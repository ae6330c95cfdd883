"""Where a local run's memory goes: `newsbeam run` in this process (one worker), with every
grouping the runner holds reported when it is handed on, and each new peak of the resident memory.

    python bench/memory_trace.py CORPUS [--output DIR] [--min-values 1000]

The local FnApiRunner keeps each shuffle's whole input in memory until the shuffle is read, so a
run's peak is in one of them or just after; the report says which. Each grouping of at least
`--min-values` values is a line: the seconds since the start, the resident memory then, its keys
and values, and its encoded size estimated from 40 keys. Memory is sampled every 0.2 s, and a
peak printed when it is 50 MB above the last one printed.
"""

from __future__ import annotations

import argparse
import pickle
import random
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apache_beam.runners.portability.fn_api_runner import execution  # noqa: E402

from pipeline.run import run_pipeline  # noqa: E402

PAGE_MB = resource.getpagesize() / 2**20
SAMPLED_KEYS = 40


def resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_MB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus")
    parser.add_argument("--output", help="the lake to write (default: a temporary folder)")
    parser.add_argument("--min-values", type=int, default=1000, help="smaller groupings are not reported")
    args = parser.parse_args(argv)
    started = time.monotonic()

    def report(line: str) -> None:
        print(f"{time.monotonic() - started:8.1f} s  {resident_mb():6.0f} MB  {line}", flush=True)

    handed_on = execution.GroupingBuffer.partition

    def partition(buffer, n):
        values = sum(map(len, buffer._table.values()))
        if not buffer._grouped_output and values >= max(1, args.min_values):
            keys = len(buffer._table)
            sample = random.sample(list(buffer._table.values()), min(SAMPLED_KEYS, keys))
            encoded = sum(len(pickle.dumps(v, pickle.HIGHEST_PROTOCOL)) for v in sample) / len(sample) * keys
            first = repr(sample[0][0])[:70]
            report(f"grouping handed on: {keys:,} keys, {values:,} values, about {encoded / 2**20:,.1f} MB; "
                   f"a value: {first}")
        return handed_on(buffer, n)

    execution.GroupingBuffer.partition = partition
    peak = [0.0]

    def watch() -> None:
        while True:
            if resident_mb() > peak[0] + 50:
                peak[0] = resident_mb()
                report("new peak")
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True).start()
    with tempfile.TemporaryDirectory() as scratch:
        manifest = run_pipeline([args.corpus], args.output or str(Path(scratch) / "lake"))
    counts = manifest["counts"]
    report("done: " + ", ".join(f"{counts[name]:,} {name}" for name in ("read", "kept", "duplicates", "rejected")))
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
