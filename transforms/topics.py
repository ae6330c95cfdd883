"""Topics stage: each article's topic slug (the output's partition key) and its probability."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.article import Article
from pipeline.options import Settings
from transforms.rejects import REJECTS, reject_article
from transforms.stage_time import StageTime
from transforms.topic_model import TopicModel

STAGE = "topics"
BATCH_SIZE = 256


class ClassifyTopics(beam.PTransform):
    def __init__(self, settings: Settings = Settings()):
        super().__init__()
        self.settings = settings

    def expand(self, articles):
        classified = (
            articles
            | "Batch" >> beam.BatchElements(min_batch_size=16, max_batch_size=BATCH_SIZE)
            | "Classify" >> beam.ParDo(ClassifyBatch(self.settings)).with_outputs(REJECTS, main="articles")
        )
        return classified.articles, classified.rejects


class ClassifyBatch(beam.DoFn):
    def __init__(self, settings: Settings):
        self.settings = settings
        self.time = StageTime(STAGE)
        self.rejected = Metrics.counter(STAGE, "rejected")

    def setup(self):
        self.model = TopicModel.load(self.settings.topic_model)
        if self.settings.topic_threshold is not None:
            self.model.threshold = self.settings.topic_threshold

    def process(self, batch: list[Article]) -> Iterator:
        with self.time.measure():  # the whole batch before yielding: fused steps run inside the yield
            outputs = list(self.classify(batch))
        yield from outputs

    def finish_bundle(self):
        self.time.report()

    def classify(self, batch: list[Article]) -> Iterator:
        try:
            predictions = self.model.predict([a.title for a in batch], [a.text for a in batch],
                                             [a.categories for a in batch])
        except Exception:  # noqa: BLE001 - classify one by one so a bad article rejects only itself
            predictions = None
        for position, article in enumerate(batch):
            try:
                topic, score = (predictions[position] if predictions is not None else
                                self.model.predict([article.title], [article.text], [article.categories])[0])
                yield dataclasses.replace(article, topic=self.model.safe_slug(topic), topic_score=float(score))
            except Exception as error:  # noqa: BLE001
                self.rejected.inc()
                yield reject_article(STAGE, error, article)
