"""The sketch that lets only possibly shared bucket keys into dedupe's shuffle: it must never
miss a shared key, whichever way its parts were combined, and let few unshared ones through."""

from __future__ import annotations

import pickle
import random

import pytest

from transforms.key_sketch import KeySketch, SketchKeys


def keys_and_shared(count: int, seed: int = 1) -> tuple[list[str], set[str]]:
    rng = random.Random(seed)
    keys = [f"band{rng.randrange(32)}:{rng.getrandbits(80):020x}" for _ in range(count)]
    return keys, set(rng.sample(keys, count // 10))


def sketch_in_parts(keys: list[str], shared: set[str], size: int, parts: int) -> KeySketch:
    """The keys (the shared ones twice) spread over `parts` sketches, each pickled as a runner
    ships an accumulator, then merged."""
    combine = SketchKeys(lambda element: [element], size)
    rng = random.Random(2)
    sketches = [combine.create_accumulator() for _ in range(parts)]
    for key in keys + sorted(shared):
        combine.add_input(sketches[rng.randrange(parts)], key)
    shipped = [pickle.loads(pickle.dumps(combine.compact(sketch))) for sketch in sketches]
    return combine.extract_output(combine.merge_accumulators(shipped))


@pytest.mark.parametrize("size, count, parts", [(1 << 27, 2_000, 1), (1 << 27, 200_000, 4), (1 << 16, 20_000, 3)])
def test_a_shared_key_is_never_missed(size, count, parts):
    keys, shared = keys_and_shared(count)
    sketch = sketch_in_parts(keys, shared, size, parts)
    passed = {key for start in range(0, count, 34) for key in sketch.may_be_shared(keys[start:start + 34])}
    assert shared <= passed
    unshared = set(keys) - shared
    expected = count * 1.1 / size  # the share of other keys' positions
    assert len(passed - shared) / len(unshared) <= max(2 * expected, 0.001)


def test_a_small_sketch_ships_positions_a_large_one_bitsets():
    keys, shared = keys_and_shared(20_000)
    small = sketch_in_parts(keys, shared, 1 << 27, 2)
    assert not small.dense and len(pickle.dumps(small)) < 200_000
    crowded = sketch_in_parts(keys, shared, 1 << 16, 2)
    assert crowded.dense and len(pickle.dumps(crowded)) < 2 * (1 << 16) // 8 + 1_000


def test_an_empty_sketch_shares_nothing():
    combine = SketchKeys(lambda element: [element], 1 << 27)
    assert combine.extract_output(combine.create_accumulator()).may_be_shared(["a", "b"]) == []


def test_sketches_with_nothing_shared_or_nothing_at_all_merge():
    combine = SketchKeys(lambda element: [element], 1 << 27)
    one, other, empty = (combine.create_accumulator() for _ in range(3))
    combine.add_input(one, "a")
    combine.add_input(other, "b")
    merged = combine.extract_output(combine.merge_accumulators([one, empty, other]))
    assert merged.may_be_shared(["a", "b"]) == []
