"""Throughput of the entity stage against a bare `nlp.pipe` loop over the same texts.

    python bench/entities.py [--copies N] [--repeats N]

The texts are the CoNLL++ test documents (../shared/data/ner-conll), else the seeds' clean text,
repeated --copies times. In one process, interleaved, best of --repeats:

  bare      `for doc in nlp.pipe(texts): doc.ents`, the model already loaded
  stage     `TagEntities` in a Beam pipeline on the FnApiRunner (what `newsbeam run` uses): the
            time a pipeline over the articles twice over takes beyond one over them once (the
            best of each), so that what does not grow with the input (starting the runner,
            loading the model in `setup`) cancels out and what is left is the stage's cost per
            article, Beam's batching and element handling included
  dofn      `TagBatch.process` called directly on batches: the stage's work without Beam

and reports words per second for each and the stage's share of the bare loop's speed. Times are
this process's CPU time (Beam's FnApiRunner runs in-process, on threads of this process), not
wall-clock time: on a machine shared with other jobs the wall clock measures the neighbours.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import apache_beam as beam

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.conll import CONLL, read_documents  # noqa: E402
from pipeline.article import Article  # noqa: E402
from pipeline.options import DEFAULT_RUNNER, Settings  # noqa: E402
from pipeline.run import pipeline_options  # noqa: E402
from pipeline.run import installed_ner_model  # noqa: E402
from transforms.entities import TagBatch, TagEntities, load_ner  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def corpus_texts() -> tuple[str, list[str]]:
    if CONLL.exists():
        return "CoNLL++ test documents", [d.text for d in read_documents(CONLL / "conllpp_test.txt")]
    from transforms.extract_text import extract_plain_text

    seeds = sorted((REPO / "seeds").glob("*.txt"))
    return "seed articles", [extract_plain_text(Article(id=p.name, source=str(p), raw=p.read_text())).text
                             for p in seeds]


def articles_of(texts: list[str]) -> list[Article]:
    return [Article(id=f"{i:06d}", source=f"bench/{i}", text=t, language="en", word_count=len(t.split()))
            for i, t in enumerate(texts)]


def bare_seconds(nlp, texts: list[str], batch_size: int) -> float:
    started = time.process_time()
    for doc in nlp.pipe(texts, batch_size=batch_size):
        doc.ents  # noqa: B018 - what a caller of the bare model reads
    return time.process_time() - started


def dofn_seconds(articles: list[Article], settings: Settings, batch_size: int) -> float:
    tagger = TagBatch(settings)
    tagger.setup()
    started = time.process_time()
    for first in range(0, len(articles), batch_size):
        for _ in tagger.process(articles[first:first + batch_size]):
            pass
    return time.process_time() - started


def pipeline_seconds(articles: list[Article], settings: Settings) -> float:
    started = time.process_time()
    with beam.Pipeline(options=pipeline_options([f"--runner={DEFAULT_RUNNER}"])) as pipeline:
        tagged, _rejects = pipeline | beam.Create(articles, reshuffle=False) | TagEntities(settings)
        _ = (tagged | beam.combiners.Count.Globally()
             | beam.Map(lambda n, expected=len(articles): _check(n, expected)))
    return time.process_time() - started


def _check(count: int, expected: int) -> None:
    if count != expected:
        raise RuntimeError(f"the stage returned {count} articles of {expected}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=1, help="times the texts are repeated (default 1)")
    parser.add_argument("--repeats", type=int, default=5, help="timing runs, the best is kept (default 5)")
    args = parser.parse_args()
    settings = Settings(ner_model=installed_ner_model(Settings()))
    name, texts = corpus_texts()
    texts = texts * args.copies
    articles = articles_of(texts)
    words = sum(a.word_count for a in articles)
    nlp = load_ner(settings.ner_model)
    print(f"{len(texts)} texts ({name} x{args.copies}), {words} words; model {settings.ner_model} "
          f"{nlp.meta['version']}")
    best = dict.fromkeys(("bare", "dofn", "pipeline x1", "pipeline x2"), float("inf"))
    for run in range(args.repeats):
        timings = {
            "bare": bare_seconds(nlp, texts, settings.ner_batch_size),
            "dofn": dofn_seconds(articles, settings, settings.ner_batch_size),
            "pipeline x1": pipeline_seconds(articles, settings),
            "pipeline x2": pipeline_seconds(articles * 2, settings),
        }
        print(f"run {run + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
        best = {k: min(best[k], timings[k]) for k in best}
    stage = best["pipeline x2"] - best["pipeline x1"]
    speed = {"bare": words / best["bare"], "dofn": words / best["dofn"], "stage": words / stage}
    print(f"\nwords/s (best of {args.repeats} each): bare nlp.pipe {speed['bare']:.0f}, "
          f"stage in Beam {speed['stage']:.0f} ({speed['stage'] / speed['bare']:.1%} of bare), "
          f"stage's DoFn alone {speed['dofn']:.0f} ({speed['dofn'] / speed['bare']:.1%} of bare)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
