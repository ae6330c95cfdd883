"""Story clustering scored on labelled events: ../shared/data/story-clusters/articles.jsonl
(188 articles in 32 events, Giveme5W1H news_cluster; see its SOURCE.md).

The articles go through the real transforms, Clean → Dedupe → Entities → Stories, on Beam's
FnApiRunner. A syndicated copy that dedupe removes belongs to its keeper's story. Prints the
adjusted Rand index and B-cubed precision, recall and F1 of `story_id` against `event`, the
duplicates dedupe found (with whether each is in its keeper's event) beside the pairs that are
copies by their exact shingle sets, and the same scores for variations of the settings with --set.
--sweep then scores the stories stage alone on the same tagged articles for a grid of its two
link thresholds, the trade-off behind their defaults.

usage: python bench/stories.py [--set NAME=VALUE ...] [--sweep]
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import math
import pickle
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import apache_beam as beam  # noqa: E402

from bench import SHARED_DATA  # noqa: E402
from bench.overrides import add_set_argument, settings_with  # noqa: E402
from pipeline.article import Article  # noqa: E402
from pipeline.options import Settings  # noqa: E402
from pipeline.run import installed_ner_model, pipeline_options  # noqa: E402
from transforms.clean import CleanArticles  # noqa: E402
from transforms.dedupe import DedupeArticles  # noqa: E402
from transforms.entities import TagEntities  # noqa: E402
from transforms.stories import AssignStories  # noqa: E402

DATA = SHARED_DATA / "story-clusters" / "articles.jsonl"


def load_articles() -> tuple[list[Article], dict[str, str]]:
    if not DATA.exists():
        sys.exit(f"bench/stories.py needs {DATA}, absent here: the shared evaluation data is only beside CI's clone")
    articles, events = [], {}
    for line in DATA.read_text().splitlines():
        row = json.loads(line)
        published = datetime.fromisoformat(row["date_publish"]).replace(tzinfo=timezone.utc)
        articles.append(Article(id=row["id"][:20], source=row["url"], url=row["url"], title=row["title"],
                                published=published, raw=row["text"], run_id="bench",
                                ingested_at=datetime.now(timezone.utc)))
        events[row["id"][:20]] = row["event"]
    return articles, events


def run_stories(articles: list[Article], settings: Settings) -> tuple[dict[str, str], list[dict], list[Article], float]:
    """Each article's story id (a duplicate's is its keeper's), the duplicate rows, the tagged
    articles that reached stories, and the seconds."""
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        with beam.Pipeline(options=pipeline_options([])) as pipeline:
            clean, _rejects = pipeline | beam.Create(articles) | "Clean" >> CleanArticles(settings)
            kept, duplicates, _rejects = clean | "Dedupe" >> DedupeArticles(settings)
            tagged, _rejects = kept | "Entities" >> TagEntities(settings)
            (tagged | "Pickle" >> beam.Map(lambda a: pickle.dumps(a).hex())
             | "WriteTagged" >> beam.io.WriteToText(f"{folder}/tagged"))
            stories = tagged | "Stories" >> AssignStories(settings)
            (stories | "StoryIds" >> beam.Map(lambda a: f"{a.id} {a.story_id}")
             | "WriteStories" >> beam.io.WriteToText(f"{folder}/stories"))
            (duplicates | "Rows" >> beam.Map(lambda d: json.dumps(d.to_row()))
             | "WriteDuplicates" >> beam.io.WriteToText(f"{folder}/duplicates"))
        seconds = time.perf_counter() - started
        story = read_story_ids(folder)
        rows = [json.loads(line) for path in glob.glob(f"{folder}/duplicates*")
                for line in Path(path).read_text().splitlines()]
        tagged = [pickle.loads(bytes.fromhex(line)) for path in glob.glob(f"{folder}/tagged*")
                  for line in Path(path).read_text().splitlines()]
    for row in rows:
        story[row["id"]] = story[row["duplicate_of"]]
    return story, rows, tagged, seconds


def stories_only(tagged: list[Article], duplicates: list[dict], settings: Settings) -> dict[str, str]:
    """The story ids that the stories stage alone gives the same tagged articles under `settings`."""
    with tempfile.TemporaryDirectory() as folder:
        with beam.Pipeline(options=pipeline_options([])) as pipeline:
            (pipeline | beam.Create(tagged) | "Stories" >> AssignStories(settings)
             | "StoryIds" >> beam.Map(lambda a: f"{a.id} {a.story_id}")
             | "WriteStories" >> beam.io.WriteToText(f"{folder}/stories"))
        story = read_story_ids(folder)
    for row in duplicates:
        story[row["id"]] = story[row["duplicate_of"]]
    return story


def read_story_ids(folder: str) -> dict[str, str]:
    return dict(line.split() for path in glob.glob(f"{folder}/stories*")
                for line in Path(path).read_text().splitlines())


def scores(story: dict[str, str], events: dict[str, str]) -> tuple[int, float, float, float, float]:
    """Stories, ARI and B-cubed precision, recall, F1 of the articles given a story."""
    scored = sorted(i for i in events if i in story)
    predicted, gold = [story[i] for i in scored], [events[i] for i in scored]
    return (len(set(predicted)), adjusted_rand_index(predicted, gold), *b_cubed(predicted, gold))


def adjusted_rand_index(predicted: list[str], gold: list[str]) -> float:
    def pairs(n: int) -> float:
        return n * (n - 1) / 2

    both = sum(pairs(n) for n in Counter(zip(predicted, gold)).values())
    left = sum(pairs(n) for n in Counter(predicted).values())
    right = sum(pairs(n) for n in Counter(gold).values())
    expected = left * right / pairs(len(gold))
    best = (left + right) / 2
    return 1.0 if best == expected else (both - expected) / (best - expected)


def b_cubed(predicted: list[str], gold: list[str]) -> tuple[float, float, float]:
    clusters: dict[str, set[int]] = defaultdict(set)
    classes: dict[str, set[int]] = defaultdict(set)
    for i, (p, g) in enumerate(zip(predicted, gold)):
        clusters[p].add(i)
        classes[g].add(i)
    precision = recall = 0.0
    for i, (p, g) in enumerate(zip(predicted, gold)):
        shared = len(clusters[p] & classes[g])
        precision += shared / len(clusters[p])
        recall += shared / len(classes[g])
    precision, recall = precision / len(gold), recall / len(gold)
    return precision, recall, 2 * precision * recall / (precision + recall)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_set_argument(parser, "story_similarity=0.25")
    parser.add_argument("--sweep", action="store_true",
                        help="also score a grid of story_similarity and story_neighbour_similarity")
    args = parser.parse_args(argv)
    settings, overrides = settings_with(args.set)
    settings = dataclasses.replace(settings, ner_model=installed_ner_model(settings))
    articles, events = load_articles()
    story, duplicates, tagged, seconds = run_stories(articles, settings)
    print(f"settings: {overrides or 'defaults'}")
    ids = sorted(events)
    rejected = [i for i in ids if i not in story]
    print(f"{len(ids)} articles, {len(set(events.values()))} events, {len(rejected)} rejected by clean "
          f"(no article text in the page); {seconds:.1f} s for clean, dedupe, entities, stories")
    print(f"{'scored articles':<44}{'stories':>8}{'ARI':>8}{'B3 P':>8}{'B3 R':>8}{'B3 F1':>8}")
    story_of_rejected = {i: f"rejected {i}" for i in rejected}
    for label, scored in ((f"the {len(ids) - len(rejected)} given a story", [i for i in ids if i in story]),
                          (f"all {len(ids)}, each reject a story of its own", ids)):
        predicted = [story.get(i) or story_of_rejected[i] for i in scored]
        gold = [events[i] for i in scored]
        precision, recall, f1 = b_cubed(predicted, gold)
        print(f"{label:<44}{len(set(predicted)):>8}{adjusted_rand_index(predicted, gold):>8.4f}"
              f"{precision:>8.4f}{recall:>8.4f}{f1:>8.4f}")
    same = sum(events[d["id"]] == events[d["duplicate_of"]] for d in duplicates)
    print(f"dedupe: {len(duplicates)} duplicates, {same} in their keeper's event; kinds "
          f"{dict(Counter(d['kind'] for d in duplicates))}; similarity "
          f"{min((d['similarity'] for d in duplicates), default=math.nan):.2f}-"
          f"{max((d['similarity'] for d in duplicates), default=math.nan):.2f}")
    print("copy pairs by exact shingle sets (all pairs of the clean texts), at dedupe's thresholds:")
    for first, second, jaccard, contained in copy_pairs(articles, settings):
        found = {first, second} & {d["id"] for d in duplicates}
        print(f"  {first} {second} Jaccard {jaccard:.2f} containment {contained:.2f} "
              f"same event {events[first] == events[second]}, dedupe dropped {len(found)} of the two")
    if args.sweep:
        sweep(tagged, duplicates, events, settings)
    return 0


SWEEP_SIMILARITY = (0.35, 0.3, 0.25, 0.2)
SWEEP_NEIGHBOUR_SIMILARITY = (0.15, 0.12, 0.1, 0.08, 0.06)


def sweep(tagged: list[Article], duplicates: list[dict], events: dict[str, str], settings: Settings) -> None:
    """Each pair of link thresholds scored on the same tagged articles (the rest of `settings` kept)."""
    print("sweep of the stories stage alone on the same tagged articles (articles given a story):")
    print(f"{'story_similarity':>18}{'neighbour':>11}{'stories':>9}{'ARI':>8}{'B3 P':>8}{'B3 R':>8}{'B3 F1':>8}")
    for similarity in SWEEP_SIMILARITY:
        for neighbour in SWEEP_NEIGHBOUR_SIMILARITY:
            varied = dataclasses.replace(settings, story_similarity=similarity,
                                         story_neighbour_similarity=neighbour)
            stories, ari, precision, recall, f1 = scores(stories_only(tagged, duplicates, varied), events)
            print(f"{similarity:>18.2f}{neighbour:>11.2f}{stories:>9}{ari:>8.4f}{precision:>8.4f}{recall:>8.4f}{f1:>8.4f}")


def copy_pairs(articles: list[Article], settings: Settings) -> list[tuple[str, str, float, float]]:
    """Pairs that are copies by the exact Jaccard or containment of their shingle sets."""
    from transforms.clean import CleanFn
    from transforms.minhash import shingles

    cleaner = CleanFn(settings)
    cleaner.setup()
    sets = {}
    for article in articles:
        try:
            sets[article.id] = shingles(cleaner.clean(article).text, settings.shingle_words)
        except Exception:  # noqa: BLE001 - rejected by clean, as in the pipeline
            continue
    pairs = []
    ids = sorted(sets)
    for at, first in enumerate(ids):
        for second in ids[at + 1:]:
            shared = len(sets[first] & sets[second])
            jaccard = shared / len(sets[first] | sets[second])
            contained = shared / min(len(sets[first]), len(sets[second]))
            if jaccard >= settings.near_duplicate_jaccard or (
                    jaccard >= settings.containment_min_jaccard and contained >= settings.near_duplicate_containment):
                pairs.append((first, second, jaccard, contained))
    return pairs


if __name__ == "__main__":
    sys.exit(main())
