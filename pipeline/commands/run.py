"""`newsbeam run`: ingest files into a Parquet lake."""

from __future__ import annotations

import argparse
import functools
import glob
import os
import time
from datetime import timedelta

from pipeline.commands.durations import duration, duration_text
from pipeline.logs import LOG
from pipeline.options import Settings
from transforms.paths import is_local

ONE_DAY = timedelta(days=1)
HELP = "ingest files and feeds into a Parquet lake"
DESCRIPTION = """\
Read INPUT files, directories (recursively) or globs, and the live feeds named by --feeds, and
write a Parquet lake to --output. Files: .txt, .html, .htm, .xml, .rss, .atom (feed files, one
article per entry), .json, .jsonl (one article object a line), each also .gz. --feeds takes
feed URLs (RSS, Atom, RDF, JSON Feed), text files of URLs (one a line) and OPML lists.

  DIR/articles/topic=<topic>/*.parquet   one row per kept article
  DIR/duplicates/*.parquet               one row per input dropped as a copy of a kept article
  DIR/rejects/*.parquet                  one row per input that could not be used, with the reason
  DIR/_runs/<run_id>.json                the run's counts, timings and options

Every input lands in exactly one of the three tables. A second run into the same DIR adds its
own files beside the first run's. Feeds are fetched politely (conditional GET, retries with
backoff, a deadline and a size cap per request) and only from public addresses; what a run
learned about them (validators, entries seen) is kept in DIR/_state/, so a feed that has not
changed costs one 304 and gives nothing twice. Any other --flag is passed to Apache Beam (for example
--runner, --direct_num_workers); by default the job runs locally on Beam's FnApiRunner, which
never touches the network.

With --streaming, the same stages run as one unbounded job that polls the feeds for ever, each
feed when it is due, and commits each event-time window of its output as a run of the lake; it
needs a runner that executes streaming (Flink, Dataflow). --stop-after runs it bounded, here.

example:
  newsbeam run seeds/ --output out
  newsbeam run --feeds subscriptions.opml https://example.org/rss.xml --output lake
  newsbeam run 'exports/**/*.html.gz' notes.txt --output lake \\
      --direct_running_mode=multi_processing --direct_num_workers=2
  newsbeam run articles/ --output my-lake --topic-model my-model/topics-my-v1.json
  newsbeam run --streaming --feeds subscriptions.opml --output gs://bucket/lake \\
      --runner DataflowRunner --project my-project --region europe-west1 --temp_location gs://bucket/tmp
"""


def add_arguments(parser) -> None:
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="a file, a directory or a glob (optional with --feeds)")
    parser.add_argument("--output", "-o", required=True, metavar="DIR", help="the lake to write to")
    parser.add_argument("--feeds", nargs="+", action="extend", default=[], metavar="FEEDS",
                        help="feed URLs, text files of feed URLs, or OPML lists (put INPUTs before this flag)")
    parser.add_argument("--streaming", action="store_true",
                        help="poll --feeds for ever as one unbounded streaming job, on a runner that executes "
                             "streaming (--runner FlinkRunner or DataflowRunner)")
    parser.add_argument("--stop-after", type=duration, metavar="DURATION",
                        help="with --streaming: stop polling after this long (like 10m) and finish; this runs "
                             "here, bounded, on the local runner")
    add_settings_arguments(parser)


