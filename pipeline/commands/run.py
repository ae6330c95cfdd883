"""`newsbeam run`: ingest files into a Parquet lake."""

from __future__ import annotations

import glob
import os
import time

from pipeline.options import Settings

HELP = "ingest files into a Parquet lake"
DESCRIPTION = """\
Read INPUT files, directories (recursively) or globs (.txt, .html, .htm, each also .gz) and
write a Parquet lake to --output:

  DIR/articles/topic=<topic>/*.parquet   one row per kept article
  DIR/duplicates/*.parquet               one row per input dropped as a copy of a kept article
  DIR/rejects/*.parquet                  one row per input that could not be used, with the reason
  DIR/_runs/<run_id>.json                the run's counts, timings and options

Every input lands in exactly one of the three tables. A second run into the same DIR adds its
own files beside the first run's. Any other --flag is passed to Apache Beam (for example
--runner, --direct_num_workers); by default the job runs locally on Beam's FnApiRunner, which
never touches the network.

example:
  newsbeam run seeds/ --output out
  newsbeam run 'exports/**/*.html.gz' notes.txt --output lake \\
      --direct_running_mode=multi_processing --direct_num_workers=2
"""


def add_arguments(parser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="a file, a directory or a glob")
    parser.add_argument("--output", "-o", required=True, metavar="DIR", help="the lake to write to")
    defaults = Settings()
    parser.add_argument("--min-words", type=int, default=defaults.min_words,
                        help=f"fewer words is not an article, it is rejected (default {defaults.min_words})")
    parser.add_argument("--ner-model", default=defaults.ner_model,
                        help=f"spaCy model for named entities (default {defaults.ner_model})")
    parser.add_argument("--topic-threshold", type=float, default=None,
                        help="below this probability the topic is 'other' (default: the model's own)")
    parser.add_argument("--write-shards", type=int, default=defaults.write_shards,
                        help=f"Parquet files per topic per run (default {defaults.write_shards})")


def main(args, beam_args: list[str]) -> int:
    from pipeline.run import run_pipeline

    stray = next((a for a in beam_args if not a.startswith("-")), None)
    if stray is not None:
        raise ValueError(f"unexpected argument '{stray}' (inputs come before the --flags)")
    for given in args.inputs:
        if "://" not in given and not glob.has_magic(given) and not os.path.exists(given):
            raise ValueError(f"input '{given}' does not exist")
    settings = Settings(min_words=args.min_words, ner_model=args.ner_model,
                        topic_threshold=args.topic_threshold, write_shards=args.write_shards)
    started = time.monotonic()
    manifest = run_pipeline(args.inputs, args.output, settings, beam_args)
    print(summary_table(manifest, time.monotonic() - started))
    return 0


def summary_table(manifest: dict, seconds: float) -> str:
    counts = manifest["counts"]
    metrics = manifest["metrics"]
    read = metrics.get("read", {})
    lines = [
        f"run {manifest['run_id']}: {read.get('files', 0)} files, {counts['inputs']} articles in "
        f"{seconds:.1f} s ({counts['inputs'] / max(seconds, 1e-9):.1f} articles/s)",
        "",
        f"{'stage':<10}{'rejected':>10}{'seconds':>10}",
    ]
    for stage in ("read", "clean", "dedupe", "entities", "topics"):
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
