"""Entities stage: spaCy named entities on the clean text, canonical names with counts."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.article import Article
from pipeline.options import Settings
from transforms.entity_names import canonical_entities
from transforms.rejects import REJECTS, reject_article

STAGE = "entities"
NER_ONLY = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]


class TagEntities(beam.PTransform):
    """Articles to articles with `entities` set; English only (others pass untagged)."""

    def __init__(self, settings: Settings = Settings()):
        super().__init__()
        self.settings = settings

    def expand(self, articles):
        tagged = (
            articles
            | "Batch" >> beam.BatchElements(min_batch_size=8, max_batch_size=self.settings.ner_batch_size)
            | "Tag" >> beam.ParDo(TagBatch(self.settings)).with_outputs(REJECTS, main="articles")
        )
        return tagged.articles, tagged.rejects


def load_ner(settings: Settings):
    """The spaCy pipeline with only what NER needs, the configured model or its fallback."""
    import spacy

    try:
        return spacy.load(settings.ner_model, exclude=NER_ONLY)
    except OSError:
        return spacy.load(settings.ner_fallback_model, exclude=NER_ONLY)


class TagBatch(beam.DoFn):
    def __init__(self, settings: Settings):
        self.settings = settings
        self.tagged = Metrics.counter(STAGE, "tagged")
        self.rejected = Metrics.counter(STAGE, "rejected")
        self.msecs = Metrics.counter(STAGE, "msecs")

    def setup(self):
        self.nlp = load_ner(self.settings)

    def process(self, batch: list[Article]) -> Iterator:
        started = time.perf_counter()
        english = [a for a in batch if (a.language or "en") == "en"]
        yield from (a for a in batch if (a.language or "en") != "en")
        texts = [a.text[: self.settings.ner_max_chars] for a in english]
        try:
            docs = list(self.nlp.pipe(texts, batch_size=self.settings.ner_batch_size))
        except Exception:  # noqa: BLE001 - retry one by one so one bad text rejects only itself
            docs = None
        for position, article in enumerate(english):
            try:
                doc = docs[position] if docs is not None else self.nlp(texts[position])
                mentions = [(e.text, e.label_, e.start_char) for e in doc.ents]
                yield dataclasses.replace(article, entities=canonical_entities(mentions))
                self.tagged.inc()
            except Exception as error:  # noqa: BLE001
                self.rejected.inc()
                yield reject_article(STAGE, error, article)
        self.msecs.inc(int((time.perf_counter() - started) * 1000))
