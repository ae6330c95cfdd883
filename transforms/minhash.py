"""MinHash signatures of a text's word shingles, their LSH band keys, and what two signatures
say about the texts: the estimated Jaccard similarity and the containment of the shorter text.

The signature is `rensa`'s RMinHash (pinned, seeded), stored as uint32 values so that it can be
kept across runs: `ALGORITHM` names everything a stored signature depends on.
"""

from __future__ import annotations

import hashlib

import numpy as np

from pipeline.options import Settings
from transforms.clean import normalised_words

SEED = 42


def algorithm(settings: Settings) -> str:
    """What a signature depends on: two signatures compare only when this is the same."""
    from rensa import RMinHash

    return (f"rensa-rminhash-v{RMinHash.ALGORITHM_VERSION}-seed{SEED}-"
            f"{settings.shingle_words}words-{settings.minhash_permutations}perm")


def shingles(text: str, size: int) -> set[str]:
    """The distinct runs of `size` normalised words (the whole text when it is shorter)."""
    words = normalised_words(text)
    if len(words) <= size:
        return {" ".join(words)}
    return set(map(" ".join, zip(*(words[i:] for i in range(size)))))


def signature(shingle_set: set[str], settings: Settings) -> bytes:
    from rensa import RMinHash

    minhash = RMinHash(num_perm=settings.minhash_permutations, seed=SEED)
    minhash.update(list(shingle_set))
    return np.asarray(minhash.digest(), dtype=np.uint32).tobytes()


def band_keys(minhash: bytes, settings: Settings) -> list[str]:
    """One key per band of `minhash_rows` values: texts sharing a key are candidate copies."""
    values = np.frombuffer(minhash, dtype=np.uint32).reshape(settings.minhash_bands, settings.minhash_rows)
    return [f"{band}:{hashlib.blake2b(rows.tobytes(), digest_size=10).hexdigest()}"
            for band, rows in enumerate(values)]


def jaccard(a: bytes, b: bytes) -> float:
    """The estimated Jaccard similarity: the share of permutations whose minimum agrees."""
    return float(np.mean(np.frombuffer(a, np.uint32) == np.frombuffer(b, np.uint32)))


def containment(jaccard_estimate: float, size_a: int, size_b: int) -> float:
    """The estimated share of the smaller shingle set found in the larger, from the Jaccard
    estimate and the two set sizes: |A ∩ B| = J / (1 + J) * (|A| + |B|)."""
    shared = jaccard_estimate / (1 + jaccard_estimate) * (size_a + size_b)
    return min(1.0, shared / max(1, min(size_a, size_b)))