def add_settings_arguments(parser) -> None:
    """The flags that set how feeds are fetched and articles processed (run and watch)."""
    parser.add_argument("--allow-private-addresses", action="store_true",
                        help="also fetch feeds from loopback, private and link-local addresses")
    parser.add_argument("--contact", metavar="URL_OR_EMAIL",
                        help="named in the User-Agent of feed requests, so that a site owner can reach you")
    defaults = Settings()
    parser.add_argument("--min-words", type=int, default=defaults.min_words,
                        help=f"fewer words is not an article, it is rejected (default {defaults.min_words})")
    parser.add_argument("--ner-model", default=defaults.ner_model,
                        help=f"spaCy model for named entities (default {defaults.ner_model})")
    parser.add_argument("--topic-model", metavar="JSON",
                        help="a topic model retrained on your own labelled articles and taxonomy by "
                             "bench/train_topics.py, its .json (default: the packaged model, docs/topics.md)")
    parser.add_argument("--topic-threshold", type=float, default=None,
                        help="below this probability the topic is 'other' (default: the model's own)")
    parser.add_argument("--write-shards", type=int, default=defaults.write_shards,
                        help=f"Parquet files per topic per run (default {defaults.write_shards})")
    for flag, days, what in (
        ("--dedupe-horizon", defaults.dedupe_horizon_days, "a copy of an article an earlier run kept at most this long ago is a duplicate"),
        ("--story-memory", defaults.story_memory_days, "an article can join the story of articles an earlier run kept at most this long ago"),
    ):
        default = days * ONE_DAY
        parser.add_argument(flag, type=duration, default=default, metavar="DURATION",
                            help=f"{what} (default {duration_text(default.total_seconds())})")


def main(args, beam_args: list[str]) -> int:
    from pipeline.run import run_pipeline

    check_beam_args(beam_args, "inputs come before the --flags")
    if not args.inputs and not args.feeds:
        raise ValueError("nothing to read: give INPUT files or --feeds")
    for given in args.inputs:
        if is_local(given) and not glob.has_magic(given) and not os.path.lexists(given):  # a broken link: a reject
            raise ValueError(f"input '{given}' does not exist")
    check_feed_lists(args.feeds)
    if args.streaming:
        return stream(args, beam_args)
    if args.stop_after:
        raise ValueError("--stop-after goes with --streaming")
    started = time.monotonic()
    manifest = run_pipeline(args.inputs, args.output, settings_from(args), beam_args, feeds=args.feeds)
    print(summary_table(manifest, time.monotonic() - started))
    return 0


def stream(args, beam_args: list[str]) -> int:
    from pipeline.streaming import run_streaming, stream_runs

    if args.inputs or not args.feeds:
        raise ValueError("--streaming reads --feeds, and no INPUT files")
    stream_id, result = run_streaming(args.feeds, args.output, settings_from(args), beam_args,
                                      stop_after=args.stop_after)
    if not args.stop_after:
        print(f"stream {stream_id} started ({result.state}); each window it writes is committed to "
              f"{args.output} as a run named <window start>-{stream_id}-s<shard>-p<pane>")
        return 0
    runs = stream_runs(args.output, stream_id)
    counts = {name: sum(run["counts"][name] for run in runs) for name in ("kept", "duplicates", "rejected")}
    print(f"stream {stream_id}: {len(runs)} window runs committed to {args.output}, "
          f"kept {counts['kept']}, duplicates {counts['duplicates']}, rejected {counts['rejected']}")
    return 0


def joined_beam_values(argv: list[str]) -> list[str]:
    """argv with each Beam flag given as `--flag value` written `--flag=value`, as Beam would read
    it, so that the value is not taken for an INPUT. Only flags that Beam's options define with a
    value are joined: `--streaming` takes none, and none of newsbeam's own flags is Beam's."""
    joined, position = [], 0
    while position < len(argv):
        word, value = argv[position], argv[position + 1] if position + 1 < len(argv) else "-"
        if word == "--":
            return joined + argv[position:]
        if word.startswith("--") and "=" not in word and not value.startswith("-") and takes_value(word, value):
            joined.append(f"{word}={value}")
            position += 2
        else:
            joined.append(word)
            position += 1
    return joined


def takes_value(flag: str, value: str) -> bool:
    if flag == "--help":
        return False  # Beam's parser would print its own help and exit
    try:
        _, unknown = beam_parser().parse_known_args([flag, value])
    except argparse.ArgumentError:
        return True  # Beam's flag, with a value check_beam_args refuses
    return not unknown


