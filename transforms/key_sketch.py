"""Which keys may be shared: a fixed-size sketch of the keys seen once and seen again.

Dedupe puts every article into one bucket per LSH band, and nearly all those buckets end up with
one member (at 16,000 articles, 470,000 of 544,000 bucket entries), which can match nothing. The
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

import hashlib
from collections.abc import Iterable

import apache_beam as beam
import numpy as np

PENDING_POSITIONS = 1 << 16  # positions gathered before they are folded into the sketch


class KeySketch:
    def __init__(self, size: int):
        self.size = size
        self.dense = False
        self.seen = np.zeros(0, np.uint32)  # sorted positions, or a bitset once dense
        self.again = np.zeros(0, np.uint32)
        self.pending: list[int] = []

    def position(self, key: str) -> int:
        return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") % self.size

    def add(self, keys: Iterable[str]) -> None:
        self.pending.extend(map(self.position, keys))
        if len(self.pending) >= PENDING_POSITIONS:
            self.fold()

    def fold(self) -> None:
        """Counts the pending positions into the sketch."""
        if not self.pending:
            return
        positions, counts = np.unique(np.asarray(self.pending, np.uint32), return_counts=True)
        self.pending = []
        repeated = positions[counts > 1]
        if self.dense:
            self._set(self.again, positions[self._test(self.seen, positions)])
            self._set(self.again, repeated)
            self._set(self.seen, positions)
            return
        shared = np.intersect1d(positions, self.seen, assume_unique=True)
        self.again = np.union1d(self.again, np.union1d(repeated, shared))
        self.seen = np.union1d(self.seen, positions)
        self._densify_if_smaller()

    def merge(self, other: KeySketch) -> None:
        """Adds `other`'s counts to this sketch (folding `other` in place)."""
        self.fold()
        other.fold()
        if self.dense or other.dense:
            self._densify()
            other._densify()
            self.again |= other.again | (self.seen & other.seen)
            self.seen |= other.seen
            return
        shared = np.intersect1d(self.seen, other.seen, assume_unique=True)
        self.again = np.union1d(np.union1d(self.again, other.again), shared)
        self.seen = np.union1d(self.seen, other.seen)
        self._densify_if_smaller()

    def may_be_shared(self, keys: list[str]) -> list[str]:
        """The keys not seen only once; call `fold` after the last `add`."""
        positions = np.fromiter(map(self.position, keys), np.uint32, len(keys))
        if self.dense:
            found = self._test(self.again, positions)
        else:
            index = np.minimum(np.searchsorted(self.again, positions), max(len(self.again) - 1, 0))
            found = self.again[index] == positions if len(self.again) else np.zeros(len(keys), bool)
        return [key for key, shared in zip(keys, found) if shared]

    def _densify_if_smaller(self) -> None:
        if self.seen.nbytes > self.size // 8:
            self._densify()

    def _densify(self) -> None:
        if self.dense:
            return
        seen, again = np.zeros(self.size // 8 + 1, np.uint8), np.zeros(self.size // 8 + 1, np.uint8)
        self._set(seen, self.seen)
        self._set(again, self.again)
        self.seen, self.again, self.dense = seen, again, True

    @staticmethod
    def _set(bitset: np.ndarray, positions: np.ndarray) -> None:
        np.bitwise_or.at(bitset, positions >> 3, np.left_shift(1, positions & 7).astype(np.uint8))

    @staticmethod
    def _test(bitset: np.ndarray, positions: np.ndarray) -> np.ndarray:
        return (bitset[positions >> 3] >> (positions & 7).astype(np.uint8)) & 1 == 1


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
