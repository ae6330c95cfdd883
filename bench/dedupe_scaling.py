"""The dedupe stage alone on N generated articles, to see how its cost grows with N.

    python bench/dedupe_scaling.py N [--no-dedupe]

Runs a pipeline that makes N clean articles (bench/corpus.py's generator, with its share of
copies) inside the pipeline and sends them through `DedupeArticles`; with --no-dedupe, the same
pipeline without it, whose cost is subtracted. Prints the kept and duplicate counts as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import apache_beam as beam  # noqa: E402
from apache_beam.metrics import Metrics  # noqa: E402

from bench.corpus import ArticleMaker, url_of  # noqa: E402
from pipeline.article import Article, article_id  # noqa: E402
from pipeline.options import Settings  # noqa: E402
from pipeline.run import pipeline_options  # noqa: E402
from transforms.article_checks import WORD  # noqa: E402
from transforms.clean import content_hash  # noqa: E402
from transforms.dedupe import DedupeArticles  # noqa: E402

SHARDS = 16


class MakeArticles(beam.DoFn):
    """Article numbers to clean `Article`s, as the clean stage would give them."""

    def setup(self):
        self.maker = ArticleMaker()

    def process(self, number: int):
        document, _kind = self.maker.document(number)
        text = "\n\n".join(document.paragraphs)
        source = f"generated/{number}"
        yield Article(id=article_id(source), source=source, url=url_of(document), title=document.title,
                      published=document.published, language="en", text=text,
                      word_count=len(WORD.findall(text)), content_hash=content_hash(text), run_id="bench")


class CountAs(beam.DoFn):
    def __init__(self, name: str):
        self.counter = Metrics.counter("bench", name)

    def process(self, _element):
        self.counter.inc()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("docs", type=int)
    parser.add_argument("--no-dedupe", action="store_true", help="make the articles only")
    args = parser.parse_args(argv)
    pipeline = beam.Pipeline(options=pipeline_options([]))
    articles = (
        pipeline
        | "Shards" >> beam.Create(range(SHARDS))
        | "Numbers" >> beam.FlatMap(lambda shard: range(shard, args.docs, SHARDS))
        | "Make" >> beam.ParDo(MakeArticles())
    )
    if args.no_dedupe:
        outputs = {"made": articles}
    else:
        kept, duplicates, _rejects = articles | "Dedupe" >> DedupeArticles(Settings())
        outputs = {"kept": kept, "duplicates": duplicates}
    for name, collection in outputs.items():
        collection | f"Count{name}" >> beam.ParDo(CountAs(name))
    result = pipeline.run()
    result.wait_until_finish()
    counts = {c.key.metric.name: c.committed for c in result.metrics().query()["counters"]
              if c.key.metric.namespace == "bench"}
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