def check_beam_args(beam_args: list[str], hint: str) -> None:
    """Every word is a flag or a flag's value, and every Beam flag's value is one Beam takes; a
    flag nobody defines (a typo?) is a warning."""
    stray = next((a for a in beam_args if not a.startswith("-")), None)
    if stray is not None:
        raise ValueError(f"unexpected argument '{stray}' ({hint})")
    try:
        _, unknown = beam_parser().parse_known_args(beam_args)
    except argparse.ArgumentError as error:
        raise ValueError(f"Apache Beam's {error}") from None
    for flag in unknown:  # a runner may read flags that Beam's Python side does not define (Flink's)
        LOG.warning("%s is neither a flag of newsbeam's nor one of Beam's Python options; it is passed to "
                    "the runner as given", flag.split("=")[0])


@functools.cache
def beam_parser() -> argparse.ArgumentParser:
    """The parser of all Beam's pipeline options, raising ArgumentError instead of printing its
    usage (130 lines) and exiting."""
    from apache_beam.options.pipeline_options import PipelineOptions

    parsers = []
    PipelineOptions([]).get_all_options(add_extra_args_fn=parsers.append)
    parsers[0].exit_on_error = False
    return parsers[0]


def check_feed_lists(feeds: list[str]) -> None:
    for given in feeds:
        if is_local(given) and not os.path.exists(given):
            raise ValueError(f"feed list '{given}' does not exist (a feed URL starts with http:// or https://)")


def settings_from(args, **more) -> Settings:
    """Settings from the flags of `add_settings_arguments`, and `more`."""
    if args.min_words < 0:
        raise ValueError(f"--min-words is a number of words, 0 or more, not {args.min_words}")
    if args.topic_threshold is not None and not 0 <= args.topic_threshold <= 1:
        raise ValueError(f"--topic-threshold is a probability, between 0 and 1, not {args.topic_threshold}")
    if args.write_shards < 1:
        raise ValueError(f"--write-shards is a number of files, 1 or more, not {args.write_shards}")
    topic_model = args.topic_model
    if topic_model and is_local(topic_model):  # the workers may not share this folder: an absolute path
        from transforms.topic_model import artefact_file  # imported here: it loads numpy

        topic_model = os.path.abspath(topic_model)
        if not os.path.isfile(artefact_file(topic_model, ".json")):
            raise ValueError(f"--topic-model {args.topic_model} does not exist (it is the .json that "
                             "bench/train_topics.py writes)")
    return Settings(min_words=args.min_words, ner_model=args.ner_model,
                    topic_model=topic_model, topic_threshold=args.topic_threshold, write_shards=args.write_shards,
                    dedupe_horizon_days=args.dedupe_horizon / ONE_DAY,
                    story_memory_days=args.story_memory / ONE_DAY,
                    allow_private_addresses=args.allow_private_addresses, contact=args.contact, **more)


def summary_table(manifest: dict, seconds: float) -> str:
    counts = manifest["counts"]
    metrics = manifest["metrics"]
    read = metrics.get("read", {})
    feeds = ""
    if manifest.get("feeds"):
        feeds = (f"{read.get('feeds', 0)} feeds ({read.get('feeds_unchanged', 0)} unchanged, "
                 f"{read.get('feed_entries_seen_before', 0)} entries seen before), ")
    lines = [
        f"run {manifest['run_id']}: {read.get('files', 0)} files, {feeds}{counts['inputs']} articles in "
        f"{seconds:.1f} s ({counts['inputs'] / max(seconds, 1e-9):.1f} articles/s)",
        "",
        f"{'stage':<10}{'rejected':>10}{'seconds':>10}",
    ]
    for stage in ("read", "clean", "dedupe", "entities", "topics", "stories"):
        rejected = counts["rejected_by_stage"].get(stage, 0)
        msecs = metrics.get(stage, {}).get("msecs")
        lines.append(f"{stage:<10}{rejected:>10}{'' if msecs is None else f'{msecs / 1000:.1f}':>10}")
    lines += [
        "",
        f"kept {counts['kept']}, duplicates {counts['duplicates']}, rejected {counts['rejected']}",
        "topics: " + (", ".join(f"{t} {n}" for t, n in counts["per_topic"].items()) or "none"),
        f"output: {manifest['output']} (manifest {manifest['manifest']})",
    ]
    return "\n".join(lines)
