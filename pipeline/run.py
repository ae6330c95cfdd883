"""Run the ingest pipeline once and record its manifest."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timezone

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.graph import IngestArticles, WriteLake
from pipeline.commit import commit_run, lake_lock, recover, staging_root
from pipeline.layout import run_topics
from pipeline.manifest import count_outputs, new_run_id, newest_manifest, stage_metrics, write_empty_tables
from pipeline.options import DEFAULT_RUNNER, LOCAL_RUNNER_KEYS, LOCAL_STREAMING_RUNNER, Settings, runner_key
from pipeline.state import fold_feed_states
from transforms.entities import installed_ner_models, is_installed
from transforms.signature_store import expire_signatures, signature_folder
from transforms.story_memory import expire_story_memory, memory_folder
from transforms.topic_model import TOPICS, TopicModel


class RunOptions(PipelineOptions):
    """Beam's options, each view of them made once.

    Building and translating newsbeam's graph asks the options for a view (`view_as`) about
    1,200 times, and Beam makes each one anew with an argparse parser: about 1 ms each. Every
    view of one options object reads and writes that object's values, so a view made once is
    the same as a new one. The views are not pickled with the options.
    """

    def view_as(self, cls):
        views = self.__dict__.setdefault("_views", {})
        if cls not in views:
            views[cls] = super().view_as(cls)
        return views[cls]

    def __getstate__(self):
        return {name: value for name, value in super().__getstate__().items() if name != "_views"}


def pipeline_options(beam_args: list[str]) -> PipelineOptions:
    """Beam options from the command line, with a runner that never downloads anything.

    Beam's own default, the DirectRunner, first tries Prism, which fetches a binary from the
    internet; asking for DirectRunner (or the FnApiRunner) by any of its names gets the same
    offline choice as no runner.
    """
    options = RunOptions(beam_args)
    standard = options.view_as(StandardOptions)
    if standard.runner is None or runner_key(standard.runner) in LOCAL_RUNNER_KEYS:
        standard.runner = LOCAL_STREAMING_RUNNER if standard.streaming else DEFAULT_RUNNER
    return options


def installed_ner_model(settings: Settings) -> str:
    """The spaCy model the workers will load: the configured one, or for the default (whose
    official package is not on PyPI) its re-upload. A model asked for that is not installed is an
    error, never replaced."""
    if is_installed(settings.ner_model):
        return settings.ner_model
    if settings.ner_model == Settings().ner_model and is_installed(settings.ner_fallback_model):
        return settings.ner_fallback_model
    raise RuntimeError(f"the spaCy model {settings.ner_model} is not installed (pip install it, or pass --ner-model)")


def topic_taxonomy(settings: Settings, output: str) -> dict[str, str]:
    """The topics the workers' model classifies into (slug -> IPTC code), once the model has been
    found to load and its taxonomy to keep every topic of the lake's newest run, with the same code:
    a lake's topic partitions mean one thing across its runs."""
    if settings.topic_model is None:
        topics = TOPICS  # the packaged model: no need to load it to know it loads
    else:
        try:
            topics = TopicModel.load(settings.topic_model).topics
        except Exception as error:  # noqa: BLE001 - missing, unreadable or not an artefact: one sentence
            raise ValueError(f"the topic model {settings.topic_model} cannot be loaded: {error}") from None
    newest = newest_manifest(output)
    lake_topics = run_topics(newest) if newest else {}
    changed = sorted(slug for slug, code in lake_topics.items() if topics.get(slug) != code)
    if changed:
        raise ValueError(f"the lake {output} has topics this model does not classify into with the same IPTC code "
                         f"({', '.join(changed)}): write its output to another lake")
    return topics


def run_pipeline(inputs: list[str], output: str, settings: Settings = Settings(),
                 beam_args: list[str] | None = None, run_id: str | None = None,
                 feeds: list[str] = (), now: datetime | None = None) -> dict:
    """Run the pipeline into `output`, holding its lock, and commit the run; returns the manifest.
    `now` is the time the run polls its feeds at and keeps state by (default: the real time)."""
    settings = dataclasses.replace(settings, ner_model=installed_ner_model(settings))  # before the lake is touched
    topics = topic_taxonomy(settings, output)
    with lake_lock(output):
        recover(output)
        started_at = now or datetime.now(timezone.utc)
        return _run_and_commit(inputs, list(feeds), output, settings, topics, beam_args or [],
                               run_id or new_run_id(started_at), started_at)


def _run_and_commit(inputs, feeds, output, settings, topics, beam_args, run_id, started_at) -> dict:
    options = pipeline_options(beam_args)
    staging = staging_root(output, run_id)
    started = time.monotonic()
    pipeline = beam.Pipeline(options=options)
    outputs = pipeline | "Ingest" >> IngestArticles(inputs, run_id, settings, feeds, output, started_at)
    outputs | "Write" >> WriteLake(staging, run_id, settings)
    result = pipeline.run()
    result.wait_until_finish()
    write_empty_tables(staging, run_id)
    # The feeds' new validators and seen entries, committed with the rows they account for.
    feed_state = fold_feed_states(output, run_id, settings.seen_entry_days, started_at) if feeds else None
    manifest = {
        "run_id": run_id,
        "started_at": started_at.isoformat(),
        "seconds": round(time.monotonic() - started, 3),
        "inputs": inputs,
        "feeds": feeds,
        "feed_state": feed_state,
        "output": output,
        "runner": options.view_as(StandardOptions).runner,
        "settings": dataclasses.asdict(settings),
        "ner_models": installed_ner_models(settings),
        "topics": topics,
        "beam_args": beam_args,
        "counts": count_outputs(staging),
        "metrics": stage_metrics(result),
    }
    manifest["manifest"] = commit_run(output, run_id, manifest)
    expire_signatures(signature_folder(output), settings)
    expire_story_memory(memory_folder(output), settings)
    return manifest
