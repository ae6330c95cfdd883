"""The Beam graph of `newsbeam run`: read, clean, dedupe, entities, topics, stories, write."""

from __future__ import annotations

import apache_beam as beam

from pipeline.article import ARTICLE_SCHEMA, DUPLICATE_SCHEMA, REJECT_SCHEMA
from pipeline.options import Settings
from sinks.parquet import WriteParquetTable
from transforms.clean import CleanArticles
from transforms.dedupe import DedupeArticles
from transforms.entities import TagEntities
from transforms.read import ReadArticles
from transforms.signature_store import WritePendingSignatures, signature_folder
from transforms.stories import AssignStories
from transforms.topic_model import TOPICS
from transforms.topics import ClassifyTopics


class IngestArticles(beam.PTransform):
    """Input paths to the three outputs: kept articles, duplicates and rejects."""

    def __init__(self, inputs: list[str], run_id: str, settings: Settings = Settings(),
                 dedupe_state: str | None = None):
        super().__init__()
        self.inputs = inputs
        self.run_id = run_id
        self.settings = settings
        self.dedupe_state = dedupe_state  # the folder of signatures kept by earlier runs

    def expand(self, pbegin):
        s = self.settings
        raw, read_rejects = pbegin | "Read" >> ReadArticles(self.inputs, self.run_id, s)
        clean, clean_rejects = raw | "Clean" >> CleanArticles(s)
        kept, duplicates = clean | "Dedupe" >> DedupeArticles(s, self.dedupe_state)
        tagged, entity_rejects = kept | "Entities" >> TagEntities(s)
        classified, topic_rejects = tagged | "Topics" >> ClassifyTopics(s)
        articles = classified | "Stories" >> AssignStories(s)
        rejects = (read_rejects, clean_rejects, entity_rejects, topic_rejects) | "AllRejects" >> beam.Flatten()
        return articles, duplicates, rejects


class WriteLake(beam.PTransform):
    """The three outputs to `DIR/articles/topic=<slug>/`, `DIR/duplicates/`, `DIR/rejects/`, and
    the kept articles' signatures to `DIR/_state/dedupe/pending/` (committed after the run)."""

    def __init__(self, output: str, run_id: str, settings: Settings = Settings()):
        super().__init__()
        self.output = output
        self.run_id = run_id
        self.settings = settings

    def expand(self, outputs):
        articles, duplicates, rejects = outputs
        files = dict(rows_per_file=self.settings.rows_per_file, row_group_rows=self.settings.row_group_rows,
                     shards=self.settings.write_shards)
        return (
            articles | "WriteArticles" >> WriteParquetTable(
                self.output, "articles", ARTICLE_SCHEMA, self.run_id, partition_by="topic",
                allowed_partitions=TOPICS, **files),
            duplicates | "WriteDuplicates" >> WriteParquetTable(
                self.output, "duplicates", DUPLICATE_SCHEMA, self.run_id, **files),
            rejects | "WriteRejects" >> WriteParquetTable(
                self.output, "rejects", REJECT_SCHEMA, self.run_id, **files),
            articles | "RememberSignatures" >> WritePendingSignatures(
                signature_folder(self.output), self.run_id, self.settings),
        ) | "AllFiles" >> beam.Flatten()
