"""The Beam graph of `newsbeam run`: read, clean, dedupe, entities, topics, stories, write."""

from __future__ import annotations

from datetime import datetime

import apache_beam as beam

from pipeline.layout import PARTITIONED_BY, TABLE_SCHEMAS
from pipeline.ledger import Ledger
from pipeline.options import Settings
from sinks.parquet import WriteParquetTable
from transforms.clean import CleanArticles
from transforms.dedupe import DedupeArticles
from transforms.entities import TagEntities
from transforms.read import ReadArticles
from transforms.signature_store import signature_folder, write_signatures
from transforms.stories import AssignStories, remember_stories
from transforms.story_memory import memory_folder
from transforms.topic_model import taxonomy
from transforms.topics import ClassifyTopics


class IngestArticles(beam.PTransform):
    """Input paths and feeds to the three outputs (kept articles, duplicates, rejects) and the
    ledger. `output` is the lake, whose `_state/` holds what earlier runs remember: the feeds'
    validators, schedules and seen entries, the signatures of the articles they kept and those
    articles' stories; `now` the time the feeds are polled at."""

    def __init__(self, inputs: list[str], run_id: str, settings: Settings = Settings(),
                 feeds: list[str] = (), output: str | None = None, now: datetime | None = None):
        super().__init__()
        self.inputs = inputs
        self.run_id = run_id
        self.settings = settings
        self.feeds = feeds
        self.output = output
        self.now = now

    def expand(self, pbegin):
        s = self.settings
        raw, read_rejects = pbegin | "Read" >> ReadArticles(self.inputs, self.run_id, s, self.feeds, self.output,
                                                                self.now)
        clean, clean_rejects = raw | "Clean" >> CleanArticles(s)
        remembered = signature_folder(self.output) if self.output else None
        kept, duplicates, dedupe_rejects = clean | "Dedupe" >> DedupeArticles(s, remembered, self.now)
        tagged, entity_rejects = kept | "Entities" >> TagEntities(s)
        classified, topic_rejects = tagged | "Topics" >> ClassifyTopics(s)
        memory = memory_folder(self.output) if self.output else None
        articles = classified | "Stories" >> AssignStories(s, memory, self.now)
        rejects = (read_rejects, clean_rejects, dedupe_rejects, entity_rejects, topic_rejects) | "AllRejects" >> beam.Flatten()
        read = (raw, read_rejects) | "AllRead" >> beam.Flatten()
        ledger = {"read": read, "kept": articles, "duplicates": duplicates, "rejected": rejects} | "Ledger" >> Ledger(self.run_id)
        return articles, duplicates, rejects, ledger


class WriteLake(beam.PTransform):
    """The outputs to `DIR/articles/topic=<slug>/`, `DIR/duplicates/`, `DIR/rejects/`, `DIR/ledger/`,
    and the kept articles' signatures and stories to `DIR/_state/dedupe/` and `DIR/_state/stories/`,
    `DIR` being the run's staging folder."""

    def __init__(self, output: str, run_id: str, settings: Settings = Settings()):
        super().__init__()
        self.output = output
        self.run_id = run_id
        self.settings = settings

    def expand(self, outputs):
        articles, duplicates, rejects, ledger = outputs
        s = self.settings
        files = dict(rows_per_file=s.rows_per_file, row_group_rows=s.row_group_rows, shards=s.write_shards,
                     batch_rows=s.write_batch_rows)

        def table(name: str, **partitions) -> WriteParquetTable:
            return WriteParquetTable(self.output, name, TABLE_SCHEMAS[name], self.run_id, **partitions, **files)

        return (
            articles | "WriteArticles" >> table(
                "articles", partition_by=PARTITIONED_BY["articles"], allowed_partitions=taxonomy(s.topic_model)),
            duplicates | "WriteDuplicates" >> table("duplicates"),
            rejects | "WriteRejects" >> table("rejects"),
            ledger | "WriteLedger" >> table("ledger"),
            articles | "RememberSignatures" >> write_signatures(self.output, self.run_id, self.settings),
            articles | "RememberStories" >> remember_stories(self.output, self.run_id, self.settings),
        ) | "AllFiles" >> beam.Flatten()
