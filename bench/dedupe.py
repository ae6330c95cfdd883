"""Benchmark of the dedupe stage: generated corpora with known copies, at 1k, 10k and 100k documents.

Documents are made of real news sentences (the BBC and story-cluster articles in ../shared/data),
so their shingles overlap as real text does. About 70% are originals (5% of them follow-ups that
reuse a paragraph or two of another original: same subject, not copies); the rest are copies of
originals chosen with a skew (a few stories are copied many times), one kind each:
  exact     the same text with other case, spacing and punctuation
  url       the original's URL with tracking parameters, text updated with a paragraph
  near      new headline, a dateline, a word in 80 or fewer edited, a sentence added at the end
  trimmed   the first 40-85% of the paragraphs, with a dateline
  wrapped   the text between a site's leftover navigation, share and copyright lines
  chain     a near copy of a near copy
Each run is the real `DedupeArticles` transform on Beam's FnApiRunner, from a JSONL file of
articles to the kept ids and duplicate rows; the time is the pipeline's wall time, and its CPU
time (this process: with one worker the runner works in it; on a shared machine the CPU time is
the steadier figure). Scores:
precision and recall of "this document is a duplicate", per kind, and the share of duplicates
whose `duplicate_of` is the group's expected keeper (earliest, then longest, then id).

usage: python bench/dedupe.py [--sizes 1000 10000 100000] [--workers N] [--set NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import random
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import apache_beam as beam  # noqa: E402

from bench import SHARED_DATA  # noqa: E402
from bench.overrides import add_set_argument, settings_with  # noqa: E402
from pipeline.article import Article  # noqa: E402
from pipeline.options import Settings  # noqa: E402
from pipeline.run import pipeline_options  # noqa: E402
from transforms.clean import WORD, content_hash  # noqa: E402
from transforms.dedupe import DedupeArticles  # noqa: E402

COPY_KINDS = ("exact", "url", "near", "trimmed", "wrapped", "chain")
COPY_SHARE = 0.3
FOLLOW_UP_SHARE = 0.05
START = datetime(2024, 3, 1, tzinfo=timezone.utc)
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])")
CITIES = ["LONDON", "WASHINGTON", "PARIS", "BERLIN", "TOKYO", "NEW YORK", "MOSCOW", "SEOUL"]
AGENCIES = ["Reuters", "AP", "AFP", "Bloomberg"]
BOILERPLATE = ["Home | News | World | Business | Sport", "Share this article", "Share on Facebook",
               "Sign up for our newsletter", "Most read", "Advertisement", "Skip to main content",
               "© 2024 {site}. All rights reserved.", "Read more from {site}", "Follow {site} on X"]


def sentence_pool() -> list[str]:
    sources = [SHARED_DATA / "topics" / "bbc.jsonl", SHARED_DATA / "story-clusters" / "articles.jsonl"]
    missing = [str(s) for s in sources if not s.exists()]
    if missing:
        sys.exit(f"bench/dedupe.py needs the shared evaluation data, absent here: {', '.join(missing)}")
    pool = []
    for source in sources:
        for line in source.read_text().splitlines():
            for paragraph in json.loads(line)["text"].split("\n"):
                pool.extend(s.strip() for s in SENTENCE.split(paragraph) if len(s.split()) >= 6)
    return sorted(set(pool))


@dataclasses.dataclass
class Doc:
    id: str
    title: str
    paragraphs: list[str]
    url: str
    published: datetime
    group: str  # the original's id: the truth
    kind: str  # original, follow-up, or a copy kind

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


class Generator:
    def __init__(self, pool: list[str], seed: int):
        self.pool = pool
        self.random = random.Random(seed)
        self.vocabulary = sorted({w for s in pool[:5000] for w in s.split() if w.isalpha()})

    def paragraph(self) -> str:
        return " ".join(self.random.sample(self.pool, self.random.randint(1, 3)))

    def original(self, number: int) -> Doc:
        paragraphs = [self.paragraph() for _ in range(self.random.randint(4, 9))]
        published = START + timedelta(minutes=self.random.randrange(30 * 24 * 60))
        doc_id = f"d{number:07d}"
        return Doc(doc_id, self.random.choice(self.pool)[:80], paragraphs,
                   f"https://site{number % 97}.example/news/{doc_id}", published, doc_id, "original")

    def follow_up(self, number: int, of: Doc) -> Doc:
        doc = self.original(number)
        reused = self.random.sample(of.paragraphs, max(1, len(of.paragraphs) // 4))
        doc.paragraphs = doc.paragraphs[:2] + reused + doc.paragraphs[2:]
        doc.kind = "follow-up"
        return doc

    def copy(self, number: int, of: Doc, kind: str) -> Doc:
        paragraphs = list(of.paragraphs)
        url = f"https://mirror{number % 89}.example/{number}"
        later = of.published + timedelta(minutes=self.random.randint(-120, 48 * 60))
        if kind == "exact":
            paragraphs = [re.sub(r"[,;]", "", p.upper()).replace(" ", "  ") for p in paragraphs]
        elif kind == "url":
            url = of.url.replace("https://", "http://") + "/?utm_source=feed&utm_medium=rss"
            paragraphs.append(self.paragraph())
        elif kind in ("near", "chain"):
            paragraphs = self.edited(paragraphs)
        elif kind == "trimmed":
            keep = max(1, round(len(paragraphs) * self.random.uniform(0.4, 0.85)))
            paragraphs = self.dateline(paragraphs[:keep])
        elif kind == "wrapped":
            site = f"mirror{number % 89}.example"
            lines = [b.format(site=site) for b in self.random.sample(BOILERPLATE, 6)]
            paragraphs = lines[:3] + paragraphs + lines[3:]
        return Doc(f"d{number:07d}", self.random.choice(self.pool)[:80], paragraphs, url, later, of.group, kind)

    def dateline(self, paragraphs: list[str]) -> list[str]:
        dateline = f"{self.random.choice(CITIES)} ({self.random.choice(AGENCIES)}) - "
        return [dateline + paragraphs[0]] + paragraphs[1:]

    def edited(self, paragraphs: list[str]) -> list[str]:
        paragraphs = self.dateline(paragraphs)
        words = sum(len(p.split()) for p in paragraphs)
        for _ in range(self.random.randint(1, max(2, words // 80))):
            at = self.random.randrange(len(paragraphs))
            words = paragraphs[at].split()
            words[self.random.randrange(len(words))] = self.random.choice(self.vocabulary)
            paragraphs[at] = " ".join(words)
        return paragraphs + [self.random.choice(self.pool)]

    def corpus(self, size: int) -> list[Doc]:
        originals: list[Doc] = []
        n_originals = round(size * (1 - COPY_SHARE))
        for number in range(n_originals):
            if originals and self.random.random() < FOLLOW_UP_SHARE:
                originals.append(self.follow_up(number, self.random.choice(originals)))
            else:
                originals.append(self.original(number))
        sources = [d for d in originals if d.kind == "original"]
        weights = [1 / (rank + 10) for rank in range(len(sources))]  # a few stories are copied often
        docs = list(originals)
        near_copies: dict[str, Doc] = {}
        for number in range(n_originals, size):
            kind = COPY_KINDS[number % len(COPY_KINDS)]
            of = self.random.choices(sources, weights)[0]
            if kind == "chain":
                of = near_copies.get(of.group, of)
            copy = self.copy(number, of, kind)
            if kind == "near":
                near_copies[of.group] = copy
            docs.append(copy)
        self.random.shuffle(docs)
        return docs


def to_article(line: str) -> Article:
    row = json.loads(line)
    return Article(id=row["id"], source=row["id"], url=row["url"], title=row["title"],
                   published=datetime.fromisoformat(row["published"]), text=row["text"],
                   word_count=len(WORD.findall(row["text"])), content_hash=content_hash(row["text"]),
                   run_id="bench", ingested_at=START)


def run_dedupe(docs: list[Doc], settings: Settings, workers: int) -> tuple[set[str], list[dict], float, float]:
    with tempfile.TemporaryDirectory() as folder:
        inputs = Path(folder) / "articles.jsonl"
        with inputs.open("w") as handle:
            for doc in docs:
                handle.write(json.dumps({"id": doc.id, "url": doc.url, "title": doc.title, "text": doc.text,
                                         "published": doc.published.isoformat()}) + "\n")
        args = [] if workers <= 1 else ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]
        started, cpu_started = time.perf_counter(), time.process_time()
        with beam.Pipeline(options=pipeline_options(args)) as pipeline:
            articles = pipeline | "Read" >> beam.io.ReadFromText(str(inputs)) | "Parse" >> beam.Map(to_article)
            kept, duplicates, _rejects = articles | "Dedupe" >> DedupeArticles(settings)
            kept | "KeptIds" >> beam.Map(lambda a: a.id) | "WriteKept" >> beam.io.WriteToText(f"{folder}/kept")
            (duplicates | "Rows" >> beam.Map(lambda d: json.dumps(d.to_row()))
             | "WriteDuplicates" >> beam.io.WriteToText(f"{folder}/duplicates"))
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        kept_ids = {line for path in glob.glob(f"{folder}/kept*") for line in Path(path).read_text().split()}
        rows = [json.loads(line) for path in glob.glob(f"{folder}/duplicates*")
                for line in Path(path).read_text().splitlines()]
    return kept_ids, rows, seconds, cpu_seconds


def expected_keepers(docs: list[Doc]) -> dict[str, str]:
    """Each document's expected keeper: its group's earliest, then longest, then smallest id."""
    groups: dict[str, list[Doc]] = defaultdict(list)
    for doc in docs:
        groups[doc.group].append(doc)
    keepers = {}
    for members in groups.values():
        best = min(members, key=lambda d: (d.published, -len(WORD.findall(d.text)), d.id))
        keepers.update({d.id: best.id for d in members})
    return keepers


def score(docs: list[Doc], kept: set[str], duplicates: list[dict]) -> dict:
    keepers = expected_keepers(docs)
    truth = {d.id for d in docs if keepers[d.id] != d.id}
    found = {row["id"]: row for row in duplicates}
    hits = truth & set(found)
    by_kind = Counter(d.kind for d in docs if d.id in truth)
    hits_by_kind = Counter(d.kind for d in docs if d.id in hits)
    return {
        "accounted": len(kept) + len(found) == len(docs) and not kept & set(found),
        "precision": len(hits) / max(1, len(found)),
        "recall": len(hits) / max(1, len(truth)),
        "right_keeper": sum(found[i]["duplicate_of"] == keepers[i] for i in hits) / max(1, len(hits)),
        "recall_by_kind": {k: hits_by_kind[k] / by_kind[k] for k in sorted(by_kind)},
        "false_by_kind": dict(Counter(next(d.kind for d in docs if d.id == i) for i in set(found) - truth)),
        "reported_kinds": dict(Counter(row["kind"] for row in duplicates)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    add_set_argument(parser, "minhash_bands=14 --set minhash_rows=8")
    args = parser.parse_args(argv)
    settings, overrides = settings_with(args.set)
    pool = sentence_pool()
    print(f"settings: {overrides or 'defaults'}; bands {settings.minhash_bands} x rows {settings.minhash_rows}, "
          f"jaccard {settings.near_duplicate_jaccard}, containment {settings.near_duplicate_containment}; "
          f"{args.workers} worker(s); sentence pool {len(pool)}")
    print(f"{'docs':>8} {'copies':>7} {'seconds':>8} {'docs/s':>7} {'cpu s':>7} {'precision':>9} {'recall':>7} "
          f"{'keeper':>7}  recall by kind")
    for size in args.sizes:
        docs = Generator(pool, args.seed).corpus(size)
        kept, duplicates, seconds, cpu_seconds = run_dedupe(docs, settings, args.workers)
        result = score(docs, kept, duplicates)
        copies = sum(d.kind in COPY_KINDS for d in docs)
        kinds = " ".join(f"{k} {v:.3f}" for k, v in result["recall_by_kind"].items())
        print(f"{size:>8} {copies:>7} {seconds:>8.1f} {size / seconds:>7.0f} {cpu_seconds:>7.1f} {result['precision']:>9.4f} "
              f"{result['recall']:>7.4f} {result['right_keeper']:>7.4f}  {kinds}", flush=True)
        if result["false_by_kind"] or not result["accounted"]:
            print(f"{'':>8} false duplicates by true kind: {result['false_by_kind']}; "
                  f"every doc kept or duplicate once: {result['accounted']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
