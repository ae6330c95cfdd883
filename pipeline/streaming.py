"""`newsbeam run --streaming`: the ingest stages as one unbounded Beam pipeline, for the runners
that execute streaming (Flink, Dataflow).

Outline:
1. `PeriodicImpulse` fires every `stream_poll_seconds`; at each impulse the feeds that are due
   are polled (`transforms.poll_feeds`: per-feed keyed state holds validators, schedule and the
   entries seen), each new entry timestamped when it was polled;
2. the stages that work article by article run as in batch: Clean, Entities, Topics;
3. dedupe runs on keyed state (`transforms.dedupe_streaming`): an article is compared with the
   kept articles it shares a bucket with, within the dedupe horizon;
4. the outcomes are written per event-time window, each window firing committed as one run of
   the lake (`sinks.windowed_parquet`).
The stories stage, which groups a whole batch, is not part of the stream.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta, timezone

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import StandardOptions
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.transforms.window import FixedWindows
from apache_beam.utils.timestamp import MAX_TIMESTAMP

from pipeline.commit import read_json
from pipeline.layout import RUNS
from pipeline.options import LOCAL_STREAMING_RUNNER, Settings, runner_key
from pipeline.run import installed_ner_model, pipeline_options, topic_taxonomy
from sinks.windowed_parquet import WriteWindowRuns
from transforms.clean import CleanArticles
from transforms.dedupe_streaming import StreamingDedupe
from transforms.entities import TagEntities
from transforms.poll_feeds import PollFeeds
from transforms.topics import ClassifyTopics


class StreamIngest(beam.PTransform):
    """Impulses (timestamped elements) to the lake: one committed run per window firing. A
    `bounded` stream keeps its feeds' and buckets' state for its whole run (see `PollFeeds`)."""

    def __init__(self, feeds: list[str], output: str, stream_id: str, settings: Settings = Settings(),
                 bounded: bool = False):
        super().__init__()
        self.feeds = feeds
        self.output = output
        self.stream_id = stream_id
        self.settings = settings
        self.bounded = bounded

    def expand(self, impulses):
        s = self.settings
        raw, read_rejects = impulses | "Read" >> PollFeeds(self.feeds, self.stream_id, s, expire_state=not self.bounded)
        clean, clean_rejects = raw | "Clean" >> CleanArticles(s)
        kept, duplicates, dedupe_rejects = clean | "Dedupe" >> StreamingDedupe(s, expire_state=not self.bounded)
        # From here on in the write's windows (the stateful stages above work across them): the
        # batching stages keep each article in its window, and the outcomes flatten together.
        windowed = {name: collection | f"Window{name}" >> beam.WindowInto(FixedWindows(s.stream_window_seconds))
                    for name, collection in (("Raw", raw), ("ReadRejects", read_rejects),
                                             ("CleanRejects", clean_rejects), ("DedupeRejects", dedupe_rejects),
                                             ("Kept", kept), ("Duplicates", duplicates))}
        tagged, entity_rejects = windowed["Kept"] | "Entities" >> TagEntities(s)
        articles, topic_rejects = tagged | "Topics" >> ClassifyTopics(s)
        rejects = ((windowed["ReadRejects"], windowed["CleanRejects"], windowed["DedupeRejects"], entity_rejects,
                    topic_rejects)
                   | "AllRejects" >> beam.Flatten())
        read = (windowed["Raw"], windowed["ReadRejects"]) | "AllRead" >> beam.Flatten()
        return ({"read": read, "articles": articles, "duplicates": windowed["Duplicates"], "rejects": rejects}
                | "Write" >> WriteWindowRuns(self.output, self.stream_id, s))


def run_streaming(feeds: list[str], output: str, settings: Settings = Settings(), beam_args: list[str] = (),
                  stop_after: timedelta | None = None):
    """Start the stream; with `stop_after`, the impulses stop then and the job runs bounded (on
    FnApiRunner unless another runner is asked for) and is waited for. Returns the stream's id
    (in its runs' ids) and the runner's result."""
    settings = dataclasses.replace(settings, ner_model=installed_ner_model(settings))
    topic_taxonomy(settings, output)
    args = list(beam_args) if stop_after else [*beam_args, "--streaming"]
    options = pipeline_options(args)
    runner = options.view_as(StandardOptions).runner
    if not stop_after and runner_key(runner) == runner_key(LOCAL_STREAMING_RUNNER):
        raise ValueError("a stream without end needs a streaming runner (--runner FlinkRunner or DataflowRunner); "
                         "--stop-after runs it bounded here")
    started = datetime.now(timezone.utc)
    stream_id = f"stream{uuid.uuid4().hex[:6]}"
    pipeline = beam.Pipeline(options=options)
    _ = (pipeline
         | "Impulses" >> PeriodicImpulse(
             start_timestamp=started.timestamp(),
             stop_timestamp=(started + stop_after).timestamp() if stop_after else MAX_TIMESTAMP,
             fire_interval=settings.stream_poll_seconds)
         | "Ingest" >> StreamIngest(feeds, output, stream_id, settings, bounded=stop_after is not None))
    result = pipeline.run()
    if stop_after:
        result.wait_until_finish()
    return stream_id, result


def stream_runs(output: str, stream_id: str) -> list[dict]:
    """The manifests of the window runs a stream has committed so far."""
    found = FileSystems.match([FileSystems.join(output, RUNS, f"*-{stream_id}-*.json")])[0].metadata_list
    return [read_json(m.path) for m in sorted(found, key=lambda m: m.path)]
