"""Clean stage: raw input to the article's body text, metadata, language and content hash."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import time
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.article import Article
from pipeline.options import Settings
from transforms.extract_html import extract_html
from transforms.extract_text import extract_plain_text
from transforms.rejects import REJECTS, InputError, reject_article

STAGE = "clean"
WORD = re.compile(r"\w+")


class CleanArticles(beam.PTransform):
    """Raw `Article`s to clean ones (text, title, date, language, hash); too little text is a reject."""

    def __init__(self, settings: Settings = Settings()):
        super().__init__()
        self.settings = settings

    def expand(self, articles):
        cleaned = articles | "Extract" >> beam.ParDo(CleanFn(self.settings)).with_outputs(
            REJECTS, main="articles")
        return cleaned.articles, cleaned.rejects


class CleanFn(beam.DoFn):
    def __init__(self, settings: Settings):
        self.settings = settings
        self.kept = Metrics.counter(STAGE, "kept")
        self.rejected = Metrics.counter(STAGE, "rejected")
        self.msecs = Metrics.counter(STAGE, "msecs")

    def setup(self):
        import py3langid

        self.identify_language = py3langid.classify

    def process(self, article: Article) -> Iterator:
        started = time.perf_counter()
        try:
            yield self.clean(article)
            self.kept.inc()
        except Exception as error:  # noqa: BLE001 - every failure becomes a reject row
            self.rejected.inc()
            yield reject_article(STAGE, error, article)
        self.msecs.inc(int((time.perf_counter() - started) * 1000))

    def clean(self, article: Article) -> Article:
        extract = extract_html if article.format == "html" else extract_plain_text
        article = extract(article)
        words = len(WORD.findall(article.text))
        if words == 0:
            raise InputError("no article text found in the page")
        if words < self.settings.min_words:
            raise InputError(
                f"too little text to be an article: {words} words (the minimum is {self.settings.min_words})")
        return dataclasses.replace(
            article,
            raw="",
            word_count=words,
            language=article.language or self.identify_language(article.text)[0],
            content_hash=content_hash(article.text),
        )


def normalised_words(text: str) -> list[str]:
    """The text as lower-case word tokens: what dedup and the content hash compare."""
    return WORD.findall(text.casefold())


def content_hash(text: str) -> str:
    """Equal for texts that differ only in case, punctuation and spacing."""
    return hashlib.sha256(" ".join(normalised_words(text)).encode()).hexdigest()[:32]
