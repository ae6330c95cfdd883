"""Which keys may be shared: a fixed-size sketch of the keys seen once and seen again.

Dedupe puts every article into one bucket per LSH band, and most of those buckets end up with
one member (at 10,000 generated articles, at least 241,000 of 290,670), which can match nothing. The
sketch is counted over all the keys first, in one combine, so that only keys that may be shared go
into the shuffle. A key is hashed to one of `size` positions, and two bitsets say which positions
were seen and which were seen again: a shared key is never missed, and an unshared one passes only
when another key hashes to its position (about `keys / size` of them: 2.5% at 100,000 articles
with 2^27 positions).

A bundle's sketch is kept as sorted positions while that is smaller than the bitsets (a small
bundle on a cluster runner ships a few kilobytes, not two 16 MB bitsets), and turns into bitsets
once it is not.
"""

from __future__ import annotations

import zlib
from array import array
from collections.abc import Iterable

import apache_beam as beam
import numpy as np

# Positions gathered (4 bytes each) before they are counted into the sketch: counting merges
# sorted arrays as long as everything counted so far, so it is done seldom.
PENDING_POSITIONS = 1 << 22


class KeySketch:
    def __init__(self, size: int):
        self.size = size
        self.dense = False
        self.seen = np.zeros(0, np.uint32)  # sorted positions, or a bitset once dense
        self.again = np.zeros(0, np.uint32)
        self.pending = array("I")

    def position(self, key: str) -> int:
        return zlib.crc32(key.encode()) % self.size  # at most 2**32 positions

    def add(self, keys: Iterable[str]) -> None:
        self.pending.extend(map(self.position, keys))
        if len(self.pending) >= PENDING_POSITIONS:
            self.fold()

    def fold(self) -> None:
        """Counts the pending positions into the sketch."""
        if not self.pending:
            return
        values = np.sort(np.frombuffer(self.pending, np.uint32))
        self.pending = array("I")
        self._combine(distinct(values), distinct(values[1:][values[1:] == values[:-1]]), dense=False)

    def merge(self, other: KeySketch) -> None:
        """Adds `other`'s counts to this sketch (folding `other` in place)."""
        self.fold()
        other.fold()
        self._combine(other.seen, other.again, other.dense)

    def may_be_shared(self, keys: list[str]) -> list[str]:
        """The keys not seen only once; call `fold` after the last `add`."""
        positions = np.fromiter(map(self.position, keys), np.uint32, len(keys))
        if self.dense:
            found = (self.again[positions >> 3] >> (positions & 7).astype(np.uint8)) & 1 == 1
        elif len(self.again):
            found = self.again[np.minimum(np.searchsorted(self.again, positions), len(self.again) - 1)] == positions
        else:
            found = np.zeros(len(keys), bool)
        return [key for key, shared in zip(keys, found) if shared]

    def _combine(self, seen: np.ndarray, again: np.ndarray, dense: bool) -> None:
        """Adds the positions another count saw, and saw again (sorted, or bitsets if `dense`)."""
        if self.dense or dense:
            self._densify()
            if not dense:
                seen, again = self._bitset(seen), self._bitset(again)
            self.again |= again | (self.seen & seen)
            self.seen |= seen
            return
        shared = np.intersect1d(self.seen, seen, assume_unique=True)
        self.again = distinct(np.concatenate((self.again, again, shared)))
        self.seen = distinct(np.concatenate((self.seen, seen)))
        if self.seen.nbytes > self.size // 8:
            self._densify()

    def _densify(self) -> None:
        if not self.dense:
            self.seen, self.again, self.dense = self._bitset(self.seen), self._bitset(self.again), True

    def _bitset(self, positions: np.ndarray) -> np.ndarray:
        """A bitset of `size` bits with those of `positions` (sorted and distinct) set."""
        bitset = np.zeros(self.size // 8 + 1, np.uint8)
        if len(positions):
            indexes = positions >> 3
            starts = np.flatnonzero(np.concatenate(([True], indexes[1:] != indexes[:-1])))
            bitset[indexes[starts]] = np.bitwise_or.reduceat(np.left_shift(1, positions & 7).astype(np.uint8), starts)
        return bitset


def distinct(values: np.ndarray) -> np.ndarray:
    """The values sorted, each once (`np.unique` hashes, which is slower on millions of integers)."""
    values = np.sort(values)
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if len(values) else values


class SketchKeys(beam.CombineFn):
    """Combines each element's keys, as `keys(element)` lists them, into one `KeySketch`."""

    def __init__(self, keys, size: int):
        self.keys = keys
        self.size = size

    def create_accumulator(self) -> KeySketch:
        return KeySketch(self.size)

    def add_input(self, sketch: KeySketch, element) -> KeySketch:
        sketch.add(self.keys(element))
        return sketch

    def merge_accumulators(self, sketches: Iterable[KeySketch]) -> KeySketch:
        sketches = iter(sketches)
        merged = next(sketches)
        for sketch in sketches:
            merged.merge(sketch)
        return merged

    def compact(self, sketch: KeySketch) -> KeySketch:
        sketch.fold()
        return sketch

    def extract_output(self, sketch: KeySketch) -> KeySketch:
        sketch.fold()
        return sketch
