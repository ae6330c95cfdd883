"""Clean stage: raw input to the article's body text, metadata, language and content hash.

A page is extracted once (trafilatura for HTML, a line filter for plain text); a body too short,
empty or not prose is rejected with the reason (see `article_checks`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.article import Article
from pipeline.options import Settings
from transforms.article_checks import WORD, check_article
from transforms.extract_html import extract_html
from transforms.extract_text import extract_plain_text
from transforms.language import LanguageIdentifier, declared_language
from transforms.progress import Progress
from transforms.rejects import REJECTS, InputError, reject_article
from transforms.stage_time import StageTime

STAGE = "clean"


class CleanArticles(beam.PTransform):
    """Raw `Article`s to clean ones (text, title, date, language, hash); too little text is a reject."""

    def __init__(self, settings: Settings = Settings()):
        super().__init__()
        self.settings = settings

    def expand(self, articles):
        # A JSONL export or a feed is one element that yields many articles: spread out, they are
        # cleaned by every worker, not only by the one that read the file.
        cleaned = (
            articles
            | "Spread" >> beam.Reshuffle()
            | "Extract" >> beam.ParDo(CleanFn(self.settings)).with_outputs(REJECTS, main="articles")
        )
        return cleaned.articles, cleaned.rejects


class CleanFn(beam.DoFn):
    def __init__(self, settings: Settings):
        self.settings = settings
        self.kept = Metrics.counter(STAGE, "kept")
        self.rejected = Metrics.counter(STAGE, "rejected")
        self.time = StageTime(STAGE)

    def setup(self):
        self.languages = LanguageIdentifier(self.settings.language_min_confidence)
        self.progress = Progress(STAGE, self.settings.progress_seconds)

    def process(self, article: Article) -> Iterator:
        # timed and caught before yielding: downstream steps fused into this one run inside the
        # yield, and neither their time nor their errors are the clean stage's
        with self.time.measure():
            try:
                result = self.clean(article)
                self.kept.inc()
            except Exception as error:  # noqa: BLE001 - every failure becomes a reject row
                self.rejected.inc()
                result = reject_article(STAGE, error, article)
        self.progress.update(articles=1)
        yield result

    def finish_bundle(self):
        self.time.report()

    def clean(self, article: Article) -> Article:
        s = self.settings
        if len(article.raw) > s.max_page_chars:
            raise InputError(f"too large to be an article: {len(article.raw) / 1e6:.1f} million characters, "
                             f"over the {s.max_page_chars / 1e6:g} million newsbeam extracts from")
        if article.format == "html":
            cleaned = extract_html(article, s)
            declared = declared_language(article.raw)
        else:
            cleaned = extract_plain_text(article)
            declared = None
        words = check_article(article.raw, article.format, cleaned.text, s)
        return dataclasses.replace(
            cleaned,
            raw="",
            word_count=words,
            language=cleaned.language or self.languages.identify(cleaned.text, declared),
            content_hash=content_hash(cleaned.text),
        )


def normalised_words(text: str) -> list[str]:
    """The text as lower-case word tokens: what dedup and the content hash compare."""
    return WORD.findall(text.casefold())


def content_hash(text: str) -> str:
    """Equal for texts that differ only in case, punctuation and spacing."""
    return hashlib.sha256(" ".join(normalised_words(text)).encode()).hexdigest()[:32]
